#!/bin/bash
# pestrun glm with SVD-assist on an underdetermined case (40 log-conductivities, 9 weighted
# observations): super parameters from the base Jacobian, super iterations that cost a super
# Jacobian and the lambda runs, phi brought down by orders of magnitude, the best parameters
# reproducing the reported phi when run again, identical outputs with 1 and 2 workers, and a
# master killed in a super iteration resumed to byte-identical outputs.
. "$(dirname "$0")/lib.bash"
mkdir -p "$T/c" && cd "$T/c" || exit 1
make_seg_case . || fail "seg case"
cat >count.sh <<EOF2
#!/bin/sh
./seg && echo x >> $T/runs.count
EOF2
chmod +x count.sh
sed -i 's#^\./seg$#./count.sh#' seg.pst

"$PESTRUN" glm seg.pst -j 2 -q --journal j.a; expect_eq "glm exit" $? 0
runs=$(wc -l <"$T/runs.count")
expect_grep "super parameters defined" "8 super parameters from the base Jacobian" seg.rec
# runs: iteration 1 = base run + 40 derivatives + 5 lambdas x (normal, scale 0.75);
# iteration 2 = 8 super derivatives + 10 lambda runs
expect_eq "iteration 1 runs" "$(awk -F, 'NR==3{print $2}' seg.iobj)" 51
expect_eq "iteration 2 runs" "$(awk -F, 'NR==4{print $2}' seg.iobj)" 69
python3 - <<'PY' && ok || fail "phi not reduced 1000-fold"
import csv
rows = list(csv.DictReader(open("seg.iobj")))
p0, best = float(rows[0]["total_phi"]), min(float(r["total_phi"]) for r in rows)
assert best < p0 / 1000, (p0, best)
PY
# no base change limit in super iterations: some parameter moved past FACPARMAX (1.1x)
python3 - <<'PY' && ok || fail "no parameter moved more than 1.1x in one iteration"
import csv
rows = list(csv.reader(open("seg.ipar")))
moved = max(max(float(b) / float(a), float(a) / float(b))
            for r0, r1 in zip(rows[1:], rows[2:]) for a, b in zip(r0[1:], r1[1:]))
assert moved > 1.11, moved
PY
# the best parameters are the values that were run: running them again gives the phi reported
"$PESTRUN" run seg.best.pst >best.log 2>&1; expect_eq "run best" $? 0
python3 - <<'PY' && ok || fail "phi of seg.best.rei (the run of seg.best.pst) differs from the best phi in seg.iobj"
import csv
rows = list(csv.DictReader(open("seg.iobj")))
best = min(float(r["total_phi"]) for r in rows)
phi = 0.0
for line in open("seg.best.rei").read().splitlines()[4:]:
    t = line.split()
    if len(t) >= 6:
        phi += (float(t[4]) * float(t[5])) ** 2
assert abs(phi - best) <= 1e-5 * best + 1e-12, (phi, best)
PY

# the same with one worker: identical outputs
mkdir one && cp seg.pst seg k.dat.tpl out.dat.ins count.sh one/
(cd one && "$PESTRUN" glm seg.pst -j 1 -q --journal j) || fail "glm -j 1"
for f in par iobj ipar rei jcb par.usum.csv post.cov; do
  cmp -s "seg.$f" "one/seg.$f" && ok || fail "seg.$f differs between 1 and 2 workers"
done

# ++parcov feeds the prior form and the super parameters (PEST++): a correlated prior gives
# another first step than the one from the bounds, and still lowers phi
mkdir pc && cp seg.pst seg k.dat.tpl out.dat.ins count.sh pc/
cd pc || exit 1
python3 - <<'PY'
n = 40
rows = [" ".join("%.6e" % (0.25 if i == j else 0.2 ** abs(i - j) * 0.25) for j in range(n)) for i in range(n)]
open("prior.cov", "w").write("%6d%6d%6d\n" % (n, n, 1) + "\n".join(rows) +
                             "\n* row and column names\n" + "\n".join("k%02d" % i for i in range(n)) + "\n")
PY
sed -i 's/^8 0.005 4 4 0.005 4$/1 0.005 4 4 0.005 4/; s/^++glm_normal_form(prior)$/&\n++parcov(prior.cov)/' seg.pst
"$PESTRUN" glm seg.pst -j 2 -q --journal j; expect_eq "glm with ++parcov" $? 0
p1=$(awk -F, 'NR==3{print $3}' seg.iobj); b1=$(awk -F, 'NR==3{print $3}' ../seg.iobj)
awk -v a="$p1" -v b="$b1" -v z="$(awk -F, 'NR==2{print $3}' seg.iobj)" 'BEGIN{exit !(a != b && a < z)}' &&
  ok || fail "++parcov did not change the first step (phi $p1, from the bounds $b1)"
expect_grep "prior from ++parcov in the .rec" "from \\+\\+parcov: prior.cov" seg.rec
cd ..

# posterior realizations: ++glm_num_reals each iteration (++glm_iter_mc) and at the end, run in
# the same parallel batches; one forecast's prior and posterior
mkdir mc && cp seg.pst seg k.dat.tpl out.dat.ins count.sh mc/
cd mc || exit 1
sed -i 's/^8 0.005 4 4 0.005 4$/2 0.005 4 4 0.005 4/; s/^++glm_normal_form(prior)$/&\n++glm_num_reals(4)\n++glm_iter_mc(true)\n++forecasts(h19)/' seg.pst
"$PESTRUN" glm seg.pst -j 2 -q --journal j; expect_eq "glm with realizations" $? 0
expect_eq "iteration 1 runs: 51 + 4 realizations" "$(awk -F, 'NR==3{print $2}' seg.iobj)" 55
for f in seg.1.post.paren.csv seg.2.post.paren.csv seg.post.paren.csv seg.post.obsen.csv; do
  expect_eq "$f rows" "$(($(wc -l <"$f") - 1))" 4
done
python3 - <<'PY' && ok || fail "realizations outside the bounds or forecast not narrowed"
import csv
for r in csv.DictReader(open("seg.post.paren.csv")):
    assert all(0.01 <= float(v) <= 100.0 for k, v in r.items() if k != "real_name"), r
f = next(csv.DictReader(open("seg.pred.usum.csv")))
assert f["name"] == "h19" and 0 < float(f["post_stdev"]) < float(f["prior_stdev"]), f
PY
cd ..

# kill -9 the master in the second super iteration, then --resume: identical outputs
mkdir k && cp seg.pst seg k.dat.tpl out.dat.ins count.sh k/
cd k || exit 1
sed -i 's#^\./count.sh$#sleep 0.05; ./count.sh#' seg.pst
: >"$T/runs.count"
"$PESTRUN" glm seg.pst -j 2 -q --journal j &
m=$!
for _ in $(seq 600); do [ "$(wc -l <"$T/runs.count")" -ge 53 ] && break; sleep 0.02; done
kill -9 "$m"; wait "$m" 2>/dev/null
killed_at=$(wc -l <"$T/runs.count")
[ "$killed_at" -lt 69 ] && ok || fail "the kill came after the super Jacobian ($killed_at runs)"
"$PESTRUN" glm seg.pst -j 2 -q --journal j --resume; expect_eq "resumed glm" $? 0
cd ..
for f in par iobj ipar rei jcb par.usum.csv post.cov; do
  cmp -s "seg.$f" "k/seg.$f" && ok || fail "seg.$f after kill and resume differs"
done
total=$(wc -l <"$T/runs.count")
[ "$total" -le $((runs + 2)) ] && ok || fail "$total runs with a kill, $runs without"
done_testing
