#!/usr/bin/env bash
# Registry benchmark: wharfd (Release build) and docker-registry 2.8 side by side on loopback, fresh
# data directories, the same generated images, one run. Writes the results table into the registry
# section of docs/benchmarks.md and the raw tool output into bench/results/.
#
#   bench/run.sh                 # everything, about 10 minutes on 2 cores
#   BENCH_QUICK=1 bench/run.sh   # smaller data and shorter wrk runs, to check the harness itself
#
# Measured:
#   1. manifest GET and HEAD by tag: requests/s, 64 connections, 10 s; GET with wrk (2 threads),
#      HEAD with hey, because wrk 4.1 waits for a body after a HEAD response and never completes one
#   2. blob push and pull with skopeo as the client: one image with a 1 GiB layer, one with 50 small
#      layers (OCI layout -> registry, registry -> OCI layout)
#   3. peak RSS (VmHWM) while a 4 GiB blob is pushed (POST + monolithic PUT) and pulled with curl
set -uo pipefail
cd "$(dirname "$0")/.."
REPO_ROOT=$(pwd)

QUICK=${BENCH_QUICK:-0}
if [[ $QUICK == 1 ]]; then
  BIG_MIB=64; SMALL_LAYERS=10; SMALL_KIB=256; HUGE_MIB=256; WRK_SECONDS=3
else
  BIG_MIB=1024; SMALL_LAYERS=50; SMALL_KIB=1024; HUGE_MIB=4096; WRK_SECONDS=10
fi
WRK_THREADS=2
WRK_CONNECTIONS=64
ACCEPT='application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json'

# shellcheck source=bench/lib.sh
source bench/lib.sh

