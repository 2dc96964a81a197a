#!/bin/bash
# Master memory of a sweep with 1,000 observations a row: peak RSS of the pestrun master (its
# workers are separate processes) for a growing number of rows. Flat = streamed, not held.
# Usage: bench/sweep_memory.sh [ROWS...]   (default 1000 10000; the issue's 100000 takes long)
. "$(dirname "$0")/common.bash"
set -- ${@:-1000 10000}
make_case "$W/c" "./model 1000" 1000
make_model "$W/c"
cd "$W/c"
for rows in "$@"; do
  sweep_input in.csv "$rows"
  /usr/bin/time -f "%M" -o rss.txt "$PESTRUN" sweep case.pst --in in.csv --out out.csv \
    -j "$CORES" -q --journal j.$rows
  printf "%7d rows x 1000 observations: master peak RSS %6d KiB, output %s\n" "$rows" \
    "$(cat rss.txt)" "$(du -h out.csv | cut -f1)"
  rm -f out.csv "j.$rows"
done
