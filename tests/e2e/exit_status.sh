#!/bin/bash
# One exit-status convention for every command (README, "Exit status"; each command's --help):
# 0 the work was done; 1 the work failed or found problems; 2 nothing was done: bad usage, or
# the control file cannot be read, the case has errors or sets an option the command does not
# implement. Every command is run with bad input of each kind, and the status asserted; each
# command's --help states the convention.
. "$(dirname "$0")/lib.bash"
make_rosen_case "$T/r"
cd "$T/r" || exit 1
sed -i 's/^50 0.005 4 4 0.005 4$/2 0.005 4 4 0.005 4/' rosen.pst # NOPTMAX 2: a quick glm
printf 'real,x1,x2\nr0,1.0,1.0\nr1,-1.2,1.0\n' >sweep_in.csv
: >empty.csv

# the kinds of bad case (all in the case folder, so that only the control file differs)
head -c 4096 /dev/zero >nul.pst                                   # binary: NUL bytes
printf 'pcf\n* control data\nrestart estimation\n' | iconv -t UTF-16 >utf16.pst
sed 's/^x1 none relative -1.2/x1 none relative abc/' rosen.pst >parval.pst # PARVAL1 not a number
sed 's/^x2 none relative  1.0 -5.0/x2 none relative  9.0 -5.0/' rosen.pst >bound.pst # check error
sed 's/^par.dat.tpl par.dat$/gone.tpl par.dat/' rosen.pst >notpl.pst # a template that is not there
sed 's#^\./rosen$#false#' rosen.pst >fail.pst                      # every model run fails
unimpl() { { cat rosen.pst; echo "++$1"; } >"unimpl_$2.pst"; }    # changes the result, not done
unimpl 'sweep_base_run(true)' sweep
unimpl 'tie_by_group(true)' jacobian
unimpl 'glm_accept_mc_phi(true)' glm
unimpl 'panther_debug_loop(true)' panther

# status WANT WHAT COMMAND...: run it, assert its exit status; on a mismatch show its stderr
n=0
status() {
  local want=$1 what=$2
  shift 2
  n=$((n + 1))
  "$@" >"$T/out.$n" 2>"$T/err.$n"
  local rc=$?
  if [ "$rc" = "$want" ]; then ok; else
    fail "$what: exit $rc, want $want ($*): $(head -c 400 "$T/err.$n")"
  fi
}
# says WHAT PATTERN: the last command's stderr or stdout names it
says() { if grep -qE -- "$2" "$T/err.$n" "$T/out.$n"; then ok; else fail "$1: no '$2' in: $(head -c 400 "$T/err.$n" "$T/out.$n")"; fi; }
P=$PESTRUN
# ex COMMAND TAG: X is what COMMAND needs besides the case: panther its master, the journaling
# commands a journal of their own (TAG names it)
ex() {
  X=()
  case $1 in
  panther) X=(--master=:1) ;;
  sweep | jacobian | glm) X=("--journal=$T/j.$1.$2") ;;
  esac
}
J() { echo "--journal=$T/j.$1"; }

# every command states the convention in its --help
for cmd in check run sweep jacobian glm report panther agent; do
  "$P" $cmd --help >"$T/help.$cmd"; expect_eq "$cmd --help exit" $? 0
  expect_grep "$cmd --help: exit status" '^exit status:$' "$T/help.$cmd"
  for code in 0 1 2; do expect_grep "$cmd --help: status $code" "^  $code    [a-z]" "$T/help.$cmd"; done
done
for cmd in sweep jacobian glm panther; do
  expect_grep "$cmd --help: status 130" '^  130  stopped by Ctrl-C, SIGTERM or a pest.stp file' "$T/help.$cmd"
done
"$P" --help >"$T/help"; expect_grep "pestrun --help: the convention" '^exit status, the same for every command' "$T/help"

