#!/usr/bin/env bash
# Several wharfd behind nginx: manifest GET and blob pull throughput with 1, 2 and 3 instances sharing
# one data directory (Registry:SharedDataDirectory), nginx round robin in front, loopback, warm page
# cache; the metadata in the directory's SQLite file, then in PostgreSQL (a private cluster started
# here, Debian's postgresql; skipped with a log line when it is not installed). Writes the table into
# the multi section of docs/benchmarks.md and the raw ab output into bench/results/.
#
#   bench/multi.sh                  # 20000 manifest GETs at 64 clients, 2000 pulls of a 4 MiB blob at 16
#   BENCH_QUICK=1 bench/multi.sh    # a tenth of that, to check the harness itself
#   BENCH_POSTGRES=0 bench/multi.sh # SQLite only
#
# Measured with ab (apache2-utils, keep-alive) through nginx: requests per second; for each run the
# RSS of every instance afterwards, and the CPU time the manifest GETs cost per request in wharfd
# (all instances) and in PostgreSQL's backends (/proc utime+stime before and after): the per-request
# cost of each database, which a loaded machine disturbs far less than a rate. On a 2-core machine
# more instances mostly add contention; the table says so rather than hides it.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO_ROOT=$(pwd)

# shellcheck source=bench/lib.sh
source bench/lib.sh

if [[ ${BENCH_QUICK:-0} == 1 ]]; then MANIFEST_N=2000; BLOB_N=200; else MANIFEST_N=20000; BLOB_N=2000; fi
POSTGRES=${BENCH_POSTGRES:-1}
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

