ptf ~
k1 = ~   k1   ~
k2 = ~   k2   ~
