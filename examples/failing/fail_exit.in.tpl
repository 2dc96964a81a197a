ptf ~
# input of the fail_exit test model (exits with status 3 after writing a valid output)
x = ~         x          ~