PORTS=()
DATABASE_ARGS=()
start_instances() { # count (DATA, DATABASE_ARGS and DB say which data directory and database)
  local i port
  PORTS=()
  for ((i = 0; i < $1; i++)); do
    port=$(free_port)
    Logging__LogLevel__Default=Warning dotnet "$WORK/wharfd-bin/wharfd.dll" --urls "http://127.0.0.1:$port" --data-dir "$DATA" \
      --Registry:OpenRegistry=true --Registry:SharedDataDirectory=true "${DATABASE_ARGS[@]}" >>"$RESULTS/multi-wharfd-$DB-$i.log" 2>&1 &
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
TICKS=$(getconf CLK_TCK)
# cpu_ticks PID...: utime+stime of the processes still there (fields 14 and 15, counted after the
# command name's closing parenthesis, which may hold spaces).
cpu_ticks() { local pid t=0; for pid in "$@"; do [[ -r /proc/$pid/stat ]] && t=$((t + $(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}'))); done; echo "$t"; }
# backend_ticks: the CPU of PostgreSQL's processes (the postmaster's children), 0 without PostgreSQL.
backend_ticks() { [[ $DB == postgresql ]] || { echo 0; return; }; cpu_ticks $(pgrep -P "$POSTGRES_PID"); }
# per_request TICKS N: microseconds of CPU per request.
per_request() { echo "scale=0; $1 * 1000000 / $TICKS / $2" | bc; }

# --- one image, pushed once per database ----------------------------------------------------------
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
push_image() {
  start_instances 1
  BASE="http://127.0.0.1:$NGINX_PORT"
  LAYER=$(push_blob "$WORK/layer")
  CONFIG=$(push_blob "$WORK/config")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}' \
    "$CONFIG" "$(stat -c %s "$WORK/config")" "$LAYER" "$(stat -c %s "$WORK/layer")" >"$WORK/manifest"
  [[ $(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary @"$WORK/manifest" "$BASE/v2/bench/multi/manifests/v1") == 201 ]] || die "manifest push failed"
  stop_all
}

# --- 1, 2, 3 instances ----------------------------------------------------------------------------
TABLE="$WORK/table.md"
{
  echo "| database | instances | manifest GET req/s (64 clients) | blob pull req/s, 4 MiB (16 clients) | MiB/s | CPU per manifest GET, wharfd (µs) | CPU per manifest GET, PostgreSQL (µs) | RSS per instance after (MiB) |"
  echo "|---|---|---|---|---|---|---|---|"
} >"$TABLE"
declare -A ONE_RPS ONE_CPU
run_database() { # label
  local n m b mib w0 w1 p0 p1 wcpu pcpu label=$1
  push_image
  for n in 1 2 3; do
    start_instances "$n"
    BASE="http://127.0.0.1:$NGINX_PORT"
    ab -q -k -n 500 -c 16 -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$BASE/v2/bench/multi/manifests/v1" >/dev/null 2>&1 # warm-up
    w0=$(cpu_ticks "${PIDS[@]}"); p0=$(backend_ticks)
    ab -q -k -n "$MANIFEST_N" -c 64 -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$BASE/v2/bench/multi/manifests/v1" >"$RESULTS/multi-$DB-manifest-$n.txt" 2>&1
    w1=$(cpu_ticks "${PIDS[@]}"); p1=$(backend_ticks)
    ab -q -k -n "$BLOB_N" -c 16 "$BASE/v2/bench/multi/blobs/$LAYER" >"$RESULTS/multi-$DB-blob-$n.txt" 2>&1
    m=$(rps "$RESULTS/multi-$DB-manifest-$n.txt"); b=$(rps "$RESULTS/multi-$DB-blob-$n.txt")
    [[ $(failed "$RESULTS/multi-$DB-manifest-$n.txt") == 0 && $(failed "$RESULTS/multi-$DB-blob-$n.txt") == 0 ]] || log "warning: failed requests with $n instances on $DB (see bench/results)"
    mib=$(echo "$b * 4" | bc)
    wcpu=$(per_request $((w1 - w0)) "$MANIFEST_N")
    if [[ $DB == postgresql ]]; then pcpu=$(per_request $((p1 - p0)) "$MANIFEST_N"); else pcpu="n/a (in process)"; fi
    log "$label, $n instance(s): manifest $m req/s (CPU/request: wharfd $wcpu µs, PostgreSQL $pcpu), blob $b req/s ($mib MiB/s), RSS $(rss_mib)"
    echo "| $label | $n | $m | $b | $mib | $wcpu | $pcpu | $(rss_mib) |" >>"$TABLE"
    if ((n == 1)); then ONE_RPS[$DB]=$m; ONE_CPU[$DB]=$wcpu; [[ $DB == postgresql ]] && ONE_CPU[$DB]=$((wcpu + pcpu)); fi
    stop_all
  done
}

DB=sqlite DATA="$WORK/data-sqlite" DATABASE_ARGS=()
run_database "SQLite WAL"
if [[ $POSTGRES == 1 ]] && start_postgres "$WORK/postgres"; then
  # Instances x pool must stay below PostgreSQL's max_connections (default 100): Npgsql's default
  # pool of 100 per instance let three instances open more than that, and PostgreSQL refused the rest
  # (53300 "too many clients", a 500 for those requests).
  PG_POOL=${BENCH_PG_POOL:-30}
  DB=postgresql DATA="$WORK/data-postgresql" DATABASE_ARGS=(--database "$POSTGRES_URL?Maximum%20Pool%20Size=$PG_POOL")
  run_database "PostgreSQL $POSTGRES_VERSION"
  stop_postgres
fi

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
{
  echo "### Several instances behind nginx (bench/multi.sh)"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) cores, load average before $LOAD_BEFORE, after $LOAD_AFTER; nginx round robin,"
  echo "keep-alive to the clients and the instances, one shared data directory (blobs; and the SQLite file in the SQLite rows),"
  echo "$MANIFEST_N manifest GETs and $BLOB_N blob pulls per row; ab, nginx, PostgreSQL and wharfd on the same machine."
  echo
  cat "$TABLE"
  if [[ -n ${ONE_RPS[postgresql]:-} ]]; then
    echo
    echo "One instance, PostgreSQL against SQLite: manifest GET rate $(printf '%.2f' "$(echo "scale=4; ${ONE_RPS[postgresql]} / ${ONE_RPS[sqlite]}" | bc)")x;"
    echo "CPU per manifest GET (wharfd plus PostgreSQL's backends) $(printf '%.2f' "$(echo "scale=4; ${ONE_CPU[postgresql]} / ${ONE_CPU[sqlite]}" | bc)")x SQLite's (in-process) cost."
    echo "Each instance's Npgsql pool is capped at $PG_POOL connections (\`Maximum Pool Size\` in the URL): PostgreSQL's default"
    echo "max_connections is 100, and three instances with Npgsql's default pool of 100 each were refused connections (53300) under 64 clients."
  fi
} >"$WORK/section.md"
replace_section docs/benchmarks.md multi "$WORK/section.md" "#### Reading"
cat "$WORK/section.md"
