ptf ~
# gwflow.in: input to gwflow, steady-state 2-D confined groundwater flow.
# Written by pestrun from gwflow.in.tpl; do not edit gwflow.in by hand.
# Grid (fixed in the program): 20 rows x 25 columns of 100 m cells, one confined layer,
# four conductivity zones. Columns 1 and 25 are constant-head river cells. Units: m and d.

BEGIN LPF
# horizontal hydraulic conductivity of each zone (m/d) and layer thickness (m)
  hk1      ~       hk1        ~
  hk2      ~       hk2        ~
  hk3      ~       hk3        ~
  hk4      ~       hk4        ~
  thick    20.0
END LPF

BEGIN RCH
# recharge rate (m/d), applied to every variable-head cell
  rech     ~       rch        ~
END RCH

BEGIN CHD
# river stage (m) along column 1 (west) and column 25 (east)
  west     100.0
  east     95.0
END CHD

BEGIN WEL
# name     row  col   rate (m3/d, negative = pumping)
  pw1       13   13   -600.0
END WEL

BEGIN HOB
# name     row  col   observed head (m)
  h01         3    4   100.61911228
  h02         7    8   100.917534833
  h03        12    4   100.463427705
  h04         2   14   103.313664649
  h05         5   19   100.377808656
  h06         9   18   100.64244043
  h07        12   10   100.588797437
  h08        17    8   100.576677173
  h09        15   16   100.261237442
  h10         3   23   96.3272759529
  h11        10   23   96.3426130494
  h12        18   20   98.894864694
END HOB
