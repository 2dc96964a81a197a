#!/bin/bash
# The binary's help, version and usage errors.
. "$(dirname "$0")/lib.bash"
"$PESTRUN" --help >"$T/help" 2>&1; expect_eq "--help exit" $? 0
expect_grep "--help lists check" '^  check ' "$T/help"
expect_grep "--help lists run" '^  run ' "$T/help"
"$PESTRUN" --version >"$T/ver"; expect_eq "--version exit" $? 0
expect_grep "--version" '^pestrun [0-9]+\.[0-9]+\.[0-9]+$' "$T/ver"
for cmd in check run; do
  "$PESTRUN" $cmd --help >"$T/h.$cmd" 2>&1; expect_eq "$cmd --help exit" $? 0
  expect_grep "$cmd --help" "^usage: pestrun $cmd" "$T/h.$cmd"
  "$PESTRUN" $cmd >/dev/null 2>&1; expect_eq "$cmd without a case" $? 2
done
"$PESTRUN" frobnicate >/dev/null 2>"$T/unk"; expect_eq "unknown command exit" $? 2
expect_grep "unknown command message" "unknown command 'frobnicate'" "$T/unk"
"$PESTRUN" run "$T/nonexistent.pst" >/dev/null 2>"$T/nf"; expect_eq "missing case exit" $? 2
expect_grep "missing case message" "nonexistent.pst: cannot read: No such file" "$T/nf"
done_testing
