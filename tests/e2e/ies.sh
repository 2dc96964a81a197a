#!/bin/bash
# pestrun ies on the example groundwater case (20 realizations, as ../shared/checks/11-ies):
# mean phi falls, the outputs have pestpp-ies 5.2.23's names and columns, the same outputs
# byte for byte on 1 and 2 workers, and a master killed mid-iteration resumed to the same
# files without rerunning what was done; the same files again over MPI.
. "$(dirname "$0")/lib.bash"
G="$BIN/examples/gwflow"
[ -x "$G/gwflow" ] || skip "example not built"
# NOPTMAX $1, ++ies_num_reals(20), and every model run counted in $T/runs.count
make_case() { # $1 = folder, $2 = NOPTMAX, $3 = extra options
  cp -r "$G" "$1"
  cat >"$1/count.sh" <<EOF2
#!/bin/sh
${SLOW:-}./gwflow && echo x >> $T/runs.count
EOF2
  chmod +x "$1/count.sh"
  python3 - "$1/gwflow.pst" "$2" "$3" <<'PY'
import sys
path, noptmax, extra = sys.argv[1], sys.argv[2], sys.argv[3]
lines = open(path).read().splitlines()
i = next(k for k, l in enumerate(lines) if l.strip().lower() == "* control data")
f = lines[i + 7].split(); f[0] = noptmax; lines[i + 7] = " ".join(f)
lines = ["./count.sh" if l.strip() == "./gwflow" else l for l in lines]
lines.append("++ies_num_reals(20)")
if extra: lines.append(extra)
open(path, "w").write("\n".join(lines) + "\n")
PY
}

make_case "$T/a" 3 ""
cd "$T/a" || exit 1
: >"$T/runs.count"
"$PESTRUN" ies gwflow.pst -j 2 -q --journal j; expect_eq "ies exit" $? 0
runs=$(wc -l <"$T/runs.count")
for f in 0.par.csv 0.obs.csv 1.par.csv 1.obs.csv 3.par.csv 3.obs.csv obs+noise.csv phi.actual.csv \
  phi.meas.csv phi.regul.csv phi.composite.csv phi.group.csv phi.lambda.csv rec 3.base.par 3.base.rei; do
  [ -s "gwflow.$f" ] && ok || fail "no gwflow.$f"
done
# pestpp-ies 5.2.23's headers on this case (run 2026-12-03)
phi_head="iteration,total_runs,mean,standard_deviation,min,max,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,base"
for f in actual meas regul composite; do
  expect_eq "phi.$f.csv header" "$(head -1 gwflow.phi.$f.csv)" "$phi_head"
done
expect_eq "phi.group.csv header" "$(head -1 gwflow.phi.group.csv)" \
  "iteration,total_runs,obs_realization,par_realization,heads,flux"
expect_eq "phi.lambda.csv header" "$(head -1 gwflow.phi.lambda.csv)" \
  "iteration,num_reals,current_lambda,current_comp_mean_phi,current_comp_std_phi,lambda_scale_fac,lambda,comp_mean_phi,comp_std_phi"
expect_eq "par.csv header" "$(head -1 gwflow.0.par.csv)" "real_name,hk1,hk2,hk3,hk4,rch"
expect_eq "obs.csv header" "$(head -1 gwflow.3.obs.csv)" \
  "real_name,h01,h02,h03,h04,h05,h06,h07,h08,h09,h10,h11,h12,q_west,q_east"
expect_eq "realizations" "$(awk -F, 'NR > 1 {print $1}' gwflow.0.par.csv | tr '\n' ' ')" \
  "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 base "
# the base realization is PARVAL1 (through log10 and back, byte for byte as pestpp-ies writes
# it), and its phi is pestpp-ies's (20502.6)
expect_eq "base realization" "$(grep '^base,' gwflow.0.par.csv)" \
  "base,5.0000000000000008882,5.0000000000000008882,10,20.000000000000003553,100"
expect_eq "base phi" "$(awk -F, 'NR == 2 {print $NF}' gwflow.phi.actual.csv)" 20502.6
# runs: 20, then 9 lambda x scale pairs on 4 realizations and the other 16 (as pestpp-ies)
expect_eq "runs per iteration" "$(awk -F, 'NR > 1 {printf "%s ", $2}' gwflow.phi.actual.csv)" \
  "20 72 124 176 "
expect_eq "model runs" "$runs" 176
expect_eq "lambda rows" "$(($(wc -l <gwflow.phi.lambda.csv) - 1))" 27
python3 - <<'PY' && ok || fail "mean phi does not fall: $(cut -d, -f1-3 gwflow.phi.actual.csv | tr '\n' ' ')"
import csv
rows = list(csv.DictReader(open("gwflow.phi.actual.csv")))
m = [float(r["mean"]) for r in rows]
assert all(b < a for a, b in zip(m, m[1:])), m
assert m[2] <= 7851, m  # ../shared/checks/11-ies: 1.5 x pestpp-ies's 5,234 after 124 runs
PY

# pestpp-ies 5.2.23's own prior ensemble of this case (its draws, seed 358183147; run on
# 2026-12-03) with ++ies_subset_how(first): pestrun's phi at every lambda test and every
# iteration is pestpp-ies's to its 6 digits (the upgrade agrees to about 1e-12)
make_case "$T/pp" 2 "++ies_par_en(prior.csv)
++ies_subset_how(first)"
cp "$SRC/tests/e2e/data/gwflow_ies_prior.csv" "$T/pp/prior.csv"
(cd "$T/pp" && "$PESTRUN" ies gwflow.pst -q --journal j) && ok || fail "ies with pestpp-ies's prior"
cat >"$T/pp/want.actual" <<'CSV'
0,20,978851,4.06798e+06,12276.8,1.82552e+07
1,72,21845.1,9573.44,5105.06,34035.4
2,124,4926.62,5131.15,346.841,22354.1
CSV
cat >"$T/pp/want.lambda" <<'CSV'
1,4,10000,978851,4.06798e+06,0.75,1000,18196.9,8002.88
1,4,10000,978851,4.06798e+06,1,1000,16751.4,7946.99
1,4,10000,978851,4.06798e+06,1.1,1000,16240.9,7935.13
1,4,10000,978851,4.06798e+06,0.75,10000,22432.2,10989.8
1,4,10000,978851,4.06798e+06,1,10000,19972.5,9244.62
1,4,10000,978851,4.06798e+06,1.1,10000,19090.6,8777.43
1,4,10000,978851,4.06798e+06,0.75,100000,29904,20531.7
1,4,10000,978851,4.06798e+06,1,100000,28700.8,19234.8
1,4,10000,978851,4.06798e+06,1.1,100000,28216.2,18716.4
2,4,750,21845.1,9573.44,0.75,75,2966.59,2310.89
2,4,750,21845.1,9573.44,1,75,9269.16,8760.33
2,4,750,21845.1,9573.44,1.1,75,17168.4,16552.4
2,4,750,21845.1,9573.44,0.75,750,5220.49,5334.06
2,4,750,21845.1,9573.44,1,750,3129.84,3226.45
2,4,750,21845.1,9573.44,1.1,750,3017.95,1986.1
2,4,750,21845.1,9573.44,0.75,7500,12865.1,7229.51
2,4,750,21845.1,9573.44,1,7500,11752.9,7002.9
2,4,750,21845.1,9573.44,1.1,7500,11311.3,6911.35
CSV
cat >"$T/compare.py" <<'PY'
import sys
d = sys.argv[1]
def rows(path, k, header):
    lines = [l for l in open(path).read().split("\n") if l][1 if header else 0:]
    return [[float(x) for x in l.split(",")[:k]] for l in lines]
