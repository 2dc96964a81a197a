ptf ~
# input of the hang test model (never finishes and writes nothing)
x = ~         x          ~