# --- tools -----------------------------------------------------------------------------------------
need=()
for tool in wrk hey skopeo docker-registry curl openssl bc; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if ((${#need[@]})); then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    log "installing ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null \
      || die "could not install ${need[*]}"
  else
    die "missing ${need[*]} (run as root on Debian to have them installed)"
  fi
fi

# --- scratch space and cleanup ---------------------------------------------------------------------
scratch_dir "${TMPDIR:-/tmp}/wharf-bench"
RESULTS="$REPO_ROOT/bench/results"
mkdir -p "$RESULTS"

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# --- build and start both registries ---------------------------------------------------------------
log "building wharfd (Release)"
dotnet build src/Wharf.Server/Wharf.Server.csproj -c Release -nologo -v q -p:UseSharedCompilation=false \
  -o "$WORK/wharfd-bin" >"$RESULTS/build.log" 2>&1 || die "build failed, see bench/results/build.log"

WHARFD_PORT=$(free_port)
REGISTRY_PORT=$(free_port)
while [[ $REGISTRY_PORT == "$WHARFD_PORT" ]]; do REGISTRY_PORT=$(free_port); done

start_wharfd() {
  # Warning level: per-request logging is off on both sides (docker-registry's access log too).
  # Open registry: no authentication on either side, as docker-registry runs without an auth section.
  ASPNETCORE_ENVIRONMENT=Production Logging__LogLevel__Default=Warning \
    dotnet "$WORK/wharfd-bin/wharfd.dll" --urls "http://127.0.0.1:$WHARFD_PORT" --data-dir "$WORK/wharfd-data" \
    --Registry:OpenRegistry=true >>"$RESULTS/wharfd.log" 2>&1 &
  WHARFD_PID=$!
  PIDS+=("$WHARFD_PID")
  wait_ready wharfd "$WHARFD_PORT" "$WHARFD_PID"
}

start_registry() {
  start_docker_registry "$WORK/registry-data" "$REGISTRY_PORT" "$RESULTS/docker-registry.log"
  local status=$?
  REGISTRY_PID=$DOCKER_REGISTRY_PID
  return $status
}

# Stops a registry, empties its data directory and starts it again on a port neither the registry
# nor the client's blob-info cache has seen, so the next push really uploads every blob.
restart_fresh() { # name
  case $1 in
    wharfd)
      kill "$WHARFD_PID" 2>/dev/null; wait "$WHARFD_PID" 2>/dev/null
      rm -rf "$WORK/wharfd-data"
      WHARFD_PORT=$(free_port)
      start_wharfd || { WHARFD_PORT=$(free_port); start_wharfd; } \
        || { WHARFD_OK=0; log "wharfd did not start again"; return 1; } ;;
    docker-registry)
      kill "$REGISTRY_PID" 2>/dev/null; wait "$REGISTRY_PID" 2>/dev/null
      rm -rf "$WORK/registry-data"
      REGISTRY_PORT=$(free_port)
      start_registry || { REGISTRY_PORT=$(free_port); start_registry; } \
        || die "docker-registry did not start again" ;;
  esac
  # One small push first, so neither registry is measured cold (wharfd's JIT, both page caches);
  # its blobs are not in the measured images, so it cannot spare them an upload.
  skopeo_copy "oci:$LAYOUT:small" "docker://127.0.0.1:$(run_for "$1")/warmup/small:1" "$RESULTS/skopeo-$1.log" \
    || log "$1: warm-up push failed"
}

: >"$RESULTS/wharfd.log"
: >"$RESULTS/docker-registry.log"
start_registry || die "docker-registry did not start"

WHARFD_OK=1
start_wharfd || { WHARFD_OK=0; log "wharfd did not start: measuring docker-registry alone"; }
REGISTRY_VERSION=$(docker-registry --version 2>/dev/null | awk '{print $NF}')

# --- generated images (OCI layouts) ----------------------------------------------------------------
# A layer is a tar of one file of random bytes, gzip'd at the fastest level: random data does not
# compress, so the blob is as large as asked and the client spends no time compressing on push.
LAYOUT="$WORK/layout"
mkdir -p "$LAYOUT/blobs/sha256"
printf '{"imageLayoutVersion":"1.0.0"}' >"$LAYOUT/oci-layout"
INDEX_ENTRIES=()

put_blob() { # file -> prints digest hex, moves file into the layout
  local hex
  hex=$(sha256sum "$1" | cut -d' ' -f1)
  mv "$1" "$LAYOUT/blobs/sha256/$hex"
  echo "$hex"
}

make_layer() { # size-in-KiB -> prints "digest-hex diffid-hex size"
  local dir="$WORK/gen.$RANDOM$RANDOM" diff hex
  mkdir -p "$dir"
  head -c "$(($1 * 1024))" /dev/urandom >"$dir/data.bin"
  tar -C "$dir" -cf - data.bin | tee >(sha256sum | cut -d' ' -f1 >"$dir.diffid") | gzip -1 >"$dir.tgz"
  rm -rf "$dir"
  while [[ ! -s $dir.diffid ]]; do sleep 0.05; done
  diff=$(cat "$dir.diffid"); rm -f "$dir.diffid"
  local size
  size=$(stat -c %s "$dir.tgz")
  hex=$(put_blob "$dir.tgz")
  echo "$hex $diff $size"
}

make_image() { # tag layer-size-KiB... -> adds the image to the layout under tag
  local tag=$1; shift
  local layers="" diffs="" kib digest diff size
  for kib in "$@"; do
    read -r digest diff size < <(make_layer "$kib")
    layers+="${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$digest\",\"size\":$size}"
    diffs+="${diffs:+,}\"sha256:$diff\""
  done
  printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
    "$diffs" >"$WORK/config.json"
  local config_size config_hex
  config_size=$(stat -c %s "$WORK/config.json")
  config_hex=$(put_blob "$WORK/config.json")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
    "$config_hex" "$config_size" "$layers" >"$WORK/manifest.json"
  local manifest_size manifest_hex
  manifest_size=$(stat -c %s "$WORK/manifest.json")
  manifest_hex=$(put_blob "$WORK/manifest.json")
  INDEX_ENTRIES+=("{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$manifest_hex\",\"size\":$manifest_size,\"annotations\":{\"org.opencontainers.image.ref.name\":\"$tag\"}}")
  local IFS=,
  printf '{"schemaVersion":2,"manifests":[%s]}' "${INDEX_ENTRIES[*]}" >"$LAYOUT/index.json"
}

log "generating images: 1 x ${BIG_MIB} MiB layer, ${SMALL_LAYERS} x ${SMALL_KIB} KiB layers, a small one"
make_image small 64
make_image big $((BIG_MIB * 1024))
small_sizes=()
for ((i = 0; i < SMALL_LAYERS; i++)); do small_sizes+=("$SMALL_KIB"); done
make_image many "${small_sizes[@]}"

image_bytes() { # tag -> sum of config and layer sizes, from the manifest
  local entry digest
  for entry in "${INDEX_ENTRIES[@]}"; do
    [[ $entry == *"ref.name\":\"$1\""* ]] || continue
    digest=$(sed -E 's/.*"digest":"sha256:([0-9a-f]+)".*/\1/' <<<"$entry")
    grep -oE '"size":[0-9]+' "$LAYOUT/blobs/sha256/$digest" | cut -d: -f2 | paste -sd+ | bc
  done
}

# --- helpers for measuring -------------------------------------------------------------------------
fmt() { [[ $1 == - ]] && echo - || printf '%.*f' "${2:-1}" "$1"; }
ratio() { # a b -> a/b, or - when either is missing
  [[ $1 == - || $2 == - ]] && { echo -; return; }
  printf '%.2f×' "$(echo "$1 / $2" | bc -l)"
}

declare -A R # results: R[name.metric]

run_for() { # registry-name -> port, or nothing when that registry is not measured
  case $1 in
    wharfd) [[ $WHARFD_OK == 1 ]] && kill -0 "$WHARFD_PID" 2>/dev/null && echo "$WHARFD_PORT" ;;
    docker-registry) echo "$REGISTRY_PORT" ;;
  esac
}

