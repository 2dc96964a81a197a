ptf
k1 = ~   k1   ~