for got, want, k in (("gwflow.phi.actual.csv", "want.actual", 6), ("gwflow.phi.lambda.csv", "want.lambda", 9)):
    g, w = rows(d + "/" + got, k, True), rows(d + "/" + want, k, False)
    assert len(g) == len(w), (got, len(g), len(w))
    for a, b in zip(g, w):
        for x, y in zip(a, b):
            assert abs(x - y) <= 1e-5 * max(abs(x), abs(y)), (got, a, b)
PY
python3 "$T/compare.py" "$T/pp" && ok || fail "phi differs from pestpp-ies 5.2.23's"

# a restart from iteration 1 of the run above (++ies_restart_par_en, ++ies_restart_obs_en): no
# model run for iteration 0, and pestpp-ies's phi from its own iteration-1 ensembles
make_case "$T/rs" 2 "++ies_par_en(prior.csv)
++ies_subset_how(first)
++ies_restart_par_en(rpe.csv)
++ies_restart_obs_en(roe.csv)"
cp "$SRC/tests/e2e/data/gwflow_ies_prior.csv" "$T/rs/prior.csv"
cp "$T/pp/gwflow.1.par.csv" "$T/rs/rpe.csv"
cp "$T/pp/gwflow.1.obs.csv" "$T/rs/roe.csv"
(cd "$T/rs" && "$PESTRUN" ies gwflow.pst -q --journal j) && ok || fail "ies restart"
cmp -s "$T/rs/gwflow.0.par.csv" "$T/pp/gwflow.0.par.csv" && ok || fail "a restart's 0.par.csv is not the prior"
printf '%s\n' "0,0,21845.1,9573.44,5105.06,34035.4
1,52,4869.07,4774.97,343.919,20824.5
2,104,358.924,327.884,22.328,1245.44" >"$T/rs/want.actual"
printf '%s\n' "1,4,100,21845.1,9573.44,0.75,10,3855.31,1722.24
1,4,100,21845.1,9573.44,1,10,17908.9,18445.6
1,4,100,21845.1,9573.44,1.1,10,32711.6,31932.9
1,4,100,21845.1,9573.44,0.75,100,2918.76,2643.87
1,4,100,21845.1,9573.44,1,100,7821.28,6974.2
1,4,100,21845.1,9573.44,1.1,100,14455.5,13730.8
1,4,100,21845.1,9573.44,0.75,1000,6045.8,5665.05
1,4,100,21845.1,9573.44,1,1000,3665.02,4093.46
1,4,100,21845.1,9573.44,1.1,1000,3164.1,3190.81
2,4,75,4869.07,4774.97,0.75,7.5,508.714,557.513
2,4,75,4869.07,4774.97,1,7.5,224.694,167.603
2,4,75,4869.07,4774.97,1.1,7.5,206.759,122.669
2,4,75,4869.07,4774.97,0.75,75,713.969,822.59
2,4,75,4869.07,4774.97,1,75,357.909,346.199
2,4,75,4869.07,4774.97,1.1,75,276.625,212.999
2,4,75,4869.07,4774.97,0.75,750,1401.1,1586.05
2,4,75,4869.07,4774.97,1,750,1061.29,1188.51
2,4,75,4869.07,4774.97,1.1,750,948.172,1031.37" >"$T/rs/want.lambda"
python3 "$T/compare.py" "$T/rs" && ok || fail "restart phi differs from pestpp-ies 5.2.23's"

# the same with ++ies_localizer (heads inform hk1-hk4, the flux rch and hk1): pestpp-ies's
# local analysis, phi for phi
make_case "$T/loc" 2 "++ies_par_en(prior.csv)
++ies_subset_how(first)
++ies_localizer(loc.mat)"
cp "$SRC/tests/e2e/data/gwflow_ies_prior.csv" "$T/loc/prior.csv"
printf '2 5 2\n1 1 1 1 0\n1 0 0 0 1\n* row names\nheads\nflux\n* column names\nhk1\nhk2\nhk3\nhk4\nrch\n' >"$T/loc/loc.mat"
(cd "$T/loc" && "$PESTRUN" ies gwflow.pst -q --journal j) && ok || fail "ies with a localizer"
cat >"$T/loc/want.actual" <<'CSV'
0,20,978851,4.06798e+06,12276.8,1.82552e+07
1,72,23696,10235.9,6738.78,41165.7
2,124,12400.4,10088.4,1139.15,33289.8
CSV
cat >"$T/loc/want.lambda" <<'CSV'
1,4,10000,978851,4.06798e+06,0.75,1000,18559.7,8595.04
1,4,10000,978851,4.06798e+06,1,1000,17327.8,8634.49
1,4,10000,978851,4.06798e+06,1.1,1000,16920.1,8641.79
1,4,10000,978851,4.06798e+06,0.75,10000,22809,11166.2
1,4,10000,978851,4.06798e+06,1,10000,20431.9,9615.78
1,4,10000,978851,4.06798e+06,1.1,10000,19580.6,9234.11
1,4,10000,978851,4.06798e+06,0.75,100000,30352.4,21431
1,4,10000,978851,4.06798e+06,1,100000,29298.3,20444.6
1,4,10000,978851,4.06798e+06,1.1,100000,28872.3,20048.7
2,4,750,23696,10235.9,0.75,75,9949.19,6043.61
2,4,750,23696,10235.9,1,75,76628.9,44533.9
2,4,750,23696,10235.9,1.1,75,167319,87802
2,4,750,23696,10235.9,0.75,750,5920.2,5515.03
2,4,750,23696,10235.9,1,750,6865.63,4345.47
2,4,750,23696,10235.9,1.1,750,9617.55,5153.68
2,4,750,23696,10235.9,0.75,7500,13529.6,7903.89
2,4,750,23696,10235.9,1,7500,12430.6,7633.83
2,4,750,23696,10235.9,1.1,7500,11999.2,7522.06
CSV
python3 "$T/compare.py" "$T/loc" && ok || fail "localized phi differs from pestpp-ies 5.2.23's"

