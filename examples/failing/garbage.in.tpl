ptf ~
# input of the garbage test model (writes asterisks where y belongs)
x = ~         x          ~
