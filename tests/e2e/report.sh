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
"$PESTRUN" report nothere.pst >/dev/null 2>err.txt; expect_eq "missing control file (2: input not read)" $? 2
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

# FOSM summaries (CASE.par.usum.csv, CASE.pred.usum.csv, as pestpp-glm writes them): a section
# with each forecast's prior and posterior and the parameter uncertainty reduction when they are
# beside the case, none when they are not
rm -f gwflow.par.usum.csv gwflow.pred.usum.csv
"$PESTRUN" report gwflow.pst >/dev/null; expect_eq "report without FOSM summaries" $? 0
grep -q 'id="uncertainty"' $H && fail "an uncertainty section without FOSM summaries" || ok
nsvg0=$(grep -o '<svg' $H | wc -l)
usum_head=name,prior_mean,prior_stdev,prior_lower_bound,prior_upper_bound,post_mean,post_stdev
usum_head=$usum_head,post_lower_bound,post_upper_bound
{
  echo "$usum_head"
  echo "hk1,0.69897,0.924743,-1.15051,2.54846,-0.0411644,0.533096,-1.10736,1.02503"
  echo "hk2,0.69897,0.924743,-1.15051,2.54846,-0.30103,0.512522,-1.32607,0.724014"
  echo "hk3,1,0.924743,-0.849485,2.84949,0.955252,0.419233,0.116786,1.79372"
  echo "hk4,1.30103,0.924743,-0.548455,3.15051,0.30103,0.515827,-0.730624,1.33268"
  echo "rch,2,0.61928,0.761439,3.23856,2.02288,0.407779,1.20732,2.83843"
} >gwflow.par.usum.csv
{
  echo "$usum_head"
  echo "h10,95.2437,0.573631,94.0965,96.391,96.3497,0.184223,95.9812,96.7181"
  echo "h12,95.765,1.50238,92.7602,98.7697,98.0248,0.290545,97.4437,98.6059"
  echo "q_east,1050.21,1310.1,-1570,3670.41,557.115,1059.46,-1561.81,2676.04"
} >gwflow.pred.usum.csv
"$PESTRUN" report gwflow.pst >/dev/null 2>err.txt; expect_eq "report with FOSM summaries" $? 0
expect_grep "uncertainty section" 'id="uncertainty"' $H
expect_grep "uncertainty in the navigation" 'href="#uncertainty"' $H
for f in h10 h12 q_east; do
  grep -qF "<title>$f</title>" $H && ok || fail "no prior/posterior chart for forecast $f"
done
expect_grep "posterior mean +/- 2 stdev" 'posterior: mean 96.35, stdev 0.1842 \(95.98 to 96.72\)' $H
expect_grep "prior mean +/- 2 stdev" 'prior: mean 1050, stdev 1310 \(-1570 to 3670\)' $H
expect_grep "reduction chart" '<title>Parameter uncertainty reduction</title>' $H
expect_grep "a parameter's reduction" \
  'hk3 \(hk\): stdev 0.9247 prior, 0.4192 posterior: reduction 0.5466' $H
expect_grep "a forecast's reduction" '>67.9%<' $H
expect_eq "charts added (3 forecasts, 1 reduction)" $(($(grep -o '<svg' $H | wc -l) - nsvg0)) 4
python3 - $H <<'PY' && ok || fail "$H with FOSM summaries is not well-formed"
import sys, xml.dom.minidom
text = open(sys.argv[1], encoding="utf-8").read()
xml.dom.minidom.parseString(text[text.index("\n") + 1:].encode("utf-8"))
PY
# only the parameter summary: the reduction chart, and a note instead of the forecasts
mv gwflow.pred.usum.csv pred.keep
"$PESTRUN" report gwflow.pst >/dev/null; expect_eq "parameter summary only" $? 0
expect_grep "no forecast summary noted" 'No forecast summary \(gwflow\.pred\.usum\.csv\)' $H
expect_grep "reduction chart alone" '<title>Parameter uncertainty reduction</title>' $H
mv pred.keep gwflow.pred.usum.csv
# malformed and stale summaries: exit 1 with file and line
cp gwflow.par.usum.csv usum.keep
sed -i '3s/,0.512522,/,x,/' gwflow.par.usum.csv
"$PESTRUN" report gwflow.pst >/dev/null 2>err.txt; expect_eq "bad usum number" $? 1
expect_grep "usum file and line" \
  "gwflow\.par\.usum\.csv:3: column 'post_stdev': expected a number, got 'x'" err.txt
cp usum.keep gwflow.par.usum.csv
sed -i '2s/^h10,/h99,/' gwflow.pred.usum.csv
"$PESTRUN" report gwflow.pst >/dev/null 2>err.txt; expect_eq "stale forecast" $? 1
expect_grep "stale forecast named" \
  "gwflow\.pred\.usum\.csv:2: 'h99' is not an observation of gwflow\.pst" err.txt
sed -i '1s/post_stdev/post_sd/' gwflow.pred.usum.csv
"$PESTRUN" report gwflow.pst >/dev/null 2>err.txt; expect_eq "usum without a column" $? 1
expect_grep "missing column named" "gwflow\.pred\.usum\.csv:1: no column 'post_stdev'" err.txt

done_testing