# automatic adaptive localization, alone and within the localizer (sigma distance 0.5)
make_case "$T/aal" 2 "++ies_par_en(prior.csv)
++ies_subset_how(first)
++ies_autoadaloc(true)"
cp "$SRC/tests/e2e/data/gwflow_ies_prior.csv" "$T/aal/prior.csv"
(cd "$T/aal" && "$PESTRUN" ies gwflow.pst -q --journal j) && ok || fail "ies with autoadaloc"
cat >"$T/aal/want.actual" <<'CSV'
0,20,978851,4.06798e+06,12276.8,1.82552e+07
1,72,29956,16172.3,9106.62,76882.3
2,124,12297.7,23806.5,500.354,108724
CSV
cat >"$T/aal/want.lambda" <<'CSV'
1,4,10000,978851,4.06798e+06,0.75,1000,29136.6,24465.9
1,4,10000,978851,4.06798e+06,1,1000,27626.1,24365.4
1,4,10000,978851,4.06798e+06,1.1,1000,27015.9,24299.9
1,4,10000,978851,4.06798e+06,0.75,10000,28804.8,21955.2
1,4,10000,978851,4.06798e+06,1,10000,27139.5,20969.3
1,4,10000,978851,4.06798e+06,1.1,10000,26467.8,20567.5
1,4,10000,978851,4.06798e+06,0.75,100000,30599.3,21861.7
1,4,10000,978851,4.06798e+06,1,100000,29584.6,20916.4
1,4,10000,978851,4.06798e+06,1.1,100000,29169.2,20524.8
2,4,7500,29956,16172.3,0.75,750,5694.46,6135.89
2,4,7500,29956,16172.3,1,750,3475.62,3949.33
2,4,7500,29956,16172.3,1.1,750,3184.17,2599.73
2,4,7500,29956,16172.3,0.75,7500,14609.4,7371.78
2,4,7500,29956,16172.3,1,7500,12633.6,6943.49
2,4,7500,29956,16172.3,1.1,7500,11950.2,6869.97
2,4,7500,29956,16172.3,0.75,75000,23973.3,16785.2
2,4,7500,29956,16172.3,1,75000,23236.3,15727.3
2,4,7500,29956,16172.3,1.1,75000,22953.4,15329.8
CSV
python3 "$T/compare.py" "$T/aal" && ok || fail "autoadaloc phi differs from pestpp-ies 5.2.23's"
make_case "$T/la" 2 "++ies_par_en(prior.csv)
++ies_subset_how(first)
++ies_localizer(loc.mat)
++ies_autoadaloc(true)
++ies_autoadaloc_sigma_dist(0.5)"
cp "$SRC/tests/e2e/data/gwflow_ies_prior.csv" "$T/la/prior.csv"
cp "$T/loc/loc.mat" "$T/la/"
(cd "$T/la" && "$PESTRUN" ies gwflow.pst -q --journal j) && ok || fail "ies with localizer and autoadaloc"
cat >"$T/la/want.actual" <<'CSV'
0,20,978851,4.06798e+06,12276.8,1.82552e+07
1,72,27440.6,18213.9,5442.52,90163.1
2,124,12087.6,11379.6,607.287,44022.7
CSV
cat >"$T/la/want.lambda" <<'CSV'
1,4,10000,978851,4.06798e+06,0.75,1000,18447.7,8544.49
1,4,10000,978851,4.06798e+06,1,1000,17166.2,8488.3
1,4,10000,978851,4.06798e+06,1.1,1000,16739,8450.55
1,4,10000,978851,4.06798e+06,0.75,10000,22793.7,11195.7
1,4,10000,978851,4.06798e+06,1,10000,20407.8,9636.65
1,4,10000,978851,4.06798e+06,1.1,10000,19553,9248.5
1,4,10000,978851,4.06798e+06,0.75,100000,30346,21434
1,4,10000,978851,4.06798e+06,1,100000,29290.3,20449.2
1,4,10000,978851,4.06798e+06,1.1,100000,28863.8,20054.1
2,4,750,27440.6,18213.9,0.75,75,9131.74,5973.04
2,4,750,27440.6,18213.9,1,75,74217.8,46411.5
2,4,750,27440.6,18213.9,1.1,75,162481,92751.4
2,4,750,27440.6,18213.9,0.75,750,4997.7,4953.1
2,4,750,27440.6,18213.9,1,750,6478.88,4208.26
2,4,750,27440.6,18213.9,1.1,750,9934.69,5875.31
2,4,750,27440.6,18213.9,0.75,7500,13317.8,7728.76
2,4,750,27440.6,18213.9,1,7500,12181.8,7468.86
2,4,750,27440.6,18213.9,1.1,7500,11731.6,7361.47
CSV
python3 "$T/compare.py" "$T/la" && ok || fail "localizer + autoadaloc phi differs from pestpp-ies 5.2.23's"

# inequality observations (the flux group renamed l_flux: less than) and a prior-data conflict
# dropped (h04 observed at 1000, out of every realization's reach): pestpp-ies's phi
make_case "$T/dc" 2 "++ies_par_en(prior.csv)
++ies_subset_how(first)
++ies_drop_conflicts(true)"
cp "$SRC/tests/e2e/data/gwflow_ies_prior.csv" "$T/dc/prior.csv"
python3 - "$T/dc/gwflow.pst" <<'PY'
import re, sys
s = open(sys.argv[1]).read()
s = re.sub(r"^h04 +\S+", "h04 1000.0", s, flags=re.M)
s = re.sub(r"^flux$", "l_flux", s, flags=re.M)
s = re.sub(r" flux$", " l_flux", s, flags=re.M)
open(sys.argv[1], "w").write(s)
PY
(cd "$T/dc" && "$PESTRUN" ies gwflow.pst -q --journal j) && ok || fail "ies with a conflict"
expect_eq "conflict found" "$(cut -d, -f1 "$T/dc/gwflow.0.pdc.csv" | tail -n +2)" h04
expect_eq "group header" "$(head -1 "$T/dc/gwflow.phi.group.csv")" \
  "iteration,total_runs,obs_realization,par_realization,heads,l_flux"
cat >"$T/dc/want.actual" <<'CSV'
0,20,791286,3.33969e+06,1086.24,1.49729e+07
1,72,10265.6,6098.49,1044.23,20754.2
2,124,1938.91,2741.89,364.376,12043
CSV
cat >"$T/dc/want.lambda" <<'CSV'
1,4,10000,791286,3.33969e+06,0.75,1000,7351.14,4313.02
1,4,10000,791286,3.33969e+06,1,1000,6913.98,4057.61
1,4,10000,791286,3.33969e+06,1.1,1000,6789.26,4000.91
1,4,10000,791286,3.33969e+06,0.75,10000,12153.8,11665.8
1,4,10000,791286,3.33969e+06,1,10000,10890,9419.67
1,4,10000,791286,3.33969e+06,1.1,10000,10471.4,8702.54
1,4,10000,791286,3.33969e+06,0.75,100000,17418.1,21862.9
1,4,10000,791286,3.33969e+06,1,100000,16894.5,20937.9
1,4,10000,791286,3.33969e+06,1.1,100000,16684.7,20567.8
2,4,750,10265.6,6098.49,0.75,75,1687.11,1338.7
2,4,750,10265.6,6098.49,1,75,1105.07,788.611
2,4,750,10265.6,6098.49,1.1,75,1205.12,574.863
2,4,750,10265.6,6098.49,0.75,750,3315.8,2116.4
2,4,750,10265.6,6098.49,1,750,2453.03,1757.4
2,4,750,10265.6,6098.49,1.1,750,2158.74,1643.66
2,4,750,10265.6,6098.49,0.75,7500,5847.42,3445.91
2,4,750,10265.6,6098.49,1,7500,5549.9,3277.54
2,4,750,10265.6,6098.49,1.1,7500,5433.26,3212.65
CSV
python3 "$T/compare.py" "$T/dc" && ok || fail "phi with a conflict dropped differs from pestpp-ies 5.2.23's"

# the full solution (++ies_use_approx(false), 4 iterations), and the regularization phi with a
# bad-phi threshold (++ies_reg_factor(0.5), ++ies_bad_phi_sigma(2)): pestpp-ies's phi
make_case "$T/full" 4 "++ies_par_en(prior.csv)
++ies_subset_how(first)
++ies_use_approx(false)"
make_case "$T/reg" 2 "++ies_par_en(prior.csv)
++ies_subset_how(first)
++ies_reg_factor(0.5)
++ies_bad_phi_sigma(2.0)"
for d in full reg; do
  cp "$SRC/tests/e2e/data/gwflow_ies_prior.csv" "$T/$d/prior.csv"
  (cd "$T/$d" && "$PESTRUN" ies gwflow.pst -q --journal j) && ok || fail "ies ($d)"
