#!/bin/bash
# Runs one calibration (or sweep) on AWS from the pestrun master: records the case in S3, scales
# the agents' ECS service up to what the batch needs, runs pestrun on the SQS transport, copies
# the results to s3://BUCKET/PREFIX/results/JOB/, and ALWAYS scales the service back to zero at
# the end - on success, on failure, and on Ctrl-C/SIGTERM. Needs the aws CLI and the settings in
# /etc/pestrun.env (written by startup_master.sh; PESTRUN_ENV_FILE moves it).
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: run_master.sh CASE_DIR CASE.pst [glm|ies|sweep|jacobian] [PESTRUN OPTIONS...]
  Runs `pestrun COMMAND CASE.pst --transport sqs ...` in CASE_DIR with this deployment's queues,
  bucket and prefix (the default command is glm). Example:
    run_master.sh /srv/pestrun/examples/gwflow gwflow.pst glm
    run_master.sh ~/mycase mycase.pst sweep --in sweep_in.csv --out sweep_out.csv
environment:
  PESTRUN_ENV_FILE  settings file (default /etc/pestrun.env)
  JOB               job name (default UTC time + case name); results go to s3://BUCKET/PREFIX/results/JOB/
  RUNS              model runs per iteration, to size the agents (default: adjustable
                    parameters for glm/jacobian, ies_num_reals for ies, CSV rows for sweep)
  TASKS             number of agent tasks to start (default: the agent count `pestrun plan`
                    recommends, divided by PESTRUN_SLOTS_PER_TASK, at most PESTRUN_MAX_TASKS; when
                    plan cannot tell, min(PESTRUN_MAX_TASKS, ceil(RUNS / PESTRUN_SLOTS_PER_TASK)))
  RUN_SECONDS       a model run's time for the plan (default: measured by pestrun plan)
  PESTRUN           the pestrun binary (default pestrun on PATH)
USAGE
}

[ $# -ge 2 ] || { usage >&2; exit 2; }
case $1 in -h|--help) usage; exit 0 ;; esac
case_dir=$1 pst=$2
shift 2
cmd=glm
if [ $# -gt 0 ] && [[ $1 != -* ]]; then cmd=$1; shift; fi
case $cmd in glm|ies|sweep|jacobian) ;; *) echo "run_master.sh: unknown command '$cmd'" >&2; usage >&2; exit 2 ;; esac

env_file=${PESTRUN_ENV_FILE:-/etc/pestrun.env}
if [ -r "$env_file" ]; then
  set -a
  # shellcheck disable=SC1090
  . "$env_file"
  set +a
fi
for v in PESTRUN_QUEUE_URL PESTRUN_RESULT_QUEUE_URL PESTRUN_BUCKET PESTRUN_ECS_CLUSTER PESTRUN_ECS_SERVICE; do
  [ -n "${!v:-}" ] || { echo "run_master.sh: $v is not set (in $env_file or the environment)" >&2; exit 2; }
done
PESTRUN=${PESTRUN:-pestrun}
prefix=${PESTRUN_PREFIX:-pestrun}
max_tasks=${PESTRUN_MAX_TASKS:-10}
slots=${PESTRUN_SLOTS_PER_TASK:-1}
[ -z "${PESTRUN_REGION:-}" ] || export AWS_REGION=${AWS_REGION:-$PESTRUN_REGION} AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-$PESTRUN_REGION}
command -v aws >/dev/null || { echo "run_master.sh: the aws CLI is needed (apt-get install awscli)" >&2; exit 2; }
command -v "$PESTRUN" >/dev/null || { echo "run_master.sh: no pestrun binary ($PESTRUN)" >&2; exit 2; }
[ -f "$case_dir/$pst" ] || { echo "run_master.sh: no $case_dir/$pst" >&2; exit 2; }
case_dir=$(cd "$case_dir" && pwd)
name=${pst%.pst}
job=${JOB:-$(date -u +%Y%m%dT%H%M%SZ)-$name}
s3job=s3://$PESTRUN_BUCKET/$prefix
say() { printf '%s run_master: %s\n' "$(date -u +%FT%TZ)" "$*"; }

# Master log events to CloudWatch (best effort; the group is made by terraform).
log_stream=$job
cw() {
  [ -n "${PESTRUN_LOG_GROUP:-}" ] || return 0
  local msg=$1
  aws logs put-log-events --log-group-name "$PESTRUN_LOG_GROUP" --log-stream-name "$log_stream" \
    --log-events "timestamp=$(($(date +%s) * 1000)),message=\"${msg//\"/\'}\"" >/dev/null 2>&1 || true
}
[ -z "${PESTRUN_LOG_GROUP:-}" ] ||
  aws logs create-log-stream --log-group-name "$PESTRUN_LOG_GROUP" --log-stream-name "$log_stream" >/dev/null 2>&1 || true

