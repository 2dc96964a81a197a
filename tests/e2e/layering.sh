#!/bin/bash
# Which folder may include which (docs/ARCHITECTURE.md, "Dependency direction"), checked on the
# sources' #include lines:
#  - aws/ includes only its own headers and src/util/ (no PEST, scheduler, model, algorithm,
#    transport or agent header), and no two of its modules include each other, directly or
#    through others (a module: NAME.c with NAME.h);
#  - src/util/ includes only its own headers;
#  - agent/agent.{c,h}, the loop every transport shares, includes no transport and no AWS header
#    (the SQS agent in agent/ sits above the transports, the shared loop below them).
# Each rule is shown to fail on a copy of the tree broken on purpose.
. "$(dirname "$0")/lib.bash"
command -v tsort >/dev/null || skip "tsort (coreutils) is needed"

# includes FILE...: "FILE<TAB>quoted|angle<TAB>PATH" for every #include line.
includes() {
  awk '{
    if (match($0, /^[ \t]*#[ \t]*include[ \t]*"[^"]+"/)) {
      s = substr($0, RSTART, RLENGTH); sub(/^[^"]*"/, "", s); sub(/"$/, "", s)
      print FILENAME "\tquoted\t" s
    } else if (match($0, /^[ \t]*#[ \t]*include[ \t]*<[^>]+>/)) {
      s = substr($0, RSTART, RLENGTH); sub(/^[^<]*</, "", s); sub(/>$/, "", s)
      print FILENAME "\tangle\t" s
    }
  }' "$@"
}

project_dirs='^(\.\./)*(src/)?(util|pest|sched|model|algo|cli|panther|transport|agent|aws)/'

# check_self_contained DIR ALLOWED_PREFIX_RE: every quoted include of DIR/*.[ch] is a header of
# DIR or matches ALLOWED_PREFIX_RE (empty: none); no angle include names a project folder.
# Prints one line per offence; returns 1 when there is one.
check_self_contained() {
  local dir=$1 allowed=$2 file kind path bad=0
  while IFS=$'\t' read -r file kind path; do
    if [ "$kind" = angle ]; then
      [[ $path =~ $project_dirs ]] && { echo "$file: #include <$path>: a project header"; bad=1; }
      continue
    fi
    if [[ $path != */* ]]; then
      [ -f "$dir/$path" ] || { echo "$file: #include \"$path\": not a header of $dir"; bad=1; }
    elif [ -z "$allowed" ] || ! [[ $path =~ $allowed ]]; then
      echo "$file: #include \"$path\": outside what $dir may include"
      bad=1
    fi
  done < <(includes "$dir"/*.[ch])
  return $bad
}

# check_no_circle DIR: the modules of DIR (NAME.c and NAME.h together) include each other in
# no circle. Prints the circle; returns 1 when there is one.
check_no_circle() {
  local dir=$1 file kind path from to out
  out=$(while IFS=$'\t' read -r file kind path; do
    [ "$kind" = quoted ] && [[ $path != */* ]] && [ -f "$dir/$path" ] || continue
    from=$(basename "$file") from=${from%.*} to=${path%.*}
    echo "$from $from"  # every module a node, even one that includes nothing here
    [ "$from" = "$to" ] || echo "$from $to"
  done < <(includes "$dir"/*.[ch]) | tsort 2>&1 >/dev/null)
  [ -z "$out" ] && return 0
  echo "$dir: include circle: $(printf '%s\n' "$out" | grep -v 'input contains a loop' | sed 's/^tsort: //' | tr '\n' ' ')"
  return 1
}

check_tree() {
  local root=$1 bad=0
  check_self_contained "$root/aws" '^util/' || bad=1
  check_no_circle "$root/aws" || bad=1
  check_self_contained "$root/src/util" '' || bad=1
  while IFS=$'\t' read -r file kind path; do
    if [[ $path =~ ^(\.\./)*(transport|aws)/ ]]; then
      echo "$file: #include \"$path\": the shared agent loop is below the transports"
      bad=1
    fi
  done < <(includes "$root/agent/agent.c" "$root/agent/agent.h")
  return $bad
}

# 1. the tree as it is
if out=$(check_tree "$SRC"); then ok; else fail "the tree breaks the layering: $out"; fi
# the check reads something: aws/ has its modules and includes
n=$(includes "$SRC"/aws/*.[ch] | grep -c quoted)
[ "$n" -ge 10 ] && ok || fail "only $n quoted includes found in aws/"

# 2. copies broken on purpose are caught, each for its reason
broken() { # NAME FILE LINE: a copy of the tree with LINE added to FILE; then check it
  local c="$T/$1"
  mkdir -p "$c/src" "$c/agent"
  cp -r "$SRC/aws" "$c/aws"
  cp -r "$SRC/src/util" "$c/src/util"
  cp "$SRC"/agent/agent.[ch] "$c/agent/"
  printf '%s\n' "$3" >>"$c/$2"
  check_tree "$c"
}
expect_caught() { # WHAT PATTERN NAME FILE LINE
  local what=$1 pattern=$2 out
  shift 2
  if out=$(broken "$@"); then fail "$what: not caught"
  elif grep -qE -- "$pattern" <<<"$out"; then ok
  else fail "$what: caught, but said: $out"; fi
}
expect_caught "aws/ including the PEST case" 'pest/pst.h.*outside' b1 aws/s3.c '#include "pest/pst.h"'
expect_caught "aws/ including the scheduler" 'sched/run.h.*outside' b2 aws/sqs.h '#include "sched/run.h"'
expect_caught "aws/ including the model runner" 'model/runner.h.*outside' b3 aws/http.c '#include "model/runner.h"'
expect_caught "aws/ including an algorithm" 'algo/glm.h.*outside' b4 aws/sigv4.c '#include "algo/glm.h"'
expect_caught "aws/ including the SQS transport" 'transport/sqs/msg.h.*outside' b5 aws/creds.c '#include "transport/sqs/msg.h"'
expect_caught "aws/ including an agent" 'agent/agent.h.*outside' b6 aws/aws.h '#include "agent/agent.h"'
expect_caught "aws/ including a relative path" '\.\./src/pest/pst.h.*outside' b7 aws/aws.c '#include "../src/pest/pst.h"'
expect_caught "aws/ including a project header with <>" 'sched/sched.h.*project header' b8 aws/sqs.c '#include <sched/sched.h>'
expect_caught "aws/ including a header it does not have" 'bundle.h.*not a header' b9 aws/s3.c '#include "bundle.h"'
expect_caught "the circle aws <-> creds" 'include circle:.*(aws|creds)' b10 aws/aws.c '#include "creds.h"'
expect_caught "a longer circle sigv4 -> http -> sigv4" 'include circle:.*(http|sigv4)' b11 aws/sigv4.h '#include "http.h"'
expect_caught "src/util including the PEST case" 'pest/pst.h.*outside' b12 src/util/csv.c '#include "pest/pst.h"'
expect_caught "the shared agent loop including a transport" 'below the transports' b13 agent/agent.c '#include "transport/local/local.h"'

done_testing
