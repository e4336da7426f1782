#!/usr/bin/env bash
# Registry burst: many clients pulling the same large blob at once, as when every task of a job
# starts on its node and fetches the same layer. wharfd (Release build), docker-registry 2.8 and
# nginx (sendfile on, serving the same bytes as a plain file) side by side in one run, warm page
# cache, loopback. Writes the results table into the burst section of docs/benchmarks.md and the
# raw numbers into bench/results/.
#
#   bench/burst.sh                   # 1 GiB blob, 8, 32 and 64 concurrent pulls
#   BENCH_QUICK=1 bench/burst.sh     # 128 MiB blob, to check the harness itself
#   BURST_CLIENTS="32" bench/burst.sh
#
# Measured per server and client count: aggregate MiB/s = all bytes received / wall time from the
# first request to the last byte; every client is a curl writing to /dev/null and checking that it
# got the whole blob. For wharfd also its RSS before and at the peak of each burst.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO_ROOT=$(pwd)

if [[ ${BENCH_QUICK:-0} == 1 ]]; then BLOB_MIB=128; else BLOB_MIB=1024; fi
CLIENTS=${BURST_CLIENTS:-"8 32 64"}
REPO=bench/burst

# shellcheck source=bench/lib.sh
source bench/lib.sh

need=()
for tool in docker-registry nginx curl bc python3; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if ((${#need[@]})); then
  pkgs=("${need[@]/nginx/nginx-light}")
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    log "installing ${pkgs[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null \
      || die "could not install ${pkgs[*]}"
  else
    die "missing ${need[*]} (run as root on Debian to have them installed)"
  fi
fi

scratch_dir "${TMPDIR:-/tmp}/wharf-burst" 755
RESULTS="$REPO_ROOT/bench/results"
mkdir -p "$RESULTS"

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the blob --------------------------------------------------------------------------------------
log "making a $BLOB_MIB MiB blob"
BLOB="$WORK/blob"
head -c "$((BLOB_MIB * 1024 * 1024))" /dev/urandom >"$BLOB"
HEX=$(sha256sum "$BLOB" | cut -d' ' -f1)
DIGEST="sha256:$HEX"
SIZE=$(stat -c %s "$BLOB")

push_blob() { # base-url
  local location
  location=$(curl -s -D - -o /dev/null -X POST "$1/v2/$REPO/blobs/uploads/" | tr -d '\r' | awk -F': ' 'tolower($1)=="location"{print $2}')
  [[ -n $location ]] || return 1
  [[ $location == http* ]] || location="$1$location"
  [[ $location == *\?* ]] && location+="&digest=$DIGEST" || location+="?digest=$DIGEST"
  [[ $(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
    -T "$BLOB" "$location") == 201 ]]
}

# --- servers ---------------------------------------------------------------------------------------
log "building wharfd (Release)"
dotnet build src/Wharf.Server/Wharf.Server.csproj -c Release -nologo -v q -p:UseSharedCompilation=false \
  -o "$WORK/wharfd-bin" >"$RESULTS/burst-build.log" 2>&1 || die "build failed, see bench/results/burst-build.log"

WHARFD_PORT=$(free_port)
ASPNETCORE_ENVIRONMENT=Production Logging__LogLevel__Default=Warning \
  dotnet "$WORK/wharfd-bin/wharfd.dll" --urls "http://127.0.0.1:$WHARFD_PORT" --data-dir "$WORK/wharfd-data" \
  --Registry:OpenRegistry=true >"$RESULTS/burst-wharfd.log" 2>&1 &
WHARFD_PID=$!
PIDS+=("$WHARFD_PID")
wait_ready wharfd "$WHARFD_PORT" "$WHARFD_PID" || die "wharfd did not start"

REGISTRY_PORT=$(free_port)
start_docker_registry "$WORK/registry-data" "$REGISTRY_PORT" "$RESULTS/burst-docker-registry.log" || die "docker-registry did not start"
REGISTRY_PID=$DOCKER_REGISTRY_PID

# nginx: one worker per core, sendfile on, access log off (as on the registries), the blob as a
# plain file under the same path a registry would answer.
NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx/root/v2/$REPO/blobs" "$WORK/nginx/tmp"
cp "$BLOB" "$WORK/nginx/root/v2/$REPO/blobs/$DIGEST"
chmod -R a+rX "$WORK/nginx/root"
NGINX_USER=""
[[ $(id -u) == 0 ]] && NGINX_USER="user $(id -un) $(id -gn);"
cat >"$WORK/nginx/nginx.conf" <<EOF
$NGINX_USER
worker_processes auto;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $WORK/nginx/tmp;
  proxy_temp_path $WORK/nginx/tmp;
  fastcgi_temp_path $WORK/nginx/tmp;
  uwsgi_temp_path $WORK/nginx/tmp;
  scgi_temp_path $WORK/nginx/tmp;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $WORK/nginx/root;
    location = /v2/ { return 200 '{}'; }
  }
}
EOF
nginx -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" >"$RESULTS/burst-nginx.log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
wait_ready nginx "$NGINX_PORT" "$NGINX_PID" || die "nginx did not start"

log "pushing the blob into wharfd and docker-registry"
push_blob "http://127.0.0.1:$WHARFD_PORT" || die "push to wharfd failed"
push_blob "http://127.0.0.1:$REGISTRY_PORT" || die "push to docker-registry failed"
rm -f "$BLOB"

URL_wharfd="http://127.0.0.1:$WHARFD_PORT/v2/$REPO/blobs/$DIGEST"
URL_registry="http://127.0.0.1:$REGISTRY_PORT/v2/$REPO/blobs/$DIGEST"
URL_nginx="http://127.0.0.1:$NGINX_PORT/v2/$REPO/blobs/$DIGEST"

# Warm page cache and JIT: every server sends the whole blob once and it must hash right.
for name in wharfd registry nginx; do
  url_var="URL_$name"
  got=$(curl -sfL "${!url_var}" | sha256sum | cut -d' ' -f1)
  [[ $got == "$HEX" ]] || die "$name served a blob with digest $got, not $HEX"
done

# CPU seconds (user + system) a server has used so far; nginx is its master plus its workers.
cpu_ticks() { local p t=0; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
server_pids() {
  case $1 in
    wharfd) echo "$WHARFD_PID" ;;
    registry) echo "$REGISTRY_PID" ;;
    nginx) echo "$NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')" ;;
  esac
}
TICKS=$(getconf CLK_TCK)

