#!/usr/bin/env bash
# Start-up benchmark: how long `wharf version` (and `wharf images` on an empty store) takes from
# exec to exit, for the NativeAOT wharf, the JIT wharf (framework-dependent, ReadyToRun) and podman.
# Writes the "Start-up" section of docs/benchmarks.md (between the startup-benchmark markers only).
# Two figures per case: the median wall time, and the CPU time (perf stat's task-clock, all threads,
# mean of the same number of runs), which a loaded machine does not inflate.
#
#   bench/startup.sh                          # 50 timed runs per case after 3 warm-up runs
#   BENCH_RUNS=20 bench/startup.sh
#   WHARF_BIN=path/to/native/wharf bench/startup.sh   # reuse a published native build
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-50}

# shellcheck source=bench/lib.sh
source bench/lib.sh
command -v podman >/dev/null 2>&1 || die "podman is not installed"
command -v bc >/dev/null 2>&1 || die "bc is not installed"

scratch_dir /tmp/wharf-startup-bench

if [[ -z ${WHARF_BIN:-} ]]; then
  log "publishing wharf (NativeAOT)"
  dotnet publish src/Wharf.Cli/Wharf.Cli.csproj -c Release -r linux-x64 -o "$WORK/native" -nologo -v q >/dev/null || die "native publish failed"
  WHARF_BIN="$WORK/native/wharf"
fi
log "publishing wharf (JIT: framework-dependent, ReadyToRun)"
dotnet publish src/Wharf.Cli/Wharf.Cli.csproj -c Release -r linux-x64 --self-contained false -p:PublishAot=false \
  -p:PublishReadyToRun=true -o "$WORK/jit" -nologo -v q >/dev/null || die "JIT publish failed"
JIT_BIN="$WORK/jit/wharf"

# Private stores: podman here touches no state of the machine's (other podmans run beside it).
W=(--root "$WORK/w/graph" --runroot "$WORK/w/run")
P=(--root "$WORK/p/root" --runroot "$WORK/p/run" --tmpdir "$WORK/p/tmp" --storage-driver overlay --runtime runc)

# time_ms CMD...: milliseconds of RUNS runs (after 3 untimed ones), one per line.
time_ms() {
  local i t0
  for i in 1 2 3; do "$@" >/dev/null 2>&1 || die "$* failed"; done
  for ((i = 0; i < RUNS; i++)); do
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1
    echo $((($(date +%s%N) - t0) / 1000))
  done | awk '{printf "%.1f\n", $1 / 1000}'
}

# cpu_ms CMD...: mean CPU milliseconds (task-clock) of RUNS runs; "n/a" without perf.
cpu_ms() {
  command -v perf >/dev/null 2>&1 || { echo n/a; return; }
  perf stat -r "$RUNS" -x, -e task-clock "$@" 2>&1 >/dev/null | awk -F, '$3 == "task-clock" {printf "%.1f\n", $1}'
}

declare -A MED CPU
measure() { # NAME CMD...
  local name=$1; shift
  MED[$name]=$(time_ms "$@" | median | awk '{printf "%.1f", $1}')
  CPU[$name]=$(cpu_ms "$@")
  log "$name: median ${MED[$name]} ms wall, ${CPU[$name]} ms CPU"
}

measure native-version "$WHARF_BIN" version
measure jit-version "$JIT_BIN" version
measure podman-version podman "${P[@]}" version
measure native-images "$WHARF_BIN" "${W[@]}" images
measure jit-images "$JIT_BIN" "${W[@]}" images
measure podman-images podman "${P[@]}" images

ratio() { [[ $1 == n/a || $2 == n/a ]] && echo n/a || echo "scale=1; $1 / $2" | bc; }
size_mib=$(echo "scale=1; $(stat -c %s "$WHARF_BIN") / 1048576" | bc)
out="$WORK/section.md"
{
  echo "## Start-up"
  echo
  echo "\`bench/startup.sh\`, $(date -u +%Y-%m-%d), $RUNS runs per case after 3 warm-up runs, medians; $(nproc) cores,"
  echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg). Wall time from exec to exit (\`date +%s%N\` around"
  echo "each run, output to /dev/null). Native: \`dotnet publish src/Wharf.Cli -c Release -r linux-x64\` ($size_mib MiB,"
  echo "one file). JIT: the same code framework-dependent with ReadyToRun. podman $(podman version --format '{{.Client.Version}}' 2>/dev/null) with private"
  echo "\`--root/--runroot/--tmpdir\`; \`images\` on an empty store."
  echo
  echo "| case | measure | wharf native | wharf JIT | podman | JIT / native | podman / native |"
  echo "|---|---|---|---|---|---|---|"
  for c in version images; do
    echo "| \`$c\` | wall, median | ${MED[native-$c]} ms | ${MED[jit-$c]} ms | ${MED[podman-$c]} ms | $(ratio "${MED[jit-$c]}" "${MED[native-$c]}") | $(ratio "${MED[podman-$c]}" "${MED[native-$c]}") |"
    echo "| \`$c\` | CPU, mean | ${CPU[native-$c]} ms | ${CPU[jit-$c]} ms | ${CPU[podman-$c]} ms | $(ratio "${CPU[jit-$c]}" "${CPU[native-$c]}") | $(ratio "${CPU[podman-$c]}" "${CPU[native-$c]}") |"
  done
  echo
  echo "A ratio above 1 means the native wharf was faster. Target: \`wharf version\` under 20 ms. On a"
  echo "machine whose load average is above its core count the wall times mostly measure waiting for a"
  echo "core; the CPU time (all threads, perf stat's task-clock) is what the command itself costs."
  echo
  echo "\`wharf version\` here: ${MED[native-version]} ms wall (load average $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cores), ${CPU[native-version]} ms CPU."
} >"$out"
replace_section docs/benchmarks.md startup "$out"
log "wrote the Start-up section of docs/benchmarks.md"
