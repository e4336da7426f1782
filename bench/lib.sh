# Shared pieces of the benchmark scripts; every bench/*.sh sources it (from the repository root).

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# replace_section DOC NAME FILE [KEEP]: puts FILE between <!-- NAME-benchmark:start/end --> in DOC
# (appending the section when the markers are not there yet), leaving the rest of DOC alone. With
# KEEP (a heading such as "### Reading"), the old section's part from that heading on is kept after
# the new text: notes written by hand survive a rerun.
replace_section() {
  python3 - "$1" "$2" "$3" "${4:-}" <<'PY'
import sys
doc_path, name, new_path, keep = sys.argv[1:5]
try:
    doc = open(doc_path).read()
except FileNotFoundError:
    doc = '# Benchmarks\n'
new = open(new_path).read().rstrip('\n') + '\n'
start, end = f'<!-- {name}-benchmark:start -->', f'<!-- {name}-benchmark:end -->'
notes = ''
if keep and start in doc and end in doc:
    old = doc[doc.index(start):doc.index(end)]
    if keep in old:
        notes = '\n' + old[old.index(keep):].rstrip('\n') + '\n'
block = start + '\n' + new + notes + end + '\n'
if start in doc and end in doc:
    rest = doc[doc.index(end) + len(end):].lstrip('\n')
    doc = doc[:doc.index(start)] + block + ('\n' + rest if rest else '')
else:
    doc = doc.rstrip('\n') + '\n\n' + block
open(doc_path, 'w').write(doc)
PY
}

# scratch_dir PREFIX [MODE]: makes the run's scratch directory WORK (mktemp -d PREFIX.XXXXXX, chmod
# MODE when given) and arranges the cleanup for any exit, INT and TERM included: every PID in PIDS is
# stopped, then the script's own bench_cleanup runs if it defines one (store resets, unmounts; define
# it once what it uses is set), then WORK is removed.
PIDS=()
scratch_dir() {
  WORK=$(mktemp -d "$1.XXXXXX") || die "cannot make a scratch directory $1.XXXXXX"
  [[ -z ${2:-} ]] || chmod "$2" "$WORK"
  trap _scratch_cleanup EXIT
  trap 'exit 130' INT TERM
}