done
printf '%s\n' "0,20,978851,4.06798e+06,12276.8,1.82552e+07
1,72,21845.1,9573.44,5105.06,34035.4
2,124,4927.28,5131.38,347.237,22355.1
3,176,330.581,285.536,40.5608,1081.8
4,228,14.2024,8.25805,1.15539,32.2983" >"$T/full/want.actual"
printf '%s\n' "1,4,10000,978851,4.06798e+06,0.75,1000,18196.9,8002.88
1,4,10000,978851,4.06798e+06,1,1000,16751.4,7946.99
1,4,10000,978851,4.06798e+06,1.1,1000,16240.9,7935.13
1,4,10000,978851,4.06798e+06,0.75,10000,22432.2,10989.8
1,4,10000,978851,4.06798e+06,1,10000,19972.5,9244.62
1,4,10000,978851,4.06798e+06,1.1,10000,19090.6,8777.43
1,4,10000,978851,4.06798e+06,0.75,100000,29904,20531.7
1,4,10000,978851,4.06798e+06,1,100000,28700.8,19234.8
1,4,10000,978851,4.06798e+06,1.1,100000,28216.2,18716.4
2,4,750,21845.1,9573.44,0.75,75,2967.5,2310.09
2,4,750,21845.1,9573.44,1,75,9272.51,8762.21
2,4,750,21845.1,9573.44,1.1,75,17175.7,16557.9
2,4,750,21845.1,9573.44,0.75,750,5220.97,5333.7
2,4,750,21845.1,9573.44,1,750,3130.3,3226.19
2,4,750,21845.1,9573.44,1.1,750,3018.34,1986.06
2,4,750,21845.1,9573.44,0.75,7500,12865.2,7229.45
2,4,750,21845.1,9573.44,1,7500,11753.1,7002.8
2,4,750,21845.1,9573.44,1.1,7500,11311.5,6911.24
3,4,56.25,4927.28,5131.38,0.75,5.625,460.443,481.413
3,4,56.25,4927.28,5131.38,1,5.625,192.179,137.07
3,4,56.25,4927.28,5131.38,1.1,5.625,187.041,104.311
3,4,56.25,4927.28,5131.38,0.75,56.25,643.691,708.106
3,4,56.25,4927.28,5131.38,1,56.25,303.389,285.345
3,4,56.25,4927.28,5131.38,1.1,56.25,232.045,170.21
3,4,56.25,4927.28,5131.38,0.75,562.5,1252.62,1362.01
3,4,56.25,4927.28,5131.38,1,562.5,914.207,979.264
3,4,56.25,4927.28,5131.38,1.1,562.5,808.682,827.104
4,4,4.21875,330.581,285.536,0.75,0.421875,21.575,8.88958
4,4,4.21875,330.581,285.536,1,0.421875,18.6171,5.56551
4,4,4.21875,330.581,285.536,1.1,0.421875,26.4136,4.35183
4,4,4.21875,330.581,285.536,0.75,4.21875,33.0076,14.2394
4,4,4.21875,330.581,285.536,1,4.21875,23.4905,9.14261
4,4,4.21875,330.581,285.536,1.1,4.21875,27.0189,5.81405
4,4,4.21875,330.581,285.536,0.75,42.1875,80.2895,39.059
4,4,4.21875,330.581,285.536,1,42.1875,60.6828,31.3786
4,4,4.21875,330.581,285.536,1.1,42.1875,55.5196,29.392" >"$T/full/want.lambda"
printf '%s\n' "0,20,69571.5,115867,12276.8,524426
1,71,15581.2,7094.04,3410.78,27955.6
2,122,1244.6,648.716,302.625,2400.58" >"$T/reg/want.actual"
printf '%s\n' "1,4,1000,69571.5,115867,0.75,100,14040.3,6584.94
1,4,1000,69571.5,115867,1,100,11709.4,6241.56
1,4,1000,69571.5,115867,1.1,100,10889.1,6060.68
1,4,1000,69571.5,115867,0.75,1000,14821.4,7211.27
1,4,1000,69571.5,115867,1,1000,12244.6,7177.36
1,4,1000,69571.5,115867,1.1,1000,11257.9,7154.57
1,4,1000,69571.5,115867,0.75,10000,19130.8,8571.87
1,4,1000,69571.5,115867,1,10000,15827.1,7304.37
1,4,1000,69571.5,115867,1.1,10000,14652.6,7151.1
2,4,75,15583.5,7094.58,0.75,7.5,1856.79,2363.38
2,4,75,15583.5,7094.58,1,7.5,1337.14,472.745
2,4,75,15583.5,7094.58,1.1,7.5,2252.71,1188.06
2,4,75,15583.5,7094.58,0.75,75,2057.9,2529.32
2,4,75,15583.5,7094.58,1,75,1100.59,599.922
2,4,75,15583.5,7094.58,1.1,75,1599.83,917.194
2,4,75,15583.5,7094.58,0.75,750,3754.66,3521.42
2,4,75,15583.5,7094.58,1,750,1969.52,2052.3
2,4,75,15583.5,7094.58,1.1,750,1490.69,1405.99" >"$T/reg/want.lambda"
python3 "$T/compare.py" "$T/full" && ok || fail "full-solution phi differs from pestpp-ies 5.2.23's"
python3 "$T/compare.py" "$T/reg" && ok || fail "regularized phi differs from pestpp-ies 5.2.23's"
expect_eq "regul phi (pestpp-ies)" "$(cut -d, -f1-6 "$T/reg/gwflow.phi.regul.csv" | tr '\n' ' ')" \
  "iteration,total_runs,mean,standard_deviation,min,max 0,20,0,0,0,0 1,71,4.72511,4.50234,1.00229,19.3222 2,122,8.70974,4.79308,2.83593,18.7682 "
expect_eq "group header with parameter groups" "$(head -1 "$T/reg/gwflow.phi.group.csv")" \
  "iteration,total_runs,obs_realization,par_realization,heads,flux,hk,rch"

# ++ies_use_prior_scaling with the full solution: pestpp-ies's phi
make_case "$T/psf" 2 "++ies_par_en(prior.csv)
++ies_subset_how(first)
++ies_use_prior_scaling(true)
++ies_use_approx(false)"
cp "$SRC/tests/e2e/data/gwflow_ies_prior.csv" "$T/psf/prior.csv"
(cd "$T/psf" && "$PESTRUN" ies gwflow.pst -q --journal j) && ok || fail "ies with prior scaling"
printf '%s\n' "0,20,978851,4.06798e+06,12276.8,1.82552e+07
1,72,20260.5,10272,5694.23,39245.3
2,124,11417.5,9817.87,1534.24,31861.3" >"$T/psf/want.actual"
printf '%s\n' "1,4,10000,978851,4.06798e+06,0.75,1000,15865.5,8041.84
1,4,10000,978851,4.06798e+06,1,1000,13721.1,7768.15
1,4,10000,978851,4.06798e+06,1.1,1000,12961,7594.25
1,4,10000,978851,4.06798e+06,0.75,10000,19400.5,9438.81
1,4,10000,978851,4.06798e+06,1,10000,16262.7,8142.86
1,4,10000,978851,4.06798e+06,1.1,10000,15143.4,7855.35
1,4,10000,978851,4.06798e+06,0.75,100000,27767.8,17962.4
1,4,10000,978851,4.06798e+06,1,100000,25849,15919.8
1,4,10000,978851,4.06798e+06,1.1,100000,25088.5,15142.5
2,4,750,20260.5,10272,0.75,75,78286.6,48231.7
2,4,750,20260.5,10272,1,75,537460,501194
2,4,750,20260.5,10272,1.1,75,1.00346e+06,983287
2,4,750,20260.5,10272,0.75,750,12003.4,3081.84
2,4,750,20260.5,10272,1,750,66883.1,36850.9
2,4,750,20260.5,10272,1.1,750,121893,78454.8
2,4,750,20260.5,10272,0.75,7500,6894.51,5041.46
2,4,750,20260.5,10272,1,7500,5179.42,4138.18
2,4,750,20260.5,10272,1.1,7500,4595.69,3794.04" >"$T/psf/want.lambda"
python3 "$T/compare.py" "$T/psf" && ok || fail "prior-scaled phi differs from pestpp-ies 5.2.23's"