# How many model runs at once: sizes the agent service.
count_runs() {
  case $cmd in
    sweep)
      local in="" prev=""
      for a in "$@"; do [ "$prev" != --in ] || in=$a; prev=$a; done
      in=${in:-sweep_in.csv}
      [ -f "$case_dir/$in" ] && echo $(($(wc -l <"$case_dir/$in") - 1)) || echo 1 ;;
    ies)  # the prior ensemble: ++ies_num_reals runs (pestpp-ies's default 50)
      sed -n 's/.*ies_num_reals[( ]\([0-9]*\).*/\1/Ip' "$case_dir/$pst" | head -1 | grep . || echo 50 ;;
    *)  # adjustable parameters: one Jacobian run each (forward differences)
      awk 'BEGIN { n = 0 } /^\*/ { sec = $0; next }
           sec ~ /parameter data/ && NF >= 4 && $2 != "fixed" && $2 != "tied" { n++ }
           END { print (n > 0 ? n : 1) }' "$case_dir/$pst" ;;
  esac
}
runs=${RUNS:-$(count_runs "$@")}
# The agent count: what `pestrun plan` recommends (the count past which one more agent saves
# less than 5% of the time), bounded by the service's maximum; else one slot a run.
plan_agents() {
  local method=glm in=() prev=""
  [ "$cmd" != sweep ] || method=sweep
  [ "$cmd" != ies ] || method=ies
  for a in "$@"; do [ "$prev" != --in ] || in=(--in "$a"); prev=$a; done
  local rs=()
  [ -z "${RUN_SECONDS:-}" ] || rs=(--run-seconds "$RUN_SECONDS")
  (cd "$case_dir" && "$PESTRUN" plan "$pst" --method "$method" "${in[@]}" "${rs[@]}" \
    --max-agents $((max_tasks * slots)) --csv /dev/null --svg /dev/null -q 2>/dev/null) |
    sed -nE 's/^recommended: ([0-9]+) agent.*/\1/p'
}
why="min($max_tasks, ceil($runs / $slots))"
if [ -z "${TASKS:-}" ] && agents=$(plan_agents "$@") && [ -n "$agents" ]; then
  tasks=$(((agents + slots - 1) / slots))
  why="pestrun plan recommends $agents agent slot(s), at most $max_tasks task(s)"
else
  tasks=${TASKS:-$(((runs + slots - 1) / slots))}
fi
[ "$tasks" -le "$max_tasks" ] || tasks=$max_tasks
[ "$tasks" -ge 1 ] || tasks=1

scale() {  # scale N WHY
  say "scaling ECS service $PESTRUN_ECS_SERVICE (cluster $PESTRUN_ECS_CLUSTER) to $1 task(s): $2"
  aws ecs update-service --cluster "$PESTRUN_ECS_CLUSTER" --service "$PESTRUN_ECS_SERVICE" \
    --desired-count "$1" --query 'service.desiredCount' --output text >/dev/null
}

child=""
scaled=0
# shellcheck disable=SC2317  # invoked through the traps
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
    say "stopping pestrun (pid $child)"
    kill -TERM "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  if [ "$scaled" -eq 1 ]; then
    if scale 0 "job $job ended (exit $rc)"; then
      say "agents scaled back to zero"
    else
      say "WARNING: could not scale $PESTRUN_ECS_SERVICE to zero - do it by hand:"
      say "  aws ecs update-service --cluster $PESTRUN_ECS_CLUSTER --service $PESTRUN_ECS_SERVICE --desired-count 0"
    fi
  fi
  cw "job $job ended with exit code $rc"
  exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted (SIGINT)"; exit 130' INT
trap 'say "terminated (SIGTERM)"; exit 143' TERM

say "job $job: pestrun $cmd $pst in $case_dir, $runs run(s) per iteration, $slots slot(s) per task"
say "recording the case in $s3job/cases/$job/"
aws s3 sync --only-show-errors "$case_dir" "$s3job/cases/$job/"
cw "job $job started: $cmd $pst, $tasks task(s)"

scaled=1
scale "$tasks" "$why"

args=(--transport sqs --queue-url "$PESTRUN_QUEUE_URL" --result-queue-url "$PESTRUN_RESULT_QUEUE_URL"
      --bucket "$PESTRUN_BUCKET" --prefix "$prefix")
[ -z "${PESTRUN_KMS_KEY_ID:-}" ] || args+=(--kms-key-id "$PESTRUN_KMS_KEY_ID")
# With a log group, pestrun logs one JSON object a line (--log-format json), in CloudWatch's
# embedded metric format: shipped to the job's log stream in batches, they become the pestrun
# metrics (runs done, failed, in flight, busy agents) of the dashboard and the alarms.
ship_logs() {
  local batch=() last=$SECONDS line f
  f=$(mktemp)
  flush() {
    [ ${#batch[@]} -gt 0 ] || return 0
    local ms sep="" ev
    ms=$(($(date +%s) * 1000))
    {
      printf '['
      for ev in "${batch[@]}"; do
        ev=${ev//\\/\\\\}
        ev=${ev//\"/\\\"}
        printf '%s{"timestamp":%s,"message":"%s"}' "$sep" "$ms" "$ev"
        sep=,
      done
      printf ']'
    } >"$f"
    aws logs put-log-events --log-group-name "$PESTRUN_LOG_GROUP" --log-stream-name "$log_stream" \
      --log-events "file://$f" >/dev/null 2>&1 || true
    batch=()
    last=$SECONDS
  }
  while IFS= read -r line; do
    printf '%s\n' "$line" >&2
    batch+=("$line")
    if [ ${#batch[@]} -ge 100 ] || [ $((SECONDS - last)) -ge 5 ]; then flush; fi
  done
  flush
  rm -f "$f"
}
[ -z "${PESTRUN_LOG_GROUP:-}" ] || args+=(--log-format json)

say "running: $PESTRUN $cmd $pst ${args[*]} $*"
cd "$case_dir"
set +e
if [ -n "${PESTRUN_LOG_GROUP:-}" ]; then
  "$PESTRUN" "$cmd" "$pst" "${args[@]}" "$@" 2> >(ship_logs) &
else
  "$PESTRUN" "$cmd" "$pst" "${args[@]}" "$@" &
fi
child=$!
wait "$child"
rc=$?
child=""
set -e
say "pestrun exited with $rc"

say "copying the results to $s3job/results/$job/"
aws s3 sync --only-show-errors "$case_dir" "$s3job/results/$job/" || say "WARNING: copying the results failed"
exit "$rc"
