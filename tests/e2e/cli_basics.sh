#!/bin/bash
# The binary's help, version and usage errors.
. "$(dirname "$0")/lib.bash"
"$PESTRUN" --help >"$T/help" 2>&1; expect_eq "--help exit" $? 0
expect_grep "--help lists check" '^  check ' "$T/help"
expect_grep "--help lists run" '^  run ' "$T/help"
"$PESTRUN" --version >"$T/ver"; expect_eq "--version exit" $? 0
expect_grep "--version" '^pestrun [0-9]+\.[0-9]+\.[0-9]+$' "$T/ver"
for cmd in check run sweep jacobian glm report panther agent; do
  "$PESTRUN" $cmd --help >"$T/h.$cmd" 2>&1; expect_eq "$cmd --help exit" $? 0
  expect_grep "$cmd --help" "^usage: pestrun $cmd" "$T/h.$cmd"
  "$PESTRUN" $cmd -h >"$T/h2.$cmd" 2>&1; expect_eq "$cmd -h exit" $? 0
  expect_eq "$cmd -h is --help" "$(cmp -s "$T/h.$cmd" "$T/h2.$cmd" && echo same)" same
  env -u PESTRUN_QUEUE_URL -u PESTRUN_BUCKET "$PESTRUN" $cmd >/dev/null 2>"$T/e.$cmd"
  expect_eq "$cmd without a case" $? 2
  expect_grep "$cmd without a case: one line pointing at --help" "see 'pestrun $cmd --help'" "$T/e.$cmd"
  expect_eq "$cmd without a case: one line" "$(wc -l <"$T/e.$cmd")" 1
  "$PESTRUN" $cmd --no-such-option x.pst >/dev/null 2>"$T/u.$cmd"; expect_eq "$cmd unknown option" $? 2
  expect_grep "$cmd unknown option named" "^pestrun $cmd: unknown option '--no-such-option'" "$T/u.$cmd"
done
"$PESTRUN" frobnicate >/dev/null 2>"$T/unk"; expect_eq "unknown command exit" $? 2
expect_grep "unknown command message" "unknown command 'frobnicate'" "$T/unk"
"$PESTRUN" run "$T/nonexistent.pst" >/dev/null 2>"$T/nf"; expect_eq "missing case exit" $? 2
expect_grep "missing case message" "nonexistent.pst: cannot read: No such file" "$T/nf"
done_testing
