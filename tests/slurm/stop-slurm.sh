#!/usr/bin/env bash
# Stops the daemons tests/slurm/start-slurm.sh started (by the PIDs it recorded).
set -uo pipefail
dir=$(realpath -m "${1:?usage: stop-slurm.sh DIR}")
[[ -f $dir/pids ]] || exit 0
tac "$dir/pids" | while read -r name pid; do
  kill "$pid" 2>/dev/null && for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
done
rm -f "$dir/pids"