skopeo_copy() { # src dst log
  skopeo --insecure-policy copy --src-tls-verify=false --dest-tls-verify=false "$1" "$2" >>"$3" 2>&1
}

measure_copy() { # name tag
  local name=$1 tag=$2 port start bytes secs
  port=$(run_for "$name") || true
  R[$name.push.$tag]=-; R[$name.pull.$tag]=-
  [[ -n $port ]] || return 0
  bytes=$(image_bytes "$tag")
  # Pushes: the median of three, each into a registry restarted empty.
  local pushes=() run
  for run in 1 2 3; do
    restart_fresh "$name" || return 0
    port=$(run_for "$name")
    sync
    start=$(now)
    if skopeo_copy "oci:$LAYOUT:$tag" "docker://127.0.0.1:$port/bench/$tag:1" "$RESULTS/skopeo-$name.log"; then
      pushes+=("$(elapsed "$start")")
    else
      log "$name push $tag failed (bench/results/skopeo-$name.log)"; return 0
    fi
  done
  secs=$(printf '%s\n' "${pushes[@]}" | sort -g | sed -n 2p)
  R[$name.push.$tag]=$(echo "$bytes / 1048576 / $secs" | bc -l)
  log "$name push $tag: $(fmt "$secs" 2) s (median of $(printf '%.2f ' "${pushes[@]}")), $(fmt "${R[$name.push.$tag]}") MiB/s"
  # Pulls are repeatable (nothing is left behind but the pulled layout): the median of three.
  local runs=() run
  for run in 1 2 3; do
    rm -rf "$WORK/pulled"
    start=$(now)
    if skopeo_copy "docker://127.0.0.1:$port/bench/$tag:1" "oci:$WORK/pulled:$tag" "$RESULTS/skopeo-$name.log"; then
      runs+=("$(elapsed "$start")")
    else
      log "$name pull $tag failed (bench/results/skopeo-$name.log)"; rm -rf "$WORK/pulled"; return 0
    fi
  done
  secs=$(printf '%s\n' "${runs[@]}" | sort -g | sed -n 2p)
  R[$name.pull.$tag]=$(echo "$bytes / 1048576 / $secs" | bc -l)
  log "$name pull $tag: $(fmt "$secs" 2) s (median of $(printf '%.2f ' "${runs[@]}")), $(fmt "${R[$name.pull.$tag]}") MiB/s"
  rm -rf "$WORK/pulled"
}

