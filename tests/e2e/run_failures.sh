#!/bin/bash
# Failed model runs: a non-zero exit, a hang past the time limit (the whole process group is
# killed), garbage output, a missing output, a stale output from an earlier run.
. "$(dirname "$0")/lib.bash"
F="$BIN/examples/failing"
[ -x "$F/hang" ] || skip "failure models not built"
cp -r "$F" "$T/f"
cd "$T/f" || exit 1

"$PESTRUN" run fail_exit.pst >out 2>err; expect_eq "non-zero exit fails the run" $? 1
expect_grep "exit status named" "the model run failed: model command 1 './fail_exit' exited with status 3" err
expect_grep "working copy kept" "its working copy is kept in " err
[ ! -e fail_exit.rei ] && ok || fail "a failed run wrote a .rei"

start=$(date +%s)
"$PESTRUN" run --timeout 1 hang.pst >out 2>err; expect_eq "hang fails the run" $? 1
took=$(( $(date +%s) - start ))
[ "$took" -lt 10 ] && ok || fail "the time limit of 1 s took $took s"
expect_grep "time limit named" "longer than the time limit of 1 s; its process group was killed" err

# a command that leaves a child behind: the child dies with the group
sed 's#^\./hang$#./hang --with-child#' hang.pst >hangc.pst
"$PESTRUN" run --timeout 1 hangc.pst >out 2>err; expect_eq "hang with child fails" $? 1
sleep 0.2 # let the kernel reap the killed group before looking for it
wd=$(sed -n 's/.*working copy is kept in //p' err)
pids=$(sed -n 's/^hang: pids //p' "$wd/pestrun-model.log")
[ -n "$pids" ] && ok || fail "the hang model did not report its pids"
for p in $pids; do
  if kill -0 "$p" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null; then
    fail "process $p of the killed group is still alive"; kill -9 "$p"
  else ok; fi
done

"$PESTRUN" run garbage.pst >out 2>err; expect_eq "garbage output fails the run" $? 1
expect_grep "instruction error names the file, line and instruction" \
  "garbage.out.ins:2: instruction '!y!': .*garbage.out line 2" err

# the model writes no output at all
sed 's#^\./fail_exit$#true#' fail_exit.pst >noout.pst
"$PESTRUN" run noout.pst >out 2>err; expect_eq "missing output fails the run" $? 1
expect_grep "missing output named" "model output file 'fail_exit.out' was not written by the model" err

# a stale output file in the case folder is deleted before the run, never read
printf '# stale\ny = 5.0\n' >fail_exit.out
"$PESTRUN" run noout.pst >out 2>err; expect_eq "stale output is not read" $? 1
expect_grep "stale output deleted" "'fail_exit.out' was not written" err

# several commands run in order; the second sees the first's work (quotes are removed from
# command lines as PEST++ does, so the sed program lives in a script)
cat >mkout.sh <<'SH'
sed -n 's/.*= *\(.*\)/y = \1/p' fail_exit.in >fail_exit.out
SH
sed 's#^\./fail_exit$#echo 1 >> order.txt\necho 2 >> order.txt \&\& cp order.txt seen.txt \&\& sh mkout.sh#' fail_exit.pst >multi.pst
"$PESTRUN" run --keep-workdir multi.pst >out 2>err; expect_eq "two commands" $? 0
wd=$(sed -n 's/^working copy kept in //p' out)
expect_eq "commands ran in order" "$(tr '\n' ' ' <"$wd/seen.txt")" "1 2 "
# the template wrote x = 0.25 in a 22-character space; y read back is x
expect_grep "phi from the value as written" '^phi: 3.0625 ' out
rm -rf "$wd"
done_testing