# a version-2 control file with standard_deviation columns (hk1 0.3, hk3 0.5 in log10; heads
# 0.2): the parameters' standard deviations scale the upgrade (++ies_use_prior_scaling), the
# observations' turn the noise on; with pestpp-ies's own noise realizations
# (tests/e2e/data/gwflow_ies_noise.csv, 2026-12-03) its measurement phi, digit for digit
mkdir -p "$T/v2" && cp "$G"/gwflow "$G"/gwflow.in.tpl "$G"/gwflow.hob.out.ins "$G"/gwflow.lst.ins "$T/v2/"
cp "$SRC/tests/e2e/data/gwflow_ies_prior.csv" "$T/v2/prior.csv"
python3 - "$G/gwflow.pst" "$T/v2" <<'PY'
import sys
src, d = open(sys.argv[1]).read().splitlines(), sys.argv[2]
def section(name):
    out = []
    for l in src[src.index(name) + 1:]:
        if l.startswith("*") or l.startswith("++"): break
        out.append(l.split())
    return out
sd = {"hk1": "0.3", "hk3": "0.5"}
with open(d + "/par.csv", "w") as f:
    f.write("parnme,partrans,parchglim,parval1,parlbnd,parubnd,pargp,scale,offset,dercom,standard_deviation\n")
    for p in section("* parameter data"): f.write(",".join(p[:10]) + "," + sd.get(p[0], "") + "\n")
with open(d + "/obs.csv", "w") as f:
    f.write("obsnme,obsval,weight,obgnme,standard_deviation\n")
    for o in section("* observation data"): f.write(",".join(o) + "," + ("0.2" if o[0][0] == "h" else "") + "\n")
with open(d + "/pargp.csv", "w") as f:
    f.write("pargpnme,inctyp,derinc,derinclb,forcen,derincmul,dermthd\n")
    for g in section("* parameter groups"): f.write(",".join(g[:7]) + "\n")
io = section("* model input/output")
open(d + "/tpl.csv", "w").write("pest_file,model_file\n%s,%s\n" % tuple(io[0]))
open(d + "/ins.csv", "w").write("pest_file,model_file\n" + "".join("%s,%s\n" % (a, b) for a, b in io[1:]))
open(d + "/gwflow.pst", "w").write("""pcf version=2
* control data keyword
pestmode estimation
noptmax 2
phiredstp 0.005
nphistp 4
nphinored 4
maxsing 5
eigthresh 5e-7
ies_num_reals 20
ies_par_en prior.csv
ies_subset_how first
ies_use_prior_scaling true
* parameter groups external
pargp.csv
* parameter data external
par.csv
* observation data external
obs.csv
* model command line
./gwflow
* model input external
tpl.csv
* model output external
ins.csv
""")
PY
(cd "$T/v2" && "$PESTRUN" ies gwflow.pst -q --journal j) && ok || fail "ies on a version-2 case"
expect_grep "noise on (standard_deviation)" "observation noise: N" "$T/v2/gwflow.rec"
sed -i 's/^ies_use_prior_scaling true$/ies_use_prior_scaling true\nies_obs_en oe.csv/' "$T/v2/gwflow.pst"
cp "$SRC/tests/e2e/data/gwflow_ies_noise.csv" "$T/v2/oe.csv"
(cd "$T/v2" && "$PESTRUN" ies gwflow.pst -q --journal j2) && ok || fail "ies on a version-2 case, noise read"
printf '%s\n' "0,20,979733,4.07078e+06,12507.9,1.82679e+07
1,72,23245.3,12656.3,6358.34,46865.8
2,124,14795.1,15126.3,1570.2,64082" >"$T/v2/want.actual"
printf '%s\n' "1,4,10000,979733,4.07078e+06,0.75,1000,16221.3,8790.18
1,4,10000,979733,4.07078e+06,1,1000,15473.9,9177.19
1,4,10000,979733,4.07078e+06,1.1,1000,15473.2,9663.94
1,4,10000,979733,4.07078e+06,0.75,10000,17866.9,8141.98
1,4,10000,979733,4.07078e+06,1,10000,15170.9,7870.69
1,4,10000,979733,4.07078e+06,1.1,10000,14218.7,7851.13
1,4,10000,979733,4.07078e+06,0.75,100000,28052.8,18453.6
1,4,10000,979733,4.07078e+06,1,100000,26166.3,16486.3
1,4,10000,979733,4.07078e+06,1.1,100000,25418.1,15729.7
2,4,7500,23245.3,12656.3,0.75,750,6424.37,2842.15
2,4,7500,23245.3,12656.3,1,750,33905.9,11072.6
2,4,7500,23245.3,12656.3,1.1,750,64061.4,34179.1
2,4,7500,23245.3,12656.3,0.75,7500,7675.4,5385.21
2,4,7500,23245.3,12656.3,1,7500,5993.38,4547.92
2,4,7500,23245.3,12656.3,1.1,7500,5422.99,4185.37
2,4,7500,23245.3,12656.3,0.75,75000,13170.8,7442.64
2,4,7500,23245.3,12656.3,1,75000,12830.5,7312.39
2,4,7500,23245.3,12656.3,1.1,75000,12695.6,7261.09" >"$T/v2/want.lambda"
mkdir -p "$T/v2m" && cp "$T/v2/gwflow.phi.meas.csv" "$T/v2m/gwflow.phi.actual.csv" &&
  cp "$T/v2/gwflow.phi.lambda.csv" "$T/v2/want.actual" "$T/v2/want.lambda" "$T/v2m/"
python3 "$T/compare.py" "$T/v2m" && ok || fail "version-2 phi differs from pestpp-ies 5.2.23's"

