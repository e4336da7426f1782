#!/usr/bin/env bash
# Several wharfd behind nginx: manifest GET and blob pull throughput with 1, 2 and 3 instances sharing
# one data directory (Registry:SharedDataDirectory), nginx round robin in front, loopback, warm page
# cache. Writes the table into the multi section of docs/benchmarks.md and the raw ab output into
# bench/results/.
#
#   bench/multi.sh                 # 20000 manifest GETs at 64 clients, 2000 pulls of a 4 MiB blob at 16
#   BENCH_QUICK=1 bench/multi.sh   # a tenth of that, to check the harness itself
#
# Measured with ab (apache2-utils, keep-alive) through nginx: requests per second; for each run the
# RSS of every instance afterwards. On a 2-core machine more instances mostly add contention; the
# table says so rather than hides it.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO_ROOT=$(pwd)

# shellcheck source=bench/lib.sh
source bench/lib.sh

if [[ ${BENCH_QUICK:-0} == 1 ]]; then MANIFEST_N=2000; BLOB_N=200; else MANIFEST_N=20000; BLOB_N=2000; fi
NGINX=/usr/sbin/nginx
for tool in ab curl "$NGINX"; do command -v "$tool" >/dev/null 2>&1 || die "missing $tool (apache2-utils, curl, nginx-light)"; done

scratch_dir "${TMPDIR:-/tmp}/wharf-multi"
RESULTS="$REPO_ROOT/bench/results"
mkdir -p "$RESULTS"
NGINX_PID=
stop_all() {
  [[ -n $NGINX_PID ]] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
  NGINX_PID=
  stop_pids
}
bench_cleanup() { stop_all; }

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log "building wharfd (Release)"
dotnet build src/Wharf.Server/Wharf.Server.csproj -c Release -nologo -v q -p:UseSharedCompilation=false \
  -o "$WORK/wharfd-bin" >"$RESULTS/multi-build.log" 2>&1 || die "build failed, see bench/results/multi-build.log"

DATA="$WORK/data"
PORTS=()
start_instances() { # count
  local i port
  PORTS=()
  for ((i = 0; i < $1; i++)); do
    port=$(free_port)
    Logging__LogLevel__Default=Warning dotnet "$WORK/wharfd-bin/wharfd.dll" --urls "http://127.0.0.1:$port" --data-dir "$DATA" \
      --Registry:OpenRegistry=true --Registry:SharedDataDirectory=true >>"$RESULTS/multi-wharfd-$i.log" 2>&1 &
    PIDS+=("$!")
    PORTS+=("$port")
    wait_ready "wharfd $i" "$port" "$!" || die "wharfd $i did not start"
  done
  NGINX_PORT=$(free_port)
  mkdir -p "$WORK/nginx"
  {
    [[ $(id -u) == 0 ]] && echo "user root;"
    echo "worker_processes 1; daemon off; pid $WORK/nginx/nginx.pid; error_log $WORK/nginx/error.log warn;"
    echo "events { worker_connections 1024; }"
    echo "http { access_log off; client_body_temp_path $WORK/nginx/body; proxy_temp_path $WORK/nginx/proxy;"
    echo "  fastcgi_temp_path $WORK/nginx/fcgi; uwsgi_temp_path $WORK/nginx/uwsgi; scgi_temp_path $WORK/nginx/scgi;"
    echo "  client_max_body_size 0; upstream wharfd {"
    for port in "${PORTS[@]}"; do echo "    server 127.0.0.1:$port;"; done
    echo "    keepalive 64; }"
    echo "  server { listen 127.0.0.1:$NGINX_PORT; location / { proxy_pass http://wharfd; proxy_http_version 1.1;"
    echo "    proxy_set_header Connection \"\"; proxy_set_header Host \$http_host; proxy_buffering off; proxy_request_buffering off; } } }"
  } >"$WORK/nginx/nginx.conf"
  "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" &
  NGINX_PID=$!
  wait_ready nginx "$NGINX_PORT" "$NGINX_PID" || die "nginx did not start"
}

