#!/bin/bash
# pestrun report: after a glm calibration of the example case, a self-contained, well-formed
# HTML report with its charts and tables; missing and malformed outputs named with file and line.
. "$(dirname "$0")/lib.bash"
[ -x "$BIN/examples/gwflow/gwflow" ] || skip "the example case is not built in $BIN/examples"
cp -r "$BIN/examples/gwflow" "$T/gw"
cd "$T/gw" || exit 1
rm -f gwflow.iobj gwflow.ipar gwflow.iruns.csv gwflow.rei gwflow.par gwflow.rec gwflow.jcb \
  gwflow.journal gwflow.best.pst gwflow.report.html
H=gwflow.report.html

# usage
"$PESTRUN" report --help >help.txt; expect_eq "--help" $? 0
expect_grep "help names --out" "--out FILE" help.txt
"$PESTRUN" report >/dev/null 2>&1; expect_eq "no control file" $? 2
"$PESTRUN" report --bogus gwflow.pst >/dev/null 2>&1; expect_eq "unknown option" $? 2
"$PESTRUN" --help | grep -q '^  report ' && ok || fail "report not listed in pestrun --help"

# no calibration yet: exit 1 naming the missing file, nothing written
"$PESTRUN" report gwflow.pst >out.txt 2>err.txt; expect_eq "report before glm" $? 1
expect_grep "missing output named" "gwflow\.iobj: cannot read" err.txt
expect_grep "says what writes it" "pestrun glm" err.txt
[ -e $H ] && fail "a report was written without outputs" || ok
"$PESTRUN" report nothere.pst >/dev/null 2>err.txt; expect_eq "missing control file" $? 1
expect_grep "missing control file named" "nothere\.pst" err.txt

"$PESTRUN" glm -q gwflow.pst; expect_eq "glm" $? 0
"$PESTRUN" report gwflow.pst >out.txt 2>err.txt; expect_eq "report" $? 0
expect_grep "says where" "gwflow\.report\.html" out.txt
[ -s $H ] && ok || fail "no $H"

python3 - $H <<'PY' && ok || fail "$H is not well-formed XHTML-compatible HTML"
import sys, xml.dom.minidom
text = open(sys.argv[1], encoding="utf-8").read()
assert text.startswith("<!DOCTYPE html>\n"), "doctype"
xml.dom.minidom.parseString(text[text.index("\n") + 1:].encode("utf-8"))
PY
if command -v xmllint >/dev/null; then
  tail -n +2 $H | xmllint --noout - && ok || fail "xmllint rejects $H"
fi
nsvg=$(grep -o '<svg' $H | wc -l)
[ "$nsvg" -ge 5 ] && ok || fail "$nsvg <svg> charts, want 5 or more"
expect_eq "no network references" \
  "$(grep -oE 'https?://[^" ]*' $H | grep -vx 'http://www.w3.org/2000/svg' | wc -l)" 0
grep -qiE '<script|<link|<img|src=' $H && fail "external or scripted content" || ok

# every parameter and observation group of the control file, and the final phi as gwflow.iobj
# prints it
section() { awk -v s="$1" '/^\*/ {on = ($0 == s); next} on && NF {print tolower($1)}' gwflow.pst; }
for p in $(section "* parameter data"); do
  grep -qF ">$p<" $H && ok || fail "parameter $p not in the report"
done
for g in $(section "* observation groups"); do
  grep -qF ">$g<" $H && ok || fail "observation group $g not in the report"
done
expect_eq "parameters named" "$(section "* parameter data" | wc -l)" 5
final=$(tail -n 1 gwflow.iobj | cut -d, -f3)
grep -qF ">$final<" $H && ok || fail "final phi $final not in the report"
expect_grep "stop reason" "$(grep '^stopped: ' gwflow.rec | sed 's/^stopped: //')" $H

# --out; a report without CASE.iruns.csv (runs from CASE.iobj only)
mkdir sub
"$PESTRUN" report --out sub/r.html gwflow.pst >/dev/null; expect_eq "--out" $? 0
[ -s sub/r.html ] && ok || fail "--out wrote nothing"
mv gwflow.iruns.csv iruns.keep
"$PESTRUN" report -o noruns.html gwflow.pst >/dev/null; expect_eq "without iruns.csv" $? 0
expect_grep "noted" "iruns.csv was not found" noruns.html
mv iruns.keep gwflow.iruns.csv

# malformed and stale outputs: exit 1 with file and line
cp gwflow.iobj iobj.keep
sed -i '3s/^\([^,]*,[^,]*,\)[^,]*/\1oops/' gwflow.iobj
"$PESTRUN" report gwflow.pst >/dev/null 2>err.txt; expect_eq "bad number" $? 1
expect_grep "file and line" "gwflow\.iobj:3: column 'total_phi': expected a number, got 'oops'" err.txt
cp iobj.keep gwflow.iobj
sed -i '1s/heads/wells/' gwflow.iobj
"$PESTRUN" report gwflow.pst >/dev/null 2>err.txt; expect_eq "unknown group" $? 1
expect_grep "stale group" "gwflow\.iobj:1: column 'wells' is not an observation group" err.txt
cp iobj.keep gwflow.iobj
cp gwflow.rei rei.keep
sed -i '6s/ heads / heads 1.0 /' gwflow.rei
"$PESTRUN" report gwflow.pst >/dev/null 2>err.txt; expect_eq "short rei row" $? 1
expect_grep "rei line" "gwflow\.rei:6: 7 fields where a residual row has 6" err.txt
cp rei.keep gwflow.rei
"$PESTRUN" report gwflow.pst >/dev/null; expect_eq "restored" $? 0

done_testing