measure_load() { # name method tool
  local name=$1 method=$2 tool=$3 port out code
  local key=$method.$tool
  port=$(run_for "$name") || true
  R[$name.$key]=-
  [[ -n $port ]] || return 0
  local url="http://127.0.0.1:$port/v2/bench/small/manifests/1"
  local probe=(-X GET)
  [[ $method == HEAD ]] && probe=(-I) # curl -X HEAD would wait for a body that never comes
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "${probe[@]}" -H "Accept: $ACCEPT" "$url")
  if [[ $code != 200 ]]; then
    log "$name $method manifest answered $code, not measuring"; return 0
  fi
  if [[ $tool == wrk ]]; then
    printf 'wrk.method = "%s"\nwrk.headers["Accept"] = "%s"\n' "$method" "$ACCEPT" >"$WORK/$method.lua"
    out=$(wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${WRK_SECONDS}s" -s "$WORK/$method.lua" "$url" 2>&1)
    R[$name.$key]=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    grep -q 'Non-2xx' <<<"$out" && R[$name.$key.note]="(errors)"
  else
    out=$(hey -z "${WRK_SECONDS}s" -c "$WRK_CONNECTIONS" -m "$method" -H "Accept: $ACCEPT" "$url" 2>&1)
    R[$name.$key]=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    grep -A5 'Status code distribution' <<<"$out" | grep -qv -E 'distribution|\[200\]|^$' && R[$name.$key.note]="(errors)"
  fi
  printf '== %s %s %s\n%s\n' "$name" "$method" "$tool" "$out" >>"$RESULTS/load.log"
  [[ -n ${R[$name.$key]} ]] || R[$name.$key]=-
  [[ -n ${R[$name.$key.note]:-} ]] && log "$name $method: some answers were not 200, see bench/results/load.log"
  log "$name $method manifest ($tool): ${R[$name.$key]} req/s"
}