rss_kib() { awk '/^VmRSS/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# burst name clients -> prints "MiB/s peak-rss-KiB cpu-ms-per-GiB"; fails when a client got less than the blob
burst() {
  local name=$1 n=$2 url_var="URL_$1" out="$WORK/burst.$1.$2" i start end sampler peak=0
  mkdir -p "$out"
  if [[ $name == wharfd ]]; then
    (while :; do rss_kib "$WHARFD_PID"; sleep 0.1; done) >"$out/rss" &
    sampler=$!
  fi
  local clients=() pids c0 c1
  read -r -a pids <<<"$(server_pids "$name")"
  c0=$(cpu_ticks "${pids[@]}")
  start=$(now)
  for ((i = 0; i < n; i++)); do
    curl -s -o /dev/null -w '%{http_code} %{size_download}\n' "${!url_var}" >"$out/$i" &
    clients+=($!)
  done
  wait "${clients[@]}"
  end=$(now)
  c1=$(cpu_ticks "${pids[@]}")
  if [[ -n ${sampler:-} ]]; then
    kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
    peak=$(sort -n "$out/rss" | tail -1)
  fi
  local bad
  bad=$(cat "$out"/[0-9]* | awk -v size="$SIZE" '$1 != 200 || $2 != size' | wc -l)
  if ((bad)); then log "$name x$n: $bad of $n pulls incomplete"; echo "- - -"; return 1; fi
  echo "scale=1; $n * $SIZE / 1048576 / ($end - $start)" | bc | tr '\n' ' '
  echo "$peak $(( (c1 - c0) * 1000 / TICKS * 1073741824 / (n * SIZE) ))"
}

RSS_IDLE=$(rss_kib "$WHARFD_PID")
declare -A MIBS PEAK CPU
for n in $CLIENTS; do
  for name in wharfd registry nginx; do
    log "$name: $n concurrent pulls"
    read -r "MIBS[$name.$n]" "PEAK[$name.$n]" "CPU[$name.$n]" < <(burst "$name" "$n")
    log "$name x$n: ${MIBS[$name.$n]} MiB/s, ${CPU[$name.$n]} ms CPU per GiB"
  done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

ratio() { [[ $1 != - && $2 != - && -n $1 && -n $2 ]] && echo "scale=2; $1 / $2" | bc | sed 's/^\./0./' || echo -; }

# --- report ----------------------------------------------------------------------------------------
REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
CPU=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)
{
  echo "## Registry burst: one blob, many concurrent pulls"
  echo
  echo "Written by \`bench/burst.sh\`. Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores ($CPU),"
  echo "wharfd $REV (Release, open registry, access log off), docker-registry $(docker-registry --version 2>/dev/null | awk '{print $NF}')"
  echo "and nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') (\`sendfile on\`, access log off), all on 127.0.0.1, warm page cache."
  echo "Blob: $((SIZE / 1048576)) MiB of random bytes; clients: that many \`curl\`s started at once, writing to"
  echo "/dev/null, on the same cores as the servers. Load average before the run $LOAD_BEFORE, after it $LOAD_AFTER."
  echo
  echo "| concurrent pulls | wharfd MiB/s | docker-registry MiB/s | nginx MiB/s | wharfd / docker-registry | wharfd / nginx | wharfd peak RSS |"
  echo "|---:|---:|---:|---:|---:|---:|---:|"
  for n in $CLIENTS; do
    echo "| $n | ${MIBS[wharfd.$n]} | ${MIBS[registry.$n]} | ${MIBS[nginx.$n]} | $(ratio "${MIBS[wharfd.$n]}" "${MIBS[registry.$n]}")× | $(ratio "${MIBS[wharfd.$n]}" "${MIBS[nginx.$n]}")× | $((${PEAK[wharfd.$n]:-0} / 1024)) MiB |"
  done
  echo
  echo "Server CPU time (user + system) per GiB sent, the cost that decides throughput when the cores are"
  echo "shared — and less noisy than MiB/s on a loaded machine:"
  echo
  echo "| concurrent pulls | wharfd | docker-registry | nginx | docker-registry / wharfd | nginx / wharfd |"
  echo "|---:|---:|---:|---:|---:|---:|"
  for n in $CLIENTS; do
    echo "| $n | ${CPU[wharfd.$n]} ms | ${CPU[registry.$n]} ms | ${CPU[nginx.$n]} ms | $(ratio "${CPU[registry.$n]}" "${CPU[wharfd.$n]}")× | $(ratio "${CPU[nginx.$n]}" "${CPU[wharfd.$n]}")× |"
  done
  echo
  echo "wharfd's RSS before the bursts: $((RSS_IDLE / 1024)) MiB. Targets: ≥ 1.5× docker-registry and ≥ 0.8× nginx."
} >"$WORK/section.md"
cp "$WORK/section.md" "$RESULTS/burst.md"
cat "$WORK/section.md"
replace_section docs/benchmarks.md burst "$WORK/section.md" "### Reading"
