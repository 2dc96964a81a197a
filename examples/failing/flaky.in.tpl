ptf ~
# input of the flaky test model (fails whenever x > 0.5)
x = ~         x          ~
