#!/bin/bash
# --log-format json: every line on stderr is one JSON object, and the progress and summary lines
# are in CloudWatch's embedded metric format (namespace pestrun, per Case and with no dimension), so that
# CloudWatch Logs makes metrics of them with no API call. The metric values agree with the run.
. "$(dirname "$0")/lib.bash"
G="$BIN/examples/gwflow"
[ -x "$G/gwflow" ] || skip "example not built"
cp -r "$G" "$T/g" && cd "$T/g" || exit 1
rows=$(($(wc -l <sweep_in.csv) - 1))
"$PESTRUN" sweep gwflow.pst --in sweep_in.csv --out out.csv -j 2 --log-format json --journal j 2>log.json >/dev/null
expect_eq "sweep exit" $? 0
python3 - "$rows" <<'PY' && ok || fail "embedded metric format lines"
import json, sys, time
rows = int(sys.argv[1])
lines = [l for l in open("log.json") if l.strip()]
emf = []
for l in lines:
    d = json.loads(l)                       # every line is JSON
    if "_aws" in d: emf.append(d)
assert emf, "no embedded-metric-format line"
now = time.time() * 1000
for d in emf:
    m = d["_aws"]
    assert abs(m["Timestamp"] - now) < 3600e3, m["Timestamp"]
    (cw,) = m["CloudWatchMetrics"]
    assert cw["Namespace"] == "pestrun" and cw["Dimensions"] == [["Case"], []], cw
    assert d["Case"] == "gwflow", d["Case"]
    names = [x["Name"] for x in cw["Metrics"]]
    assert {"RunsDone", "RunsFailed", "RunsInFlight", "WorkersBusy", "WorkersAlive"} <= set(names), names
    for n in names:
        assert isinstance(d[n], (int, float)), (n, d.get(n))   # each metric is a member of the line
last = emf[-1]
assert last["event"] == "summary" and last["RunsDone"] == rows and last["RunsFailed"] == 0, last
assert last["WorkersAlive"] == 2, last
PY
# a calibration adds its phi (the best so far) once it has one; the last equals the .iobj's
"$PESTRUN" glm gwflow.pst -j 2 --log-format json --journal jg 2>glm.json >/dev/null
expect_eq "glm exit" $? 0
python3 - <<'PY' && ok || fail "Phi metric"
import csv, json
lines = [json.loads(l) for l in open("glm.json") if l.strip()]
with_phi = [d for d in lines if "_aws" in d and "Phi" in d]
assert with_phi, "no line carries Phi"
for d in with_phi:
    names = [m["Name"] for m in d["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    assert "Phi" in names, names
rows = list(csv.reader(open("gwflow.iobj")))
last = float(rows[-1][2])
assert abs(with_phi[-1]["Phi"] - last) <= 1e-9 * max(1, abs(last)), (with_phi[-1]["Phi"], last)
PY
done_testing