# ../shared's chenoliver case (++parcov from a PEST matrix, ++ies_use_prior_scaling,
# ++ies_initial_lambda) from pestpp-ies 5.2.23's own prior ensemble: its phi history
CO="$SHARED/pest/cases/chenoliver"
if [ -d "$CO/original" ]; then
  mkdir -p "$T/co" && cp "$CO"/original/* "$T/co/" && cp "$CO/expected/ies_asis/pest.0.par.csv" "$T/co/prior.csv"
  cat >"$T/co/chenoliver.py" <<'PY'
x = float(open("par.dat").read().split()[-1])
open("obs.dat", "w").write("%20.8E\n" % (7.0 / 12.0 * x**3 - 3.5 * x**2 + 8.0 * x))
PY
  sed -i 's/^python chenoliver.py/python3 chenoliver.py/' "$T/co/pest.pst"
  echo "++ies_par_en(prior.csv)" >>"$T/co/pest.pst"
  (cd "$T/co" && "$PESTRUN" ies pest.pst -q --journal j) && ok || fail "ies on chenoliver"
  expect_eq "chenoliver phi (pestpp-ies 5.2.23)" "$(cut -d, -f1-6 "$T/co/pest.phi.actual.csv")" \
    "$(cut -d, -f1-6 "$CO/expected/ies_asis/pest.phi.actual.csv")"
else
  echo "no $CO: the chenoliver comparison is left out"
fi

# ++ies_center_on (base; _median_ with the full solution) and ++ies_update_by_reals (4
# iterations): pestpp-ies's phi
make_case "$T/cbase" 2 "++ies_par_en(prior.csv)
++ies_subset_how(first)
++ies_center_on(base)"
make_case "$T/cmed" 2 "++ies_par_en(prior.csv)
++ies_subset_how(first)
++ies_center_on(_median_)
++ies_use_approx(false)"
make_case "$T/ubr" 4 "++ies_par_en(prior.csv)
++ies_subset_how(first)
++ies_update_by_reals(true)"
printf '%s\n' "0,20,978851,4.06798e+06,12276.8,1.82552e+07
1,72,20489.1,9513.82,4717.11,33659.6
2,124,5950.67,6848.79,488.118,27911.4" >"$T/cbase/want.actual"
printf '%s\n' "1,4,10000,978851,4.06798e+06,0.75,1000,17666.6,7968.94
1,4,10000,978851,4.06798e+06,1,1000,15982,8122.69
1,4,10000,978851,4.06798e+06,1.1,1000,15369.4,8172.39
1,4,10000,978851,4.06798e+06,0.75,10000,22540.8,10807.9
1,4,10000,978851,4.06798e+06,1,10000,20058.3,8967.61
1,4,10000,978851,4.06798e+06,1.1,10000,19166.1,8482.12
1,4,10000,978851,4.06798e+06,0.75,100000,29903.8,20334.7
1,4,10000,978851,4.06798e+06,1,100000,28717,19005.2
1,4,10000,978851,4.06798e+06,1.1,100000,28241,18477.7
2,4,750,20489.1,9513.82,0.75,75,3455.32,3980.17
2,4,750,20489.1,9513.82,1,75,4720.79,2678.2
2,4,750,20489.1,9513.82,1.1,75,7511.91,6378.39
2,4,750,20489.1,9513.82,0.75,750,5337.27,5840.96
2,4,750,20489.1,9513.82,1,750,3391.87,3718.08
2,4,750,20489.1,9513.82,1.1,750,3192.62,2501.35
2,4,750,20489.1,9513.82,0.75,7500,11934.1,7646.53
2,4,750,20489.1,9513.82,1,7500,10810.8,7450.69
2,4,750,20489.1,9513.82,1.1,7500,10367,7366.43" >"$T/cbase/want.lambda"
printf '%s\n' "0,20,978851,4.06798e+06,12276.8,1.82552e+07
1,72,21845.1,9573.44,5105.06,34035.4
2,124,4927.32,5131.44,347.229,22355.7" >"$T/cmed/want.actual"
printf '%s\n' "1,4,10000,978851,4.06798e+06,0.75,1000,18196.9,8002.88
1,4,10000,978851,4.06798e+06,1,1000,16751.4,7946.99
1,4,10000,978851,4.06798e+06,1.1,1000,16240.9,7935.13
1,4,10000,978851,4.06798e+06,0.75,10000,22432.2,10989.8
1,4,10000,978851,4.06798e+06,1,10000,19972.5,9244.62
1,4,10000,978851,4.06798e+06,1.1,10000,19090.6,8777.43
1,4,10000,978851,4.06798e+06,0.75,100000,29904,20531.7
1,4,10000,978851,4.06798e+06,1,100000,28700.8,19234.8
1,4,10000,978851,4.06798e+06,1.1,100000,28216.2,18716.4
2,4,750,21845.1,9573.44,0.75,75,2967.56,2310.04
2,4,750,21845.1,9573.44,1,75,9272.91,8762.55
2,4,750,21845.1,9573.44,1.1,75,17176.4,16558.5
2,4,750,21845.1,9573.44,0.75,750,5220.96,5333.71
2,4,750,21845.1,9573.44,1,750,3130.31,3226.18
2,4,750,21845.1,9573.44,1.1,750,3018.36,1986.04
2,4,750,21845.1,9573.44,0.75,7500,12865.2,7229.45
2,4,750,21845.1,9573.44,1,7500,11753.1,7002.8
2,4,750,21845.1,9573.44,1.1,7500,11311.5,6911.24" >"$T/cmed/want.lambda"
printf '%s\n' "0,20,978851,4.06798e+06,12276.8,1.82552e+07
1,72,21845.1,9573.44,5105.06,34035.4
2,124,4655.99,4226.61,346.841,16941.5
3,176,502.723,709.072,49.6347,3251.17
4,228,13.1321,9.51159,4.1216,36.4957" >"$T/ubr/want.actual"
printf '%s\n' "1,4,10000,978851,4.06798e+06,0.75,1000,18196.9,8002.88
1,4,10000,978851,4.06798e+06,1,1000,16751.4,7946.99
1,4,10000,978851,4.06798e+06,1.1,1000,16240.9,7935.13
1,4,10000,978851,4.06798e+06,0.75,10000,22432.2,10989.8
1,4,10000,978851,4.06798e+06,1,10000,19972.5,9244.62
1,4,10000,978851,4.06798e+06,1.1,10000,19090.6,8777.43
1,4,10000,978851,4.06798e+06,0.75,100000,29904,20531.7
1,4,10000,978851,4.06798e+06,1,100000,28700.8,19234.8
1,4,10000,978851,4.06798e+06,1.1,100000,28216.2,18716.4
2,4,750,21845.1,9573.44,0.75,75,2966.59,2310.89
2,4,750,21845.1,9573.44,1,75,9269.16,8760.33
2,4,750,21845.1,9573.44,1.1,75,17168.4,16552.4
2,4,750,21845.1,9573.44,0.75,750,5220.49,5334.06
2,4,750,21845.1,9573.44,1,750,3129.84,3226.45
2,4,750,21845.1,9573.44,1.1,750,3017.95,1986.1
2,4,750,21845.1,9573.44,0.75,7500,12865.1,7229.51
2,4,750,21845.1,9573.44,1,7500,11752.9,7002.9
2,4,750,21845.1,9573.44,1.1,7500,11311.3,6911.35
3,4,56.25,4655.99,4226.61,0.75,5.625,366.831,182.344
3,4,56.25,4655.99,4226.61,1,5.625,384.481,273.478
3,4,56.25,4655.99,4226.61,1.1,5.625,594.171,533.715
3,4,56.25,4655.99,4226.61,0.75,56.25,571.434,533.702
3,4,56.25,4655.99,4226.61,1,56.25,442.977,418.697
3,4,56.25,4655.99,4226.61,1.1,56.25,516.995,514.719
3,4,56.25,4655.99,4226.61,0.75,562.5,1085.73,1034.26
3,4,56.25,4655.99,4226.61,1,562.5,763.244,694.46
3,4,56.25,4655.99,4226.61,1.1,562.5,680.63,592.414
4,4,4.21875,502.723,709.072,0.75,0.421875,32.3299,4.57768
4,4,4.21875,502.723,709.072,1,0.421875,13.4965,6.93597
4,4,4.21875,502.723,709.072,1.1,0.421875,22.4696,1.40084
4,4,4.21875,502.723,709.072,0.75,4.21875,42.229,6.36464
4,4,4.21875,502.723,709.072,1,4.21875,17.9861,10.9872
4,4,4.21875,502.723,709.072,1.1,4.21875,23.0245,6.6416
4,4,4.21875,502.723,709.072,0.75,42.1875,107.056,39.9292
4,4,4.21875,502.723,709.072,1,42.1875,64.566,16.7439
4,4,4.21875,502.723,709.072,1.1,42.1875,54.3723,15.1768" >"$T/ubr/want.lambda"
for d in cbase cmed ubr; do
  cp "$SRC/tests/e2e/data/gwflow_ies_prior.csv" "$T/$d/prior.csv"
  (cd "$T/$d" && "$PESTRUN" ies gwflow.pst -q --journal j) && ok || fail "ies ($d)"
  python3 "$T/compare.py" "$T/$d" && ok || fail "phi ($d) differs from pestpp-ies 5.2.23's"
done

# ++ies_use_mda (3 iterations: the inflation schedule 7, then 4.67 and 1.56 after lambda moved)
# with the noise realizations of tests/e2e/data: pestpp-ies's measurement phi
make_case "$T/mda" 3 "++ies_par_en(prior.csv)
++ies_subset_how(first)
++ies_use_mda(true)
++ies_obs_en(oe.csv)"
cp "$SRC/tests/e2e/data/gwflow_ies_prior.csv" "$T/mda/prior.csv"
cp "$SRC/tests/e2e/data/gwflow_ies_noise.csv" "$T/mda/oe.csv"
(cd "$T/mda" && "$PESTRUN" ies gwflow.pst -q --journal j) && ok || fail "ies with MDA"
mkdir -p "$T/mdam" && cp "$T/mda/gwflow.phi.meas.csv" "$T/mdam/gwflow.phi.actual.csv" &&
  cp "$T/mda/gwflow.phi.lambda.csv" "$T/mdam/"
printf '%s\n' "0,20,979733,4.07078e+06,12507.9,1.82679e+07
1,48,22463.9,11109.2,4832.28,40471.7
2,76,8869.18,8976.79,1246.94,38815.5
3,104,463.567,291.341,127.414,1058.64" >"$T/mdam/want.actual"
printf '%s\n' "1,4,10000,979733,4.07078e+06,0.75,7,19805.3,8715.2
1,4,10000,979733,4.07078e+06,1,7,20126.6,9348.76
1,4,10000,979733,4.07078e+06,1.1,7,20374.8,9892.95
2,4,5.25,22463.9,11109.2,0.75,4.66667,7314.06,3329.81
2,4,5.25,22463.9,11109.2,1,4.66667,41575.5,35104.3
2,4,5.25,22463.9,11109.2,1.1,4.66667,82684.1,65874.8
3,4,3.5,8869.18,8976.79,0.75,1.55556,395.976,330.905
3,4,3.5,8869.18,8976.79,1,1.55556,492.859,146.11
3,4,3.5,8869.18,8976.79,1.1,1.55556,867.704,185.312" >"$T/mdam/want.lambda"
python3 "$T/compare.py" "$T/mdam" && ok || fail "MDA phi differs from pestpp-ies 5.2.23's"

# ++obscov (heads 0.04 with neighbour covariances 0.01, q_west 4; q_east left out, so it loses
# its weight) with the noise realizations of tests/e2e/data: pestpp-ies's measurement phi
make_case "$T/oc" 2 "++ies_par_en(prior.csv)
++ies_subset_how(first)
++obscov(obs.cov)
++ies_obs_en(oe.csv)"
cp "$SRC/tests/e2e/data/gwflow_ies_prior.csv" "$T/oc/prior.csv"
cp "$SRC/tests/e2e/data/gwflow_ies_noise.csv" "$T/oc/oe.csv"
cat >"$T/oc/obs.cov" <<'COV'
13 13 1
0.04 0.01 0 0 0 0 0 0 0 0 0 0 0
0.01 0.04 0.01 0 0 0 0 0 0 0 0 0 0
0 0.01 0.04 0.01 0 0 0 0 0 0 0 0 0
0 0 0.01 0.04 0.01 0 0 0 0 0 0 0 0
0 0 0 0.01 0.04 0.01 0 0 0 0 0 0 0
0 0 0 0 0.01 0.04 0.01 0 0 0 0 0 0
0 0 0 0 0 0.01 0.04 0.01 0 0 0 0 0
0 0 0 0 0 0 0.01 0.04 0.01 0 0 0 0
0 0 0 0 0 0 0 0.01 0.04 0.01 0 0 0
0 0 0 0 0 0 0 0 0.01 0.04 0.01 0 0
0 0 0 0 0 0 0 0 0 0.01 0.04 0.01 0
0 0 0 0 0 0 0 0 0 0 0.01 0.04 0
0 0 0 0 0 0 0 0 0 0 0 0 4.0
* row and column names
h01
h02
h03
h04
h05
h06
h07
h08
h09
h10
h11
h12
q_west
COV
(cd "$T/oc" && "$PESTRUN" ies gwflow.pst -q --journal j) && ok || fail "ies with ++obscov"
mkdir -p "$T/ocm" && cp "$T/oc/gwflow.phi.meas.csv" "$T/ocm/gwflow.phi.actual.csv" &&
  cp "$T/oc/gwflow.phi.lambda.csv" "$T/ocm/"
printf '%s\n' "0,20,287955,1.15438e+06,2257.16,5.18849e+06
1,72,10052.5,5368.4,1354.07,22383
2,124,2831.88,2791.96,39.8914,12538.7" >"$T/ocm/want.actual"
printf '%s\n' "1,4,10000,287955,1.15438e+06,0.75,1000,7966.16,4802.8
1,4,10000,287955,1.15438e+06,1,1000,6893.24,4310.4
1,4,10000,287955,1.15438e+06,1.1,1000,6508.22,4125.74
1,4,10000,287955,1.15438e+06,0.75,10000,10599.3,5992.1
1,4,10000,287955,1.15438e+06,1,10000,9711.04,5533.3
1,4,10000,287955,1.15438e+06,1.1,10000,9363.39,5358.82
1,4,10000,287955,1.15438e+06,0.75,100000,12349.5,7062.21
1,4,10000,287955,1.15438e+06,1,100000,11978.1,6881.52
1,4,10000,287955,1.15438e+06,1.1,100000,11828.8,6809.42
2,4,750,10052.5,5368.4,0.75,75,2147.82,2303.1
2,4,750,10052.5,5368.4,1,75,1477.05,1283.22
2,4,750,10052.5,5368.4,1.1,75,1595.78,787.616
2,4,750,10052.5,5368.4,0.75,750,3380.81,2748.43
2,4,750,10052.5,5368.4,1,750,2498.07,2288.85
2,4,750,10052.5,5368.4,1.1,750,2194,2086.25
2,4,750,10052.5,5368.4,0.75,7500,5706.81,3761.94
2,4,750,10052.5,5368.4,1,7500,5445.01,3644.71
2,4,750,10052.5,5368.4,1.1,7500,5341.13,3598.37" >"$T/ocm/want.lambda"
python3 "$T/compare.py" "$T/ocm" && ok || fail "phi with ++obscov differs from pestpp-ies 5.2.23's"

# ++ies_enforce_chglim with FACPARMAX 1.5: pestpp-ies's phi
make_case "$T/cl" 2 "++ies_par_en(prior.csv)
++ies_subset_how(first)
++ies_enforce_chglim(true)"
sed -i 's/^10.0 10.0 0.001$/10.0 1.5 0.001/' "$T/cl/gwflow.pst"
cp "$SRC/tests/e2e/data/gwflow_ies_prior.csv" "$T/cl/prior.csv"
(cd "$T/cl" && "$PESTRUN" ies gwflow.pst -q --journal j) && ok || fail "ies with change limits"
printf '%s\n' "0,20,978851,4.06798e+06,12276.8,1.82552e+07
1,72,248075,943600,9042.87,4.25307e+06
2,124,89130.2,295534,5358.22,1.34288e+06" >"$T/cl/want.actual"
printf '%s\n' "1,4,10000,978851,4.06798e+06,0.75,1000,22550.2,12147.4
1,4,10000,978851,4.06798e+06,1,1000,21169,11434.4
1,4,10000,978851,4.06798e+06,1.1,1000,20764.6,11087.9
1,4,10000,978851,4.06798e+06,0.75,10000,22595.4,11217
1,4,10000,978851,4.06798e+06,1,10000,20974.5,10429.5
1,4,10000,978851,4.06798e+06,1.1,10000,20427.5,10219.2
1,4,10000,978851,4.06798e+06,0.75,100000,29904,20531.7
1,4,10000,978851,4.06798e+06,1,100000,28700.8,19234.8
1,4,10000,978851,4.06798e+06,1.1,100000,28216.2,18716.4
2,4,7500,248075,943600,0.75,750,14347.7,8212.04
2,4,7500,248075,943600,1,750,13328,8369.59
2,4,7500,248075,943600,1.1,750,12941.6,8427.59
2,4,7500,248075,943600,0.75,7500,15164.9,7912.66
2,4,7500,248075,943600,1,7500,13669.4,7598.17
2,4,7500,248075,943600,1.1,7500,13200.9,7677.12
2,4,7500,248075,943600,0.75,75000,17923,8935.81
2,4,7500,248075,943600,1,75000,17096.4,8573.82
2,4,7500,248075,943600,1.1,75000,16769.6,8440.32" >"$T/cl/want.lambda"
python3 "$T/compare.py" "$T/cl" && ok || fail "change-limited phi differs from pestpp-ies 5.2.23's"

# NOPTMAX 0: the base realization alone; NOPTMAX -2: the prior ensemble's mean (log space), as
# pestpp-ies (its mean of its prior: hk1 5.46528803562363, ..., rch 98.9779915493128)
make_case "$T/n0" 0 ""
(cd "$T/n0" && "$PESTRUN" ies gwflow.pst -q --journal j) && ok || fail "ies NOPTMAX 0"
expect_eq "NOPTMAX 0 runs the base" "$(tail -1 "$T/n0/gwflow.phi.actual.csv" | cut -d, -f1-3)" "0,1,20502.6"
make_case "$T/m2" -2 "++ies_par_en(prior.csv)"
cp "$SRC/tests/e2e/data/gwflow_ies_prior.csv" "$T/m2/prior.csv"
(cd "$T/m2" && "$PESTRUN" ies gwflow.pst -q --journal j) && ok || fail "ies NOPTMAX -2"
python3 - "$T/m2/gwflow.mean.par.csv" <<'PY' && ok || fail "the prior mean is not pestpp-ies's"
import sys
row = open(sys.argv[1]).read().split("\n")[1].split(",")
want = [5.465288035623631302, 4.9599735229244776846, 13.59955718793306545, 24.572598901978800257, 98.977991549312861252]
assert row[0] == "mean", row
assert all(abs(float(a) - b) < 1e-12 * b for a, b in zip(row[1:], want)), row
PY

# pestrun report: the ensemble's report, well-formed XML
(cd "$T/a" && "$PESTRUN" report gwflow.pst >/dev/null) && ok || fail "report after ies"
expect_grep "report: ensemble phi" "Ensemble phi per iteration" "$T/a/gwflow.report.html"
expect_grep "report: histograms" "Prior and posterior parameters" "$T/a/gwflow.report.html"
python3 -c "import sys, xml.dom.minidom as m; m.parse(sys.argv[1])" "$T/a/gwflow.report.html" && ok ||
  fail "the ensemble report is not well-formed XML"

# the same on 1 worker: byte-identical outputs
make_case "$T/one" 3 ""
(cd "$T/one" && "$PESTRUN" ies gwflow.pst -j 1 -q --journal j) && ok || fail "ies -j 1"
for f in "$T"/a/gwflow.*.csv "$T"/a/gwflow.rec "$T"/a/gwflow.*.base.*; do
  cmp -s "$f" "$T/one/${f##*/}" && ok || fail "${f##*/} differs between -j 1 and -j 2"
done

# kill -9 the master in the middle of iteration 1, then --resume: the same files
SLOW="sleep 0.05; " make_case "$T/k" 3 ""
cd "$T/k" || exit 1
: >"$T/runs.count"
"$PESTRUN" ies gwflow.pst -j 2 -q --journal j &
m=$!
for _ in $(seq 600); do [ "$(wc -l <"$T/runs.count")" -ge 45 ] && break; sleep 0.05; done
kill -9 "$m"; wait "$m" 2>/dev/null
sleep 0.3
before=$(wc -l <"$T/runs.count")
[ "$before" -lt 72 ] && ok || fail "the kill came too late ($before runs)"
"$PESTRUN" ies gwflow.pst -j 2 -q --journal j --resume; expect_eq "resumed ies" $? 0
for f in "$T"/a/gwflow.*.csv "$T"/a/gwflow.rec "$T"/a/gwflow.*.base.*; do
  cmp -s "$f" "$T/k/${f##*/}" && ok || fail "${f##*/} after kill and resume differs"
done
total=$(wc -l <"$T/runs.count")
[ "$total" -le $((runs + 2)) ] && ok || fail "$total runs with a kill, $runs without"

# the same over MPI (rank 0 the master, 2 worker ranks): byte-identical outputs
if command -v mpirun >/dev/null; then
  make_case "$T/mpi" 3 ""
  # Open MPI's own allocations in MPI_Init are reported as leaks under AddressSanitizer (mpi.sh)
  (cd "$T/mpi" && OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    timeout 120 mpirun --oversubscribe --bind-to none -np 3 "$PESTRUN" ies gwflow.pst -q --journal j) &&
    ok || fail "ies under mpirun"
  for f in "$T"/a/gwflow.*.csv "$T"/a/gwflow.rec; do
    cmp -s "$f" "$T/mpi/${f##*/}" && ok || fail "${f##*/} differs between MPI and local workers"
  done
fi

# noise when asked for, and from the seed: the base realization keeps the observed values
make_case "$T/n" 1 "++ies_no_noise(false)
++ies_subset_how(first)"
(cd "$T/n" && "$PESTRUN" ies gwflow.pst -q --journal j) && ok || fail "ies with noise"
expect_eq "base obs+noise" "$(grep '^base,' "$T/n/gwflow.obs+noise.csv")" "$(grep '^base,' "$T/a/gwflow.obs+noise.csv")"
[ "$(grep '^0,' "$T/n/gwflow.obs+noise.csv")" != "$(grep '^0,' "$T/a/gwflow.obs+noise.csv")" ] && ok ||
  fail "no noise on realization 0"

# the same ensembles read back (++ies_par_en, ++ies_obs_en): the same phi
make_case "$T/rb" 1 "++ies_par_en(pe.csv)
++ies_obs_en(oe.csv)
++ies_subset_how(first)"
cp "$T/n/gwflow.0.par.csv" "$T/rb/pe.csv"
cp "$T/n/gwflow.obs+noise.csv" "$T/rb/oe.csv"
(cd "$T/rb" && "$PESTRUN" ies gwflow.pst -q --journal j) && ok || fail "ies with ensembles read back"
expect_eq "phi with the ensembles read back" "$(cut -d, -f1-6 "$T/rb/gwflow.phi.meas.csv")" \
  "$(cut -d, -f1-6 "$T/n/gwflow.phi.meas.csv")"
cmp -s "$T/rb/gwflow.obs+noise.csv" "$T/n/gwflow.obs+noise.csv" && ok || fail "obs+noise read back differs"

# an option that changes the result and is not implemented stops it
make_case "$T/x" 1 "++ies_n_iter_reinflate(2)"
(cd "$T/x" && "$PESTRUN" ies gwflow.pst -q --journal j 2>err.txt); expect_eq "ies_n_iter_reinflate exit" $? 2
expect_grep "ies_n_iter_reinflate named" "ies_n_iter_reinflate.*not implemented by 'pestrun ies'" "$T/x/err.txt"
done_testing
