#!/bin/bash
# The scheduler past one machine, by simulation (--transport sim): WORKERS virtual workers and
# RUNS runs of a sweep (one batch), lognormal run times (mean 60 s, sd SD_S: 6 s unless set),
# with the whole
# fault mix (workers lost mid-run, Spot reclaims with a 2-minute notice, duplicated, late and
# so reordered results, 1% of workers 4x slower, first attempts that fail) and a kill -9 of
# the master half way, followed by --resume. The real scheduler, journal and sweep run
# unchanged (with --backup-copies: each run still going at the end of the batch gets one backup
# copy on an idle worker); only the clock is virtual.
#
# Prints: "simulated W workers, R runs: efficiency E, master CPU U us per run, peak memory M
# MB, lost L, duplicated D", where E = run time of the results used / worker time on offer
# (both processes), U = the master's CPU time (both processes) per run, M = the larger peak
# RSS, L = input rows missing from the output, D = rows in it more than once. The baseline,
# run first in the same run, is the same sweep with no fault and no kill: the output must be
# byte-identical to it. Targets: E >= 0.98, U <= 20, M <= 1024, L = D = 0.
#
# Then the efficiency against the number of workers of one Jacobian of a 330-parameter case
# (331 runs) and one 300-realization ensemble: past a few hundred workers they only wait.
# A batch this wide ends with a tail no scheduler can shorten: the last runs started run their
# full time while the other workers have nothing left (with sd 15 s the baseline itself is at
# 0.984, with sd 6 s at 0.99). Set SD_S to see it.
# Usage: [SD_S=S] bench/sim_scale.sh [WORKERS] [RUNS]
. "$(dirname "$0")/common.bash"
WORKERS=${1:-10000}
RUNS=${2:-1000000}
make_case "$W/c" "false" 2
cd "$W/c"
echo "++sweep_chunk($RUNS)" >>case.pst
# distinct values (a permutation of a grid), so that no run is found in the journal by another's
awk -v n="$RUNS" 'BEGIN { print "run_id,x"; for (i = 0; i < n; i++) printf "%d,%.9f\n", i, -5 + 10 * ((i * 7919) % n) / n }' >in.csv
JOURNAL_DIR=/dev/shm
[ -w "$JOURNAL_DIR" ] || JOURNAL_DIR=$W
J=$(mktemp "$JOURNAL_DIR/pestrun-sim.XXXXXX")
trap 'rm -rf "$W" "$J" "$J.ref"' EXIT; [ -n "${KEEP:-}" ] && trap - EXIT

field() { # LINE NAME: the number after NAME in a "sim: ..." line
  printf '%s\n' "$1" | sed -nE "s/.*$2 ([0-9.]+).*/\1/p"
}
sim_line() { grep -E '^sim: ' "$1" | tail -1; }

# The three runs from Python, which measures each child's CPU time and peak memory (the
# killed master cannot report its own).
python3 - "$PESTRUN" "$WORKERS" "$RUNS" "$J" "${SD_S:-6}" <<'PY'
import re, resource, struct, subprocess, sys
pestrun, w, r, jpath, sd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
half = r / w * 60 / 2

def run(args, log):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(log, "w") as f:
        rc = subprocess.call([pestrun, "sweep", "case.pst", "--in", "in.csv", "-q",
                              "--transport", "sim", "--backup-copies"] + args, stderr=f)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    line = ([l for l in open(log) if l.startswith("sim: ")] or [""])[-1]
    return rc, cpu, after.ru_maxrss / 1024.0, line

def num(line, name):
    m = re.search(name + r" ([0-9.]+)", line)
    return float(m.group(1)) if m else 0.0

def journal_work(path):
    """records and the sum of the run times of the successful ones"""
    n, t = 0, 0.0
    with open(path, "rb") as f:
        f.read(48)
        while True:
            h = f.read(12)
            if len(h) < 12: break
            ln = struct.unpack_from("<I", h, 4)[0]
            p = f.read(ln)
            if len(p) < ln: break
            n += 1
            if p[8] == 1: t += struct.unpack_from("<d", p, 9)[0]
    return n, t

rc, cpu0, mem0, ref = run(["--out", "ref.csv", "--journal", jpath + ".ref",
                           "--sim", f"workers={w},sd={sd},seed=1"], "ref.log")
if rc != 0: sys.exit(f"the fault-free simulation failed (exit {rc}): {open('ref.log').read()[-300:]}")
rc, cpu1, mem1, first = run(["--out", "out.csv", "--journal", jpath,
                         "--sim", f"workers={w},sd={sd},seed=7,faults,kill={half:.0f}"], "first.log")
if rc != -9: sys.exit(f"the master was to be killed at virtual time {half:.0f} s: exit {rc}")
n1, useful1 = journal_work(jpath)
rc, cpu2, mem2, second = run(["--out", "out.csv", "--journal", jpath, "--resume",
                              "--sim", f"workers={w},sd={sd},seed=8,faults"], "second.log")
if rc != 0: sys.exit(f"the resumed simulation failed (exit {rc}): {open('second.log').read()[-300:]}")
# the simulation's own account of both halves (it prints the first just before it kills)
e = (num(first, "useful") + num(second, "useful")) / (num(first, "offered") + num(second, "offered"))
want, seen = set(), {}
with open("in.csv") as f:
    next(f)
    for l in f: want.add(l.split(",", 1)[0])
with open("out.csv") as f:
    next(f)
    for l in f:
        k = l.split(",", 1)[0]
        seen[k] = seen.get(k, 0) + 1
lost = sum(1 for k in want if k not in seen)
dup = sum(v - 1 for v in seen.values() if v > 1)
same = open("ref.csv", "rb").read() == open("out.csv", "rb").read()
print(f"lognormal run times: mean 60 s, sd {sd} s")
print(f"fault-free baseline: efficiency {num(ref, 'efficiency'):.4f}, master CPU "
      f"{cpu0 * 1e6 / r:.1f} us per run, peak memory {mem0:.0f} MB")
print(f"with faults: killed at virtual {half:.0f} s after {n1} journaled runs, resumed; "
      f"{int(num(second, 'workers lost'))} workers lost ({int(num(second, 'reclaims'))} reclaims), "
      f"{int(num(second, 'duplicates sent'))} duplicated and {int(num(second, 'late'))} late results "
      f"in the second half alone; output {'byte-identical to' if same else 'DIFFERENT from'} the baseline")
print(f"simulated {w} workers, {r} runs: efficiency {e:.4f}, master CPU {(cpu1 + cpu2) * 1e6 / r:.1f} "
      f"us per run, peak memory {max(mem1, mem2):.0f} MB, lost {lost}, duplicated {dup + (0 if same else 1)}")
PY

# efficiency against the number of workers for the batches a calibration is made of
for batch in "331 one Jacobian of a 330-parameter case" "300 one 300-realization ensemble"; do
  n=${batch%% *}
  what=${batch#* }
  awk -v n="$n" 'BEGIN { print "run_id,x"; for (i = 0; i < n; i++) printf "%d,%.6f\n", i, i / n }' >b.csv
  line="$what ($n runs of 60 s):"
  for w in 10 30 100 300 1000 3000 10000; do
    "$PESTRUN" sweep case.pst --in b.csv --out b.out.csv -q --journal "$J.b" --transport sim --backup-copies \
      --sim "workers=$w,seed=3" 2>b.log || { echo "simulation of $n runs on $w workers failed"; exit 1; }
    s=$(sim_line b.log)
    line="$line $w workers E $(field "$s" efficiency) wall $(field "$s" "virtual time")s;"
  done
  echo "$line"
  rm -f "$J.b"
done
