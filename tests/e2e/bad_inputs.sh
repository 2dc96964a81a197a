#!/bin/bash
# The corpus of malformed cases in tests/bad: each gives its exact error messages and exit
# status, and `pestrun run` refuses each without crashing.
. "$(dirname "$0")/lib.bash"
for d in "$SRC"/tests/bad/*/; do
  name=$(basename "$d")
  cp -r "$d" "$T/$name"
  got=$(cd "$T/$name" && "$PESTRUN" check --quiet case.pst 2>&1; echo "exit $?")
  want=$(cat "$d/expected")
  if [ "$got" == "$want" ]; then ok; else
    fail "$name: check output differs"; diff <(echo "$want") <(echo "$got") | sed 's/^/    /'
  fi
  (cd "$T/$name" && "$PESTRUN" run case.pst >/dev/null 2>"$T/$name.err"); rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ]; then ok; else fail "$name: run exit $rc"; fi
done
done_testing