# stop_pids: stops every process in PIDS, newest first, each with TERM, waiting until it is gone
# (10 s at most; a process that is no child of ours is polled), and empties PIDS. PostgreSQL is not
# in PIDS: stop_postgres stops it with pg_ctl (the cleanup does, after PIDS).
stop_pids() {
  local i pid n
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    pid=${PIDS[i]}
    kill "$pid" 2>/dev/null || continue
    wait "$pid" 2>/dev/null
    for ((n = 0; n < 100; n++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  PIDS=()
}

_scratch_cleanup() {
  stop_pids
  stop_postgres
  if declare -F bench_cleanup >/dev/null; then bench_cleanup; fi
  rm -rf "$WORK"
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on, below the ephemeral range, so no
# client socket of the run can hold it when a server binds.
free_port() {
  local low port
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  while :; do
    port=$((10000 + RANDOM % (low - 10000)))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
}

# wait_ready NAME PORT PID [PATH]: waits (60 s at most) until 127.0.0.1:PORT answers GET PATH
# (default /v2/) with 200, 401 or 404; fails at once when PID has exited.
wait_ready() {
  local i
  for ((i = 0; i < 300; i++)); do
    kill -0 "$3" 2>/dev/null || { log "$1 exited during startup"; return 1; }
    case $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2${4:-/v2/}") in 200 | 401 | 404) return 0 ;; esac
    sleep 0.2
  done
  log "$1 did not answer GET ${4:-/v2/} on port $2 within 60 s"
  return 1
}

# start_docker_registry DATA_DIR PORT LOG [LEVEL]: the peer registry (docker-registry 2.8, filesystem
# driver, deletes enabled) on 127.0.0.1:PORT with its storage in DATA_DIR and its output appended to
# LOG; its access log only at LEVEL info (default warn). Sets DOCKER_REGISTRY_PID and waits until it
# answers; the PID joins PIDS, which the cleanup stops. The config is written next to LOG.
start_docker_registry() {
  local data=$1 port=$2 out=$3 level=${4:-warn} config="${3%.log}.yml"
  {
    printf 'version: 0.1\nlog:\n  level: %s\n' "$level"
    [[ $level == info ]] || printf '  accesslog:\n    disabled: true\n'
    printf 'storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n' "$data"
    printf 'http:\n  addr: 127.0.0.1:%s\n' "$port"
  } >"$config"
  docker-registry serve "$config" >>"$out" 2>&1 &
  DOCKER_REGISTRY_PID=$!
  PIDS+=("$DOCKER_REGISTRY_PID")
  wait_ready docker-registry "$port" "$DOCKER_REGISTRY_PID"
}

# start_postgres DIR: a private PostgreSQL cluster (Debian's postgresql, the newest installed) in DIR
# on 127.0.0.1 at a free port, default settings (fsync and synchronous_commit on), run as the
# postgres account when we are root. Sets POSTGRES_URL (a database "wharf", trust authentication on
# loopback), POSTGRES_VERSION and POSTGRES_PID. The server is not put in PIDS (a script's stop_pids
# between rounds would stop it, and a TERM is PostgreSQL's "smart" shutdown, which waits for every
# client): stop_postgres stops it, and the cleanup calls that for any exit. Returns 1 (with a log
# line) when PostgreSQL is not installed or does not start.
POSTGRES_DIR=
start_postgres() {
  local dir=$1 bin port i pid as=()
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [[ -n $bin && -x $bin/initdb ]] || { log "PostgreSQL is not installed (Debian package postgresql): skipping it"; return 1; }
  mkdir -p "$dir"
  if [[ $(id -u) == 0 ]]; then
    chown postgres:postgres "$dir"
    chmod o+x "$(dirname "$dir")" # the postgres account must reach it (a mktemp directory is 0700)
    as=(runuser -u postgres --)
  fi
  "${as[@]}" "$bin/initdb" -D "$dir/data" -U wharf -A trust >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; log "initdb failed"; return 1; }
  port=$(free_port)
  "${as[@]}" "$bin/postgres" -D "$dir/data" -h 127.0.0.1 -p "$port" -k "$dir" >"$dir/postgres.log" 2>&1 &
  for ((i = 0; i < 300; i++)); do
    if [[ -s $dir/data/postmaster.pid ]] && "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
      pid=$(head -n 1 "$dir/data/postmaster.pid")
      POSTGRES_DIR=$dir POSTGRES_BIN=$bin POSTGRES_PID=$pid
      "${as[@]}" "$bin/psql" -q -h 127.0.0.1 -p "$port" -U wharf -d postgres -c 'CREATE DATABASE wharf;' >/dev/null \
        || { log "could not create the database"; return 1; }
      POSTGRES_URL="postgresql://wharf@127.0.0.1:$port/wharf"
      POSTGRES_VERSION=$(basename "$(dirname "$bin")")
      return 0
    fi
    sleep 0.2
  done
  cat "$dir/postgres.log" >&2
  log "PostgreSQL did not start"
  return 1
}

# stop_postgres: stops the server start_postgres started, if any, the way PostgreSQL is meant to be
# stopped: pg_ctl stop -m fast (clients disconnected, a clean shutdown checkpoint), waiting for it
# (30 s); SIGKILL to its postmaster (our PID, checked against its pid file) only if that fails.
stop_postgres() {
  [[ -n $POSTGRES_DIR ]] || return 0
  local as=()
  [[ $(id -u) == 0 ]] && as=(runuser -u postgres --)
  if ! "${as[@]}" "$POSTGRES_BIN/pg_ctl" stop -D "$POSTGRES_DIR/data" -m fast -w -t 30 >/dev/null 2>&1; then
    if [[ -s $POSTGRES_DIR/data/postmaster.pid && $(head -n 1 "$POSTGRES_DIR/data/postmaster.pid") == "$POSTGRES_PID" ]]; then
      log "pg_ctl stop failed: killing postmaster $POSTGRES_PID"
      kill -KILL "$POSTGRES_PID" 2>/dev/null
    fi
  fi
  POSTGRES_DIR=
}

# random_layout DIR LAYERS MIB [SALT]: an OCI image layout in DIR holding one image tagged "1" of
# LAYERS random (incompressible) layers of MIB MiB each; SALT goes into the config's "created" so
# that several images get distinct configs.
random_layout() {
  python3 - "$1" "$2" "$3" "${4:-}" <<'PY'
import hashlib, json, os, sys
root, layers, mib, salt = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
blobs = os.path.join(root, "blobs", "sha256")
os.makedirs(blobs, exist_ok=True)
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, d), "wb").write(data)
    return {"digest": "sha256:" + d, "size": len(data)}
config = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
if salt:
    config["created"] = salt
config = put(json.dumps(config).encode())
entries = [dict(put(os.urandom(mib << 20)), mediaType="application/vnd.oci.image.layer.v1.tar+gzip") for _ in range(layers)]
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": dict(config, mediaType="application/vnd.oci.image.config.v1+json"), "layers": entries}).encode()
m = put(manifest)
open(os.path.join(root, "index.json"), "w").write(json.dumps({"schemaVersion": 2, "manifests": [dict(m, mediaType="application/vnd.oci.image.manifest.v1+json", annotations={"org.opencontainers.image.ref.name": "1"})]}))
open(os.path.join(root, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
}