rps() { awk '/Requests per second/ {print $4}' "$1"; }
failed() { awk '/Failed requests/ {print $3}' "$1"; }
rss_mib() { local total="" pid; for pid in "${PIDS[@]}"; do total+="$(awk '/VmRSS/ {printf "%d", $2/1024}' "/proc/$pid/status") "; done; echo "${total% }"; }

# --- one image, pushed once --------------------------------------------------------------------
start_instances 1
BASE="http://127.0.0.1:$NGINX_PORT"
head -c $((4 * 1024 * 1024)) /dev/urandom >"$WORK/layer"
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$WORK/config"
push_blob() { # file
  local digest location
  digest="sha256:$(sha256sum "$1" | cut -d' ' -f1)"
  location=$(curl -s -D - -o /dev/null -X POST "$BASE/v2/bench/multi/blobs/uploads/" | tr -d '\r' | awk -F': ' 'tolower($1)=="location"{print $2}')
  [[ $location == http* ]] || location="$BASE$location"
  [[ $location == *\?* ]] && location+="&digest=$digest" || location+="?digest=$digest"
  [[ $(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' -T "$1" "$location") == 201 ]] || die "blob push failed"
  echo "$digest"
}
LAYER=$(push_blob "$WORK/layer")
CONFIG=$(push_blob "$WORK/config")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}' \
  "$CONFIG" "$(stat -c %s "$WORK/config")" "$LAYER" "$(stat -c %s "$WORK/layer")" >"$WORK/manifest"
[[ $(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
  --data-binary @"$WORK/manifest" "$BASE/v2/bench/multi/manifests/v1") == 201 ]] || die "manifest push failed"
stop_all

# --- 1, 2, 3 instances ----------------------------------------------------------------------------
TABLE="$WORK/table.md"
{
  echo "| instances | manifest GET req/s (64 clients) | blob pull req/s, 4 MiB (16 clients) | MiB/s | RSS per instance after (MiB) |"
  echo "|---|---|---|---|---|"
} >"$TABLE"
for n in 1 2 3; do
  start_instances "$n"
  BASE="http://127.0.0.1:$NGINX_PORT"
  ab -q -k -n 500 -c 16 -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$BASE/v2/bench/multi/manifests/v1" >/dev/null 2>&1 # warm-up
  ab -q -k -n "$MANIFEST_N" -c 64 -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$BASE/v2/bench/multi/manifests/v1" >"$RESULTS/multi-manifest-$n.txt" 2>&1
  ab -q -k -n "$BLOB_N" -c 16 "$BASE/v2/bench/multi/blobs/$LAYER" >"$RESULTS/multi-blob-$n.txt" 2>&1
  m=$(rps "$RESULTS/multi-manifest-$n.txt"); b=$(rps "$RESULTS/multi-blob-$n.txt")
  [[ $(failed "$RESULTS/multi-manifest-$n.txt") == 0 && $(failed "$RESULTS/multi-blob-$n.txt") == 0 ]] || log "warning: failed requests with $n instances (see bench/results)"
  mib=$(echo "$b * 4" | bc)
  log "$n instance(s): manifest $m req/s, blob $b req/s ($mib MiB/s), RSS $(rss_mib)"
  echo "| $n | $m | $b | $mib | $(rss_mib) |" >>"$TABLE"
  stop_all
done

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
{
  echo "### Several instances behind nginx (bench/multi.sh)"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) cores, load average before $LOAD_BEFORE, after $LOAD_AFTER; nginx round robin,"
  echo "keep-alive to the clients and the instances, one shared data directory, SQLite WAL; ab on the same machine."
  echo
  cat "$TABLE"
} >"$WORK/section.md"
replace_section docs/benchmarks.md multi "$WORK/section.md" "#### Reading"
cat "$WORK/section.md"