# --- bad usage: 2, for every command ------------------------------------------------------
for cmd in check run sweep jacobian glm report panther; do
  status 2 "$cmd: no control file" "$P" $cmd
  ex $cmd u; status 2 "$cmd: unknown option" "$P" $cmd --frobnicate rosen.pst "${X[@]}"
  says "$cmd: names the unknown option" "^pestrun $cmd: unknown option '--frobnicate'"
  ex $cmd u; status 2 "$cmd: two control files" "$P" $cmd rosen.pst bound.pst "${X[@]}"
done
status 2 "run: bad --timeout" "$P" run --timeout soon rosen.pst
status 2 "report: --out without a value" "$P" report rosen.pst --out
for cmd in sweep jacobian glm panther; do
  ex $cmd u; status 2 "$cmd: bad -j" "$P" $cmd -j none rosen.pst "${X[@]}"
  ex $cmd u; status 2 "$cmd: bad --transport" "$P" $cmd --transport carrier-pigeon rosen.pst "${X[@]}"
  ex $cmd u; status 2 "$cmd: SQS option without --transport sqs" "$P" $cmd --bucket b rosen.pst "${X[@]}"
  says "$cmd: says what goes with sqs" "go with --transport sqs"
  ex $cmd u; status 2 "$cmd: --transport sqs without its queues" "$P" $cmd --transport sqs rosen.pst "${X[@]}"
done
status 2 "panther: no --master" "$P" panther rosen.pst
status 2 "panther: --master without a port" "$P" panther rosen.pst --master localhost
status 2 "panther: a remote master" "$P" panther rosen.pst --master 192.0.2.1:4004
status 2 "panther: --resume is not its option" "$P" panther rosen.pst --master :1 --resume
says "panther: --resume unknown" "unknown option '--resume'"
status 2 "panther: --journal is not its option" "$P" panther rosen.pst --master :1 --journal j
status 2 "agent: no queue" env -u PESTRUN_QUEUE_URL -u PESTRUN_BUCKET "$P" agent
status 2 "agent: an operand" "$P" agent --queue-url http://127.0.0.1:9/q --bucket b extra
status 2 "agent: bad --slots" "$P" agent --queue-url http://127.0.0.1:9/q --bucket b --slots 0
status 2 "agent: bad PESTRUN_SLOTS" env PESTRUN_SLOTS=many "$P" agent --queue-url http://127.0.0.1:9/q --bucket b
status 2 "agent: unknown option" "$P" agent --frobnicate

# --- a control file that cannot be read, or a case that is invalid ---------------------------
for cmd in check run sweep jacobian glm report panther; do
  ex $cmd a; status 2 "$cmd: missing control file" "$P" $cmd nothere.pst "${X[@]}"
  says "$cmd: names the missing file" "nothere\.pst: cannot read"
  ex $cmd b; status 2 "$cmd: a file of NUL bytes" "$P" $cmd nul.pst "${X[@]}"
  says "$cmd: a binary file is named as such" "^nul\.pst:1: a NUL byte \(byte 1 of 4096\): this is a binary file"
  ex $cmd c; status 2 "$cmd: UTF-16" "$P" $cmd utf16.pst "${X[@]}"
  says "$cmd: UTF-16 is named" "^utf16\.pst:1: the file is UTF-16 text"
  ex $cmd d; status 2 "$cmd: PARVAL1 not a number" "$P" $cmd parval.pst "${X[@]}"
  says "$cmd: names the line" "^parval\.pst:14: parameter 'x1': PARVAL1: expected a number, got 'abc'"
done
status 1 "check: a case with errors (findings)" "$P" check bound.pst
says "check: the bound error" "^bound\.pst:15: parameter 'x2': initial value 9 is above its upper bound 5$"
status 1 "check: a missing template (findings)" "$P" check notpl.pst
for cmd in run sweep jacobian glm panther; do
  ex $cmd e; status 2 "$cmd: a case with errors" "$P" $cmd bound.pst "${X[@]}"
  ex $cmd f; status 2 "$cmd: a missing template" "$P" $cmd notpl.pst "${X[@]}"
done
for cmd in sweep jacobian glm panther; do
  ex $cmd g; status 2 "$cmd: an option it does not implement" "$P" $cmd "unimpl_$cmd.pst" "${X[@]}"
  says "$cmd: names it" "is not implemented by 'pestrun $cmd'"
  [ -e "$T/j.$cmd.g" ] && fail "$cmd wrote a journal before refusing" || ok
