#!/usr/bin/env bash
# Starts a one-node Slurm cluster on this machine for the job tests: munged, slurmctld and slurmd,
# all on loopback, all state under one directory. Installs slurm-wlm and munge when missing (root on
# Debian). Prints the environment to use (SLURM_CONF=...) on its last line.
#
#   tests/slurm/start-slurm.sh DIR      # start; writes DIR/slurm.conf, DIR/pids
#   tests/slurm/stop-slurm.sh DIR       # stop what this started, by PID
set -euo pipefail
dir=$(realpath -m "${1:?usage: start-slurm.sh DIR}")
mkdir -p "$dir"/{state,spool,munge}

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
  else
    echo "slurm-wlm and munge are not installed" >&2
    exit 3
  fi
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
node=$(hostname -s)
cpus=$(nproc)
ctld_port=$(free_port)
slurmd_port=$(free_port)

# A key of our own, so nothing depends on the system's munge setup.
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1 count=128 status=none
chmod 600 "$dir/munge/munge.key"
munged --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
  --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/seed" --force
echo "munged $(cat "$dir/munge/munged.pid")" > "$dir/pids"

cat > "$dir/slurm.conf" <<CONF
ClusterName=wharftest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
SchedulerType=sched/builtin
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.log
JobAcctGatherType=jobacct_gather/none
KillWait=5
InactiveLimit=0
MinJobAge=300
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=4096 State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
PartitionName=short Nodes=$node MaxTime=00:10:00 State=UP
CONF

export SLURM_CONF="$dir/slurm.conf"
slurmctld -i -f "$SLURM_CONF"
for _ in $(seq 50); do [[ -s $dir/slurmctld.pid ]] && break; sleep 0.2; done
echo "slurmctld $(cat "$dir/slurmctld.pid")" >> "$dir/pids"
slurmd -f "$SLURM_CONF"
for _ in $(seq 50); do [[ -s $dir/slurmd.pid ]] && break; sleep 0.2; done
echo "slurmd $(cat "$dir/slurmd.pid")" >> "$dir/pids"

# Wait (bounded) until the node takes jobs.
for _ in $(seq 100); do
  state=$(sinfo -h -n "$node" -o %t 2>/dev/null || true)
  [[ $state == idle* ]] && break
  sleep 0.2
done
[[ $(sinfo -h -n "$node" -o %t) == idle* ]] || { echo "slurm node did not become idle" >&2; tail -5 "$dir"/slurmctld.log "$dir"/slurmd.log >&2; exit 1; }
echo "SLURM_CONF=$SLURM_CONF"