measure_huge() { # name pid
  local name=$1 pid=$2 port location start secs
  port=$(run_for "$name") || true
  R[$name.hwm]=-; R[$name.hugepush]=-; R[$name.hugepull]=-; R[$name.rss0]=-
  [[ -n $port ]] || return 0
  # Count the peak from here: "5" resets VmHWM to the current RSS (proc(5), /proc/pid/clear_refs).
  echo 5 >"/proc/$pid/clear_refs" 2>/dev/null || log "cannot reset VmHWM of $name; the peak covers its whole life"
  R[$name.rss0]=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  location=$(curl -s -D - -o /dev/null -X POST "http://127.0.0.1:$port/v2/bench/huge/blobs/uploads/" \
    | awk 'tolower($1) == "location:" {print $2}' | tr -d '\r')
  [[ -n $location ]] || { log "$name: POST upload gave no Location"; return 0; }
  [[ $location == /* ]] && location="http://127.0.0.1:$port$location"
  [[ $location == *\?* ]] && location+="&" || location+="?"
  start=$(now)
  code=$(curl -s -o "$WORK/put.out" -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
    -T "$HUGE_FILE" "${location}digest=sha256:$HUGE_HEX")
  secs=$(elapsed "$start")
  if [[ $code != 201 ]]; then
    log "$name: PUT of the ${HUGE_MIB} MiB blob answered $code: $(head -c 300 "$WORK/put.out")"; return 0
  fi
  R[$name.hugepush]=$(echo "$HUGE_MIB / $secs" | bc -l)
  start=$(now)
  code=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "http://127.0.0.1:$port/v2/bench/huge/blobs/sha256:$HUGE_HEX")
  secs=$(elapsed "$start")
  if [[ $code == "200 $((HUGE_MIB * 1048576))" ]]; then
    R[$name.hugepull]=$(echo "$HUGE_MIB / $secs" | bc -l)
  else
    log "$name: GET of the ${HUGE_MIB} MiB blob answered '$code'"
  fi
  R[$name.hwm]=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  log "$name ${HUGE_MIB} MiB blob: push $(fmt "${R[$name.hugepush]}") MiB/s, pull $(fmt "${R[$name.hugepull]}") MiB/s, peak RSS $((R[$name.hwm] / 1024)) MiB"
  # Keep the disk from filling up between the two registries.
  curl -s -o /dev/null -X DELETE "http://127.0.0.1:$port/v2/bench/huge/blobs/sha256:$HUGE_HEX" || true
}

# --- 1. blob push and pull with skopeo -------------------------------------------------------------
# Which registry goes first alternates. Both read the same layout, just written and so in the page
# cache for both. Every push goes to a registry restarted empty on a new port (see restart_fresh).
measure_copy wharfd big; measure_copy docker-registry big
measure_copy docker-registry many; measure_copy wharfd many
measure_copy wharfd small; measure_copy docker-registry small

# --- 2. manifest GET and HEAD by tag with wrk ------------------------------------------------------
for load in "GET wrk" "HEAD hey" "GET hey"; do
  for name in wharfd docker-registry; do measure_load "$name" $load; done
done

# --- 3. memory while a huge blob streams through ---------------------------------------------------
HUGE_FILE="$WORK/huge.bin"
log "generating the ${HUGE_MIB} MiB blob"
# AES-CTR over zeros: incompressible, and an order of magnitude faster than /dev/urandom.
HUGE_HEX=$(openssl enc -aes-128-ctr -nosalt -pass pass:wharf-bench -pbkdf2 </dev/zero 2>/dev/null \
  | head -c $((HUGE_MIB * 1048576)) | tee "$HUGE_FILE" | sha256sum | cut -d' ' -f1)
measure_huge docker-registry "$REGISTRY_PID"
[[ $WHARFD_OK == 1 ]] && measure_huge wharfd "$WHARFD_PID"
rm -f "$HUGE_FILE"

# --- report ----------------------------------------------------------------------------------------
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
mib() { [[ $1 == - ]] && echo - || echo "$(($1 / 1024)) MiB"; }
W=wharfd; D=docker-registry
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
TABLE=$(cat <<EOF
Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores ($CPU), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM,
$(uname -sr); wharfd $(git -C "$REPO_ROOT" rev-parse --short HEAD) (Release) against docker-registry $REGISTRY_VERSION,
both on 127.0.0.1 with fresh data directories on the same disk, no authentication and per-request
logging off on both.
The clients (wrk, hey, skopeo, curl) run on the same cores as the servers; load average before the
run $LOAD_BEFORE, after it $LOAD_AFTER (other work on the machine makes every number noisier).$( [[ $QUICK == 1 ]] && printf '\n**Quick run (BENCH_QUICK=1): smaller data, not the reference numbers.**')
$( [[ $WHARFD_OK == 1 ]] || printf '\n**wharfd did not start in this run: docker-registry alone.**')

| measurement | wharfd | docker-registry | wharfd / docker-registry | design target |
|---|---:|---:|---:|---:|
| manifest GET by tag (req/s; wrk, ${WRK_THREADS} threads, ${WRK_CONNECTIONS} connections, ${WRK_SECONDS} s) | $(fmt "${R[$W.GET.wrk]}" 0) ${R[$W.GET.wrk.note]:-} | $(fmt "${R[$D.GET.wrk]}" 0) ${R[$D.GET.wrk.note]:-} | $(ratio "${R[$W.GET.wrk]}" "${R[$D.GET.wrk]}") | ≥ 10× |
| manifest HEAD by tag (req/s; hey, ${WRK_CONNECTIONS} connections, ${WRK_SECONDS} s) | $(fmt "${R[$W.HEAD.hey]}" 0) ${R[$W.HEAD.hey.note]:-} | $(fmt "${R[$D.HEAD.hey]}" 0) ${R[$D.HEAD.hey.note]:-} | $(ratio "${R[$W.HEAD.hey]}" "${R[$D.HEAD.hey]}") | ≥ 10× |
| manifest GET by tag (req/s; hey, same, to compare with HEAD) | $(fmt "${R[$W.GET.hey]}" 0) ${R[$W.GET.hey.note]:-} | $(fmt "${R[$D.GET.hey]}" 0) ${R[$D.GET.hey.note]:-} | $(ratio "${R[$W.GET.hey]}" "${R[$D.GET.hey]}") | ≥ 10× |
| skopeo push, 1 layer of ${BIG_MIB} MiB (MiB/s) | $(fmt "${R[$W.push.big]}") | $(fmt "${R[$D.push.big]}") | $(ratio "${R[$W.push.big]}" "${R[$D.push.big]}") | ≥ 1.5× |
| skopeo pull, 1 layer of ${BIG_MIB} MiB (MiB/s) | $(fmt "${R[$W.pull.big]}") | $(fmt "${R[$D.pull.big]}") | $(ratio "${R[$W.pull.big]}" "${R[$D.pull.big]}") | ≥ 1.5× |
| skopeo push, ${SMALL_LAYERS} layers of ${SMALL_KIB} KiB (MiB/s) | $(fmt "${R[$W.push.many]}") | $(fmt "${R[$D.push.many]}") | $(ratio "${R[$W.push.many]}" "${R[$D.push.many]}") | ≥ 1.5× |
| skopeo pull, ${SMALL_LAYERS} layers of ${SMALL_KIB} KiB (MiB/s) | $(fmt "${R[$W.pull.many]}") | $(fmt "${R[$D.pull.many]}") | $(ratio "${R[$W.pull.many]}" "${R[$D.pull.many]}") | ≥ 1.5× |
| curl PUT of a ${HUGE_MIB} MiB blob (MiB/s) | $(fmt "${R[$W.hugepush]}") | $(fmt "${R[$D.hugepush]}") | $(ratio "${R[$W.hugepush]}" "${R[$D.hugepush]}") | |
| curl GET of the ${HUGE_MIB} MiB blob (MiB/s) | $(fmt "${R[$W.hugepull]}") | $(fmt "${R[$D.hugepull]}") | $(ratio "${R[$W.hugepull]}" "${R[$D.hugepull]}") | |
| RSS before the ${HUGE_MIB} MiB blob | $(mib "${R[$W.rss0]}") | $(mib "${R[$D.rss0]}") | | |
| peak RSS (VmHWM) during its push and pull | $(mib "${R[$W.hwm]}") | $(mib "${R[$D.hwm]}") | | < 200 MB |

wrk 4.1 cannot measure HEAD (it waits for a body after the headers), so HEAD is driven by hey, and
GET by both so the two methods can be compared through the same client. Throughput is image bytes
(config + layers) over the wall time of the whole \`skopeo copy\`, which includes skopeo's own work
(reading the layout, hashing, writing the pulled layout); pushes and pulls are the median of three
runs, each push into a registry restarted with an empty data directory. When
both registries pull at the same skopeo speed while the curl GET rows are far faster, skopeo is the
bottleneck, not the registry. A ratio above 1× means wharfd is faster (or, for RSS, larger). \`-\`
means not measured: the step failed, see the log lines of the run in \`bench/results/\`.
EOF
)
[[ -n $TABLE ]] || die "the results table came out empty"
printf '%s\n' "$TABLE" | tee "$RESULTS/table.md"

DOC="$REPO_ROOT/docs/benchmarks.md"
mkdir -p "$(dirname "$DOC")"
[[ -f $DOC ]] || printf '# Benchmarks\n\nHow Wharf measures up against the tools it replaces. Each section is written by the script named in it.\n' >"$DOC"
printf '%s\n' '## Registry: wharfd vs docker-registry 2.8' '' \
  'Written by `bench/run.sh` (rerun it to refresh this section; the rest of the file is kept).' '' "$TABLE" >"$RESULTS/section.md"
replace_section "$DOC" registry "$RESULTS/section.md"
log "results written to docs/benchmarks.md"
