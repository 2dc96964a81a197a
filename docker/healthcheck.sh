#!/bin/sh
# Healthy when the agent touched its health file within the last MAX_AGE seconds (default 60;
# the agent touches it at least every 20 s). Used by the image's HEALTHCHECK and the ECS task.
f=${PESTRUN_HEALTH_FILE:-/tmp/pestrun/health}
max=${PESTRUN_HEALTH_MAX_AGE:-60}
[ -f "$f" ] || { echo "no health file $f"; exit 1; }
age=$(( $(date +%s) - $(stat -c %Y "$f") ))
[ "$age" -le "$max" ] || { echo "health file $f is ${age}s old"; exit 1; }
echo "healthy (${age}s)"
