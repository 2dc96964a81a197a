#!/bin/bash
# `pestrun COMMAND --help` lists exactly the options COMMAND accepts. Each command's parser and
# help are made from one table (src/cli/options.h): every option its help lists is accepted
# (with a value when the help names one); every option of any other command's help and of the
# option tables in src/cli/ that it does not list is refused as unknown; and no command has a
# getopt table of its own beside that.
. "$(dirname "$0")/lib.bash"
cd "$T" || exit 1
P=$PESTRUN
commands="check run sweep jacobian glm ies report panther agent plan"

"$P" --help >help.main
expect_eq "pestrun --help lists every command" \
  "$(sed -n '/^commands:$/,/^$/p' help.main | awk 'NF > 1 {print $1}' | xargs)" "$commands"

# The options a help lists: "NAME SHORT ARG" lines (SHORT and ARG "-" when none).
listed() {
  sed -nE 's/^  (-([A-Za-z]), |    )--([a-z][a-z0-9-]*)( ([^ ]+))?( .*)?$/\3|\2|\5/p' "$1" |
    awk -F'|' '{print $1, ($2 == "" ? "-" : $2), ($3 == "" ? "-" : $3)}'
}
# A value for an option, from the name the help gives it; the master/agent-only ones are real.
value_for() {
  case $1 in
  N) echo 2 ;;
  SEC) echo 5 ;;
  FILE) echo "$T/file" ;;
  DIR) echo "$T" ;;
  PATH) echo "$T/health" ;;
  T) echo local ;;
  F) echo text ;;
  URL) echo "http://127.0.0.1:9/0/q" ;;
  NAME | P | K) echo x ;;
  HOST:PORT) echo "localhost:1" ;;
  SPEC) echo "workers=2" ;;
  M) echo glm ;;
  USD) echo 1 ;;
  GB) echo 2 ;;
  *) return 1 ;;
  esac
}
parser_error='unknown option|ambiguous option|takes no value|needs a value'

for cmd in $commands; do
  "$P" $cmd --help >"help.$cmd"; expect_eq "$cmd --help" $? 0
  listed "help.$cmd" >"opts.$cmd"
  [ "$(wc -l <"opts.$cmd")" -ge 2 ] && ok || fail "$cmd --help lists $(wc -l <"opts.$cmd") options"
  expect_grep "$cmd --help lists --help" '^help h -$' "opts.$cmd"
done

# 1. every listed option (long and short form) is accepted by the parser: the command goes on
# to its control file (missing here) or, for agent, to its queue and bucket
for cmd in $commands; do
  base=("$T/none.pst")
  [ "$cmd" = panther ] && base+=(--master localhost:1)
  [ "$cmd" = agent ] && base=()
  while read -r name short arg; do
    [ "$name" = help ] && continue
    forms=("--$name")
    [ "$short" != - ] && forms+=("-$short")
    for form in "${forms[@]}"; do
      args=("$form")
      if [ "$arg" != - ]; then
        v=$(value_for "$arg") || { fail "$cmd $form: no test value for '$arg'"; continue; }
        args+=("$v")
      fi
      [ "$cmd $name" = "panther master" ] && args=(--master localhost:2)
      "$P" $cmd "${args[@]}" "${base[@]}" >out 2>err
      rc=$?
      cat out >>err # check prints what it cannot read on stdout
      if grep -qE "$parser_error" err; then
        fail "$cmd: $form is listed but the parser refuses it: $(head -c 300 err)"
      elif [ $rc -ne 2 ]; then
        fail "$cmd ${args[*]}: exit $rc, want 2 (no control file, queue or transport): $(head -c 300 err)"
      elif grep -qE "none\.pst: cannot read|go with --transport sqs|goes with --transport sim|needs --queue-url|are needed" err; then
        ok
      else
        fail "$cmd ${args[*]}: did not reach its case: $(head -c 300 err)"
      fi
    done
  done <"opts.$cmd"
done

# 2. the union of the options of every help and of every option table in src/cli (entries
# {"name", ID, ARG, "help"}): each table entry is in some help, and an option a command does
# not list is unknown to it (an abbreviation of one it lists is skipped: getopt takes those)
cat opts.* | awk '{print $1}' | sort -u >all.help
sed -nE 's/^ *\{"([a-z][a-z0-9-]*)", *([A-Za-z_0-9]+|'"'"'[a-zA-Z]'"'"'|[0-9 +]+), *(NULL|"[^"]*"),.*$/\1/p' \
  "$SRC"/src/cli/*.c | sort -u >all.tables
echo help >>all.tables
sort -u -o all.tables all.tables
# 30 names today: a regex that stopped matching the tables would find far fewer
[ "$(wc -l <all.tables)" -ge 25 ] && ok || fail "only $(wc -l <all.tables) options found in src/cli's tables"
missing=$(comm -23 all.tables all.help | xargs)
expect_eq "every table entry is in some command's help" "$missing" ""
extra=$(comm -13 all.tables all.help | xargs)
expect_eq "every option of a help is in a table" "$extra" ""
for cmd in $commands; do
  while read -r name; do
    if awk '{print $1}' "opts.$cmd" | grep -qx -- "$name"; then continue; fi
    if awk '{print $1}' "opts.$cmd" | grep -q -- "^$name"; then continue; fi # an abbreviation
    "$P" $cmd "--$name" >out 2>err
    rc=$?
    if [ $rc -eq 2 ] && grep -q "^pestrun $cmd: unknown option '--$name'" err; then ok; else
      fail "$cmd accepts --$name, which its help does not list (exit $rc): $(head -c 200 err)"
    fi
  done <all.tables
  for s in $(cat opts.* | awk '$2 != "-" {print $2}' | sort -u); do
    awk '{print $2}' "opts.$cmd" | grep -qx -- "$s" && continue
    "$P" $cmd "-$s" >out 2>err
    rc=$?
    if [ $rc -eq 2 ] && grep -q "^pestrun $cmd: unknown option '-$s'" err; then ok; else
      fail "$cmd accepts -$s, which its help does not list (exit $rc): $(head -c 200 err)"
    fi
  done
done

# 3. one table: no command builds a getopt table or prints option help by hand
for f in "$SRC"/src/cli/*.c; do
  case $(basename "$f") in options.c) continue ;; esac
  if grep -nE 'getopt_long|struct option |optind|optarg' "$f" >hits; then
    fail "$(basename "$f") parses options outside the option table: $(head -3 hits)"
  else ok; fi
  if grep -nE '"  +-[a-z-], --|"      --[a-z]' "$f" >hits; then
    fail "$(basename "$f") writes option help by hand: $(head -3 hits)"
  else ok; fi
done

# the commands that run a case keep --forgive-unimplemented; panther has no journal options
for cmd in sweep jacobian glm ies run panther; do
  expect_grep "$cmd keeps --forgive-unimplemented" '^forgive-unimplemented - -$' "opts.$cmd"
done
grep -qE '^(resume|journal) ' opts.panther && fail "panther lists --resume or --journal" || ok
for cmd in sweep jacobian glm ies; do
  expect_grep "$cmd lists --resume" '^resume - -$' "opts.$cmd"
  expect_grep "$cmd lists --journal FILE" '^journal - FILE$' "opts.$cmd"
done
done_testing
