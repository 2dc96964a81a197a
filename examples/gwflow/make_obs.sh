#!/bin/sh
# make_obs.sh: make the synthetic observations of the gwflow example case.
#
#   usage: make_obs.sh [--check | --print-input] [GWFLOW]
#
# Runs GWFLOW once, in a scratch directory, on gwflow.in written from gwflow.in.tpl with the true
# parameter values below (each multiplied by its SCALE and plus its OFFSET from gwflow.pst, as
# PEST does), then
#   (default)      puts the simulated values into gwflow.pst as the observation values, and the
#                  simulated heads into the HOB block of gwflow.in.tpl as "observed head";
#   --check        exits 1 unless every observation value in gwflow.pst equals the simulated
#                  value (relative difference at most 1e-9); nothing is changed;
#   --print-input  prints the model input at the true values (a ready gwflow.in) and stops.
# No noise is added: at the true parameters every residual is zero to ~1e-12.
#
# GWFLOW defaults to $GWFLOW, then ../../build/examples/gwflow/gwflow next to this script.
set -eu

# True parameter values, in PEST control space (hk in m/d, rch in mm/yr).
TRUE_VALUES="hk1=15 hk2=1.5 hk3=40 hk4=6 rch=300"

here=$(cd "$(dirname "$0")" && pwd)
pst=$here/gwflow.pst
tpl=$here/gwflow.in.tpl

die() {
    echo "make_obs.sh: $*" >&2
    exit 1
}

mode=update
case ${1:-} in
--check) mode=check; shift ;;
--print-input) mode=print; shift ;;
-*) die "usage: make_obs.sh [--check | --print-input] [GWFLOW]" ;;
esac
gwflow=${1:-${GWFLOW:-$here/../../build/examples/gwflow/gwflow}}
[ -x "$gwflow" ] || die "$gwflow: no such executable (build it, or pass its path)"
gwflow=$(cd "$(dirname "$gwflow")" && pwd)/$(basename "$gwflow")

# Write the model input from the template: every space "~ name ~" gets value * SCALE + OFFSET
# in %.Ne format filling the space's full width, as pestrun does for a 20-character space.
fill_template() {
    awk -v values="$TRUE_VALUES" '
        BEGIN { n = split(values, kv, " ")
                for (k = 1; k <= n; k++) { split(kv[k], p, "="); val[p[1]] = p[2] } }
        FNR == NR { if ($0 ~ /^\*/) section = tolower($0)
                    else if (section ~ /parameter data/ && NF >= 9) {
                        scale[tolower($1)] = $8; offset[tolower($1)] = $9 }
                    next }
        FNR == 1 { marker = $2; next }
        {
            line = $0; out = ""
            while ((a = index(line, marker)) > 0) {
                rest = substr(line, a + 1); b = index(rest, marker)
                name = tolower(substr(rest, 1, b - 1)); gsub(/[ \t]/, "", name)
                if (!(name in val) || !(name in scale)) {
                    print "make_obs.sh: no true value or SCALE for " name > "/dev/stderr"; exit 1 }
                width = b + 1
                out = out substr(line, 1, a - 1) \
                      sprintf("%" width "." (width - 6) "e", val[name] * scale[name] + offset[name])
                line = substr(rest, b + 1)
            }
            print out line
        }' "$pst" "$tpl"
}

# Print "name value" for every observation the instruction files read.
simulated_values() {
    awk 'NR > 1 { print tolower($3), $1 }' gwflow.hob.out
    awk '$1 == "WEST" && $2 == "RIVER" { print "q_west", $5 }
         $1 == "EAST" && $2 == "RIVER" { print "q_east", $5 }' gwflow.lst
}

# Rewrite the observation values of gwflow.pst (file 2) from the simulated values (file 1).
update_pst() {
    awk 'FNR == NR { sim[$1] = $2; next }
         /^\*/ { section = tolower($0) }
         section ~ /observation data/ && !/^\*/ && NF >= 4 {
             if (!(tolower($1) in sim)) {
                 print "make_obs.sh: gwflow gives no value for " $1 > "/dev/stderr"; exit 1 }
             printf "%-8s %20s %8s   %s\n", $1, sim[tolower($1)], $3, $4; next }
         { print }' "$1" "$pst" >"$pst.new"
    mv "$pst.new" "$pst"
}

# Rewrite the observed heads in the HOB block of gwflow.in.tpl (file 2).
update_tpl() {
    awk 'FNR == NR { sim[$1] = $2; next }
         $1 == "BEGIN" { block = $2 } $1 == "END" { block = "" }
         block == "HOB" && $1 !~ /^#/ && NF == 4 && (tolower($1) in sim) {
             printf "  %-8s %4s %4s   %s\n", $1, $2, $3, sim[tolower($1)]; next }
         { print }' "$1" "$tpl" >"$tpl.new"
    mv "$tpl.new" "$tpl"
}

# Exit 1 unless the observation values of gwflow.pst match the simulated values (file 1).
check_pst() {
    awk 'function abs(x) { return x < 0 ? -x : x }
         FNR == NR { sim[$1] = $2; next }
         /^\*/ { section = tolower($0); next }
         section ~ /observation data/ && NF >= 4 {
             n++; name = tolower($1)
             if (!(name in sim)) { print "missing: " name; bad++; next }
             d = abs($2 - sim[name]); s = abs(sim[name]) > 1 ? abs(sim[name]) : 1
             if (d > 1e-9 * s) { print "differs: " name " pst " $2 " model " sim[name]; bad++ } }
         END { printf "make_obs.sh: %d observations, %d differ from the model at the true values\n", n, bad
               exit (bad > 0) }' "$1" "$pst"
}

if [ "$mode" = print ]; then
    fill_template
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fill_template >"$work/gwflow.in"
(cd "$work" && "$gwflow") || die "gwflow failed at the true parameter values"
(cd "$work" && simulated_values) >"$work/sim.txt"
case $mode in
check) check_pst "$work/sim.txt" ;;
update)
    update_pst "$work/sim.txt"
    update_tpl "$work/sim.txt"
    echo "make_obs.sh: wrote $(wc -l <"$work/sim.txt") observation values into gwflow.pst and gwflow.in.tpl"
    ;;
esac