done
status 0 "check: unimplemented options are warnings" "$P" check unimpl_glm.pst
status 0 "check: a clean case" "$P" check rosen.pst

# --- the work fails: 1 ------------------------------------------------------------------------
status 1 "run: the model run fails" "$P" run fail.pst
says "run: the reason" "the model run failed"
status 1 "jacobian: the base run fails" "$P" jacobian fail.pst -j 2 -q "$(J h)"
status 1 "glm: the base run fails" "$P" glm fail.pst -j 2 -q "$(J i)"
status 1 "sweep: the input CSV is missing" "$P" sweep rosen.pst --in none.csv --out o.csv -q "$(J j)"
says "sweep: names the CSV" "none\.csv: cannot read the sweep input"
status 1 "sweep: the input CSV is empty" "$P" sweep rosen.pst --in empty.csv --out o.csv -q "$(J k)"
status 1 "report: no glm outputs yet" "$P" report rosen.pst
says "report: names the output" "rosen\.iobj: cannot read"
touch pest.stp
status 1 "sweep: pest.stp at the start" "$P" sweep rosen.pst --out o.csv -q "$(J l)"
rm -f pest.stp
status 1 "sweep: SQS queues that do not answer" env AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
  AWS_REGION=us-east-1 AWS_ENDPOINT_URL=http://127.0.0.1:9 "$P" sweep rosen.pst -q "$(J m)" \
  --transport sqs --queue-url http://127.0.0.1:9/0/t --result-queue-url http://127.0.0.1:9/0/r --bucket b
status 1 "agent: a queue that does not answer" env AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
  AWS_REGION=us-east-1 AWS_ENDPOINT_URL=http://127.0.0.1:9 "$P" agent --queue-url http://127.0.0.1:9/0/t \
  --bucket b --slots 1 --no-pin --idle-exit 1

# --- the work is done: 0 ----------------------------------------------------------------------
status 0 "run" "$P" run rosen.pst
status 0 "sweep: rows whose model run fails are output, not an error" "$P" sweep fail.pst --out f.csv -j 2 -q "$(J n)"
expect_eq "sweep: failed rows flagged" "$(awk -F, 'NR > 1 {print $3}' f.csv | sort -u)" 1
status 0 "sweep" "$P" sweep rosen.pst --out o.csv -j 2 -q "$(J o)"
status 0 "jacobian" "$P" jacobian rosen.pst -j 2 -q "$(J p)"
status 0 "glm" "$P" glm rosen.pst -j 2 -q "$(J q)"
status 0 "report after glm" "$P" report rosen.pst
sed -i '3s/^\([0-9]*\),\([0-9]*\),[^,]*/\1,\2,oops/' rosen.iobj
status 1 "report: a malformed glm output" "$P" report rosen.pst
says "report: names file and line" "rosen\.iobj:3: column 'total_phi': expected a number, got 'oops'"

# --- panther against a PANTHER master (tests/panther/master.py) -------------------------------
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
if [ -n "$PY" ]; then
  master() { # SCENARIO: a master in the background ($mpid) on $port
    rm -f "$T/port"
    "$PY" "$SRC/tests/panther/master.py" --scenario "$1" --agents 1 --port-file "$T/port" \
      --scratch "$T" >"$T/master.$1.log" 2>&1 &
    mpid=$!
    for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
    port=$(cat "$T/port" 2>/dev/null)
  }
  master mismatch
  status 1 "panther: the master refuses the case's names" timeout 60 "$P" panther rosen.pst --master ":$port" -j 1 -q
  says "panther: names the difference" "only the master has X3"
  wait $mpid
  master basic
  status 0 "panther: served until TERMINATE" timeout 120 "$P" panther rosen.pst --master ":$port" -j 1 -q
  wait $mpid; expect_eq "master's checks" $? 0
else
  echo "note: no python3: panther's statuses 0 and 1 not checked against a master"
fi
done_testing
