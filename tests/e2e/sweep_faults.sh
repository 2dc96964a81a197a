#!/bin/bash
# Faults during a sweep: kill -9 of a worker, kill -9 of the master then --resume, SIGINT,
# pest.stp. The output is always identical to an undisturbed sweep and no completed run is
# lost or repeated.
. "$(dirname "$0")/lib.bash"
make_rosen_case "$T/r"
cd "$T/r" || exit 1
python3 - <<'PY' || exit 1
import random
random.seed(5)
with open("in.csv", "w") as f:
    f.write("real,x1,x2\n")
    for i in range(120):
        f.write("r%d,%.6f,%.6f\n" % (i, random.uniform(-2, 2), random.uniform(-2, 2)))
PY
# a slow model that records each completed run (its parameter line) in a counter file
cat >slow.sh <<EOF2
#!/bin/sh
sleep 0.05
./rosen || exit 1
cat par.dat >> \$COUNT
EOF2
chmod +x slow.sh
sed -i 's#^\./rosen$#./slow.sh#' rosen.pst
export COUNT="$T/count.ref"
"$PESTRUN" sweep rosen.pst --in in.csv --out ref.csv -j 2 -q --journal j.ref
expect_eq "reference sweep" $? 0
expect_eq "reference ran each row once" "$(wc -l <"$COUNT")" 120

wait_for_lines() { # FILE N: wait (bounded) until FILE has N lines
  for _ in $(seq 200); do [ "$(wc -l <"$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0; sleep 0.05; done
  return 1
}

# kill -9 one worker mid-sweep: its run goes to another worker, the output is unchanged
export COUNT="$T/count.w"; : >"$COUNT"
"$PESTRUN" sweep rosen.pst --in in.csv --out w.csv -j 2 --journal j.w 2>w.err &
master=$!
wait_for_lines "$COUNT" 30
victim=$(pgrep -P "$master" | head -1)
[ -n "$victim" ] && kill -9 "$victim" && ok || fail "no worker to kill"
wait "$master"; expect_eq "sweep after a worker was killed" $? 0
cmp -s ref.csv w.csv && ok || fail "output after a worker kill differs"
expect_grep "the lost worker is counted" "1 workers lost" w.err

# kill -9 the master mid-sweep, then --resume: identical output, completed runs not repeated
export COUNT="$T/count.m"; : >"$COUNT"
"$PESTRUN" sweep rosen.pst --in in.csv --out m.csv -j 2 -q --journal j.m &
master=$!
wait_for_lines "$COUNT" 50
kill -9 "$master"; wait "$master" 2>/dev/null
before=$(wc -l <"$COUNT")
sleep 0.3 # the orphaned workers see the master gone and stop
"$PESTRUN" sweep rosen.pst --in in.csv --out m.csv -j 2 --journal j.m --resume 2>m.err
expect_eq "resumed sweep" $? 0
cmp -s ref.csv m.csv && ok || fail "resumed output differs from the undisturbed one"
total=$(wc -l <"$COUNT")
# every row ran; a row runs twice only if its model finished in the instant between its last
# line and the master journaling it (at most one per worker)
dups=$(( total - $(sort -u "$COUNT" | wc -l) ))
[ "$(sort -u "$COUNT" | wc -l)" -eq 120 ] && ok || fail "not every row ran"
[ "$dups" -le 2 ] && ok || fail "$dups rows ran twice (runs done before the kill: $before)"
expect_grep "resume reused the journal" "resuming: [1-9][0-9]* completed runs" m.err

# SIGINT: stops, exit 130, the journal has every finished run; --resume completes
export COUNT="$T/count.i"; : >"$COUNT"
"$PESTRUN" sweep rosen.pst --in in.csv --out i.csv -j 2 --journal j.i 2>i.err &
master=$!
wait_for_lines "$COUNT" 30
kill -INT "$master"; wait "$master"; expect_eq "SIGINT exit status" $? 130
expect_grep "stop explained" "stopped by SIGINT" i.err
lines=$(wc -l <i.csv)
[ "$lines" -lt 121 ] && ok || fail "a stopped sweep wrote every row"
"$PESTRUN" sweep rosen.pst --in in.csv --out i.csv -j 2 -q --journal j.i --resume
cmp -s ref.csv i.csv && ok || fail "output after SIGINT + resume differs"
[ "$(sort -u "$COUNT" | wc -l)" -eq 120 ] && ok || fail "not every row ran after SIGINT"

# pest.stp stops a sweep the same way; its presence blocks a start
export COUNT="$T/count.s"; : >"$COUNT"
"$PESTRUN" sweep rosen.pst --in in.csv --out s.csv -j 2 --journal j.s 2>s.err &
master=$!
wait_for_lines "$COUNT" 20
echo 1 >pest.stp
wait "$master"; expect_eq "pest.stp exit status" $? 130
expect_grep "pest.stp named" "stopped by pest.stp" s.err
"$PESTRUN" sweep rosen.pst --in in.csv --out s.csv -q --journal j.s --resume 2>s2.err
expect_eq "start refused while pest.stp exists" $? 1
expect_grep "pest.stp refusal" "pest.stp exists" s2.err
rm pest.stp
"$PESTRUN" sweep rosen.pst --in in.csv --out s.csv -j 2 -q --journal j.s --resume
cmp -s ref.csv s.csv && ok || fail "output after pest.stp + resume differs"
# no model process is left behind by any of this
sleep 0.2
left=$(pgrep -f "slow.sh" | wc -l)
expect_eq "no stray processes" "$left" 0
done_testing
