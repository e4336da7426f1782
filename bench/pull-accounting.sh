#!/usr/bin/env bash
# Pull-accounting benchmark: manifest GET by tag against two wharfd (Release build) on loopback, one
# with pull accounting on (the default) and one with Registry:PullAccounting:Enabled=false, same
# image, measured in alternating rounds so both see the same machine load. Both audit every pull
# (that is not the switch); the difference is the cost of counting. Writes the pull-accounting
# section of docs/benchmarks.md.
#
#   bench/pull-accounting.sh                    # 3 warm-up and 9 measured rounds of 20 000 requests per server
#   BENCH_ROUNDS=3 BENCH_REQUESTS=5000 bench/pull-accounting.sh
#   WHARFD_DIR=path/to/dir/with/wharfd.dll bench/pull-accounting.sh   # reuse a Release build
set -uo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${BENCH_ROUNDS:-9}
WARMUP=${BENCH_WARMUP:-3}
REQUESTS=${BENCH_REQUESTS:-20000}
CONCURRENCY=${BENCH_CONCURRENCY:-16}

# shellcheck source=bench/lib.sh
source bench/lib.sh
if ! command -v ab >/dev/null 2>&1; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    log "installing apache2-utils (ab)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq apache2-utils >/dev/null || die "could not install apache2-utils"
  else
    die "ab is missing (Debian package apache2-utils)"
  fi
fi
command -v curl >/dev/null 2>&1 || die "curl is not installed"

scratch_dir "${TMPDIR:-/tmp}/wharf-pulls-bench"

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
BIN=${WHARFD_DIR:-}
if [[ -z $BIN ]]; then
  log "building wharfd (Release)"
  dotnet build src/Wharf.Server/Wharf.Server.csproj -c Release -nologo -v q -p:UseSharedCompilation=false \
    -o "$WORK/bin" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; die "build failed"; }
  BIN=$WORK/bin
fi

declare -A PORT SPID
start() { # name enabled
  local port pid i
  port=$(free_port)
  ASPNETCORE_ENVIRONMENT=Production Logging__LogLevel__Default=Warning \
    dotnet "$BIN/wharfd.dll" --urls "http://127.0.0.1:$port" --data-dir "$WORK/$1" \
    --Registry:OpenRegistry=true "--Registry:PullAccounting:Enabled=$2" >"$WORK/$1.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || { cat "$WORK/$1.log" >&2; die "$1 exited during startup"; }
    [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/") == 200 ]] && { PORT[$1]=$port; SPID[$1]=$pid; return; }
    sleep 0.2
  done
  die "$1 did not answer within 60 s"
}

push_image() { # port
  local base="http://127.0.0.1:$1/v2/bench/app" blob digest location manifest
  printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$WORK/config.json"
  head -c 4096 /dev/urandom >"$WORK/layer.bin"
  for blob in config.json layer.bin; do
    digest="sha256:$(sha256sum "$WORK/$blob" | cut -d' ' -f1)"
    location=$(curl -sf -X POST -D - -o /dev/null "$base/blobs/uploads/" | tr -d '\r' | awk 'tolower($1) == "location:" {print $2}')
    [[ $location == http* ]] || location="http://127.0.0.1:$1$location"
    [[ $location == *\?* ]] && location="$location&digest=$digest" || location="$location?digest=$digest"
    curl -sf -X PUT --data-binary "@$WORK/$blob" "$location" >/dev/null || die "blob push failed"
  done
  manifest=$(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":4096}]}' \
    "$(sha256sum "$WORK/config.json" | cut -d' ' -f1)" "$(stat -c %s "$WORK/config.json")" "$(sha256sum "$WORK/layer.bin" | cut -d' ' -f1)")
  curl -sf -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "$manifest" "$base/manifests/v1" >/dev/null \
    || die "manifest push failed"
}

# cpu_ticks PID: the process's user + system CPU time in clock ticks (a loaded machine stretches wall
# time, hardly CPU time, so CPU per request is the steadier figure of the two).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

rps() { # port
  ab -q -k -n "$REQUESTS" -c "$CONCURRENCY" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://127.0.0.1:$1/v2/bench/app/manifests/v1" 2>/dev/null | awk '/^Requests per second/ {print $4} /^Non-2xx/ {print "non2xx " $3 > "/dev/stderr"}'
}

start on true
start off false
for name in on off; do push_image "${PORT[$name]}"; done
# Warm-up, alternating: tiered JIT needs several thousand requests before the hot path is final code.
for ((w = 0; w < WARMUP; w++)); do
  for name in on off; do rps "${PORT[$name]}" >/dev/null; done
done

: >"$WORK/on.rps"; : >"$WORK/off.rps"; : >"$WORK/on.cpu"; : >"$WORK/off.cpu"
for ((r = 1; r <= ROUNDS; r++)); do
  # Alternate which goes first, so neither always meets the other's leftovers.
  if ((r % 2)); then order=(on off); else order=(off on); fi
  for name in "${order[@]}"; do
    t0=$(cpu_ticks "${SPID[$name]}")
    v=$(rps "${PORT[$name]}")
    t1=$(cpu_ticks "${SPID[$name]}")
    [[ -n $v ]] || die "ab against $name gave no result"
    us=$(echo "scale=3; ($t1 - $t0) * 1000000 / $HZ / $REQUESTS" | bc)
    echo "$v" >>"$WORK/$name.rps"
    echo "$us" >>"$WORK/$name.cpu"
    log "round $r, accounting $name: $v requests/s, $us µs CPU per request"
  done
done

ON=$(median <"$WORK/on.rps"); OFF=$(median <"$WORK/off.rps")
COST=$(echo "scale=4; (1 - $ON / $OFF) * 100" | bc | awk '{printf "%.1f", $1}')
ON_CPU=$(median <"$WORK/on.cpu"); OFF_CPU=$(median <"$WORK/off.cpu")
CPU_COST=$(echo "scale=4; ($ON_CPU / $OFF_CPU - 1) * 100" | bc | awk '{printf "%.1f", $1}')
ROUNDS_ON=$(paste -sd' ' "$WORK/on.rps"); ROUNDS_OFF=$(paste -sd' ' "$WORK/off.rps")
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
log "median: on $ON, off $OFF requests/s (cost $COST %); CPU per request on $ON_CPU, off $OFF_CPU µs (cost $CPU_COST %)"

cat >"$WORK/section.md" <<MD
## Pull accounting

\`bench/pull-accounting.sh\`, $(date -u +%Y-%m-%d): manifest GET by tag (\`ab -k -c $CONCURRENCY -n $REQUESTS\`), $ROUNDS
alternating rounds (after $WARMUP warm-up rounds) against two wharfd (open registry, Release build) with the same image, one
counting pulls (\`Registry:PullAccounting:Enabled=true\`, the default) and one not. Both audit every
pull. Median requests/s; load average before $LOAD_BEFORE, after $LOAD_AFTER (2 cores, shared).

| accounting | requests/s (median) | CPU per request (median, wharfd user + system) |
|---|---|---|
| on | $ON | $ON_CPU µs |
| off | $OFF | $OFF_CPU µs |
| cost | $COST % (1 − on/off) | $CPU_COST % (on/off − 1) |

Rounds, requests/s — on: $ROUNDS_ON; off: $ROUNDS_OFF.

MD
replace_section docs/benchmarks.md pull-accounting "$WORK/section.md" "### Reading"
log "docs/benchmarks.md updated"
