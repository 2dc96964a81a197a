#!/bin/bash
# A one-node Slurm cluster on this machine for the tests (Debian's slurm-wlm and munge, as
# root, no systemd): `scripts/slurm-local.sh start` brings up munged, slurmctld and slurmd with
# their state under /tmp/pestrun-slurm and waits until the node is idle; `stop` ends them by pid.
set -euo pipefail
dir=/tmp/pestrun-slurm
cmd=${1:-start}

stop() {
  for p in slurmd slurmctld munged; do
    if [ -f "$dir/$p.pid" ]; then kill "$(cat "$dir/$p.pid")" 2>/dev/null || true; fi
    rm -f "$dir/$p.pid"
  done
}

if [ "$cmd" = stop ]; then stop; exit 0; fi
[ "$(id -u)" -eq 0 ] || { echo "slurm-local: needs root" >&2; exit 1; }
command -v slurmctld >/dev/null || { echo "slurm-local: slurm-wlm is not installed" >&2; exit 1; }
stop
mkdir -p "$dir/state" "$dir/spool" /run/munge /etc/slurm
chown munge:munge /run/munge
[ -s /etc/munge/munge.key ] || { dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null; chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
cp /run/munge/munged.pid "$dir/munged.pid"
for _ in $(seq 50); do munge -n | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
host=$(hostname -s)
cpus=$(nproc)
cat >/etc/slurm/slurm.conf <<CONF
ClusterName=pestrun
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
slurmctld -i
slurmd
for _ in $(seq 100); do
  sinfo -h -o %T 2>/dev/null | grep -qx idle && { echo "slurm-local: node $host idle"; exit 0; }
  sleep 0.1
done
echo "slurm-local: the node did not come up; see $dir/*.log" >&2
exit 1
