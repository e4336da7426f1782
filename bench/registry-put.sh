#!/usr/bin/env bash
# Manifest PUT benchmark: clients tagging N new manifests (each a distinct manifest with its own tag,
# one keep-alive connection per client), against wharfd and docker-registry 2.8 side by side on
# loopback, fresh data directories: one client after another PUT (sequential), and CONCURRENCY
# clients at once (concurrent). wharfd on SQLite, and on PostgreSQL when Debian's postgresql is
# installed (a private cluster on loopback, started and stopped here). wharfd acknowledges a
# manifest only once it is durable (one commit, shared by concurrent PUTs: group commit);
# docker-registry fsyncs nothing. Writes the "Manifest PUT" section of docs/benchmarks.md.
#
#   bench/registry-put.sh                 # 2,000 manifests, 8 concurrent clients
#   BENCH_PUTS=300 bench/registry-put.sh  # a quick check of the harness
#   BENCH_CONCURRENCY=16 bench/registry-put.sh
#   BENCH_POSTGRES=0 bench/registry-put.sh                # SQLite only
#   WHARFD_DLL=src/Wharf.Server/bin/Release/net10.0/wharfd.dll bench/registry-put.sh   # reuse a Release build
set -uo pipefail
cd "$(dirname "$0")/.."
PUTS=${BENCH_PUTS:-2000}
CONCURRENCY=${BENCH_CONCURRENCY:-8}
POSTGRES=${BENCH_POSTGRES:-1}

# shellcheck source=bench/lib.sh
source bench/lib.sh
for tool in docker-registry curl python3; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done

scratch_dir "${TMPDIR:-/tmp}/wharf-put-bench"

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
if [[ -z ${WHARFD_DLL:-} ]]; then
  log "building wharfd (Release)"
  dotnet build src/Wharf.Server/Wharf.Server.csproj -c Release -nologo -v q -o "$WORK/wharfd-bin" >"$WORK/build.log" 2>&1 \
    || { cat "$WORK/build.log" >&2; die "build failed"; }
  WHARFD_DLL="$WORK/wharfd-bin/wharfd.dll"
fi

# start_wharfd NAME DATA_DIR [ARGS...]: starts wharfd on a free port; sets WHARFD_PORT.
start_wharfd() {
  local name=$1 data=$2
  shift 2
  WHARFD_PORT=$(free_port)
  ASPNETCORE_ENVIRONMENT=Production Logging__LogLevel__Default=Warning \
    dotnet "$WHARFD_DLL" --urls "http://127.0.0.1:$WHARFD_PORT" --data-dir "$data" \
    --Registry:OpenRegistry=true "$@" >"$WORK/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  wait_ready "$name" "$WHARFD_PORT" "$pid" || { cat "$WORK/$name.log" >&2; die "$name did not start"; }
}

start_wharfd wharfd "$WORK/wharfd-data"
SQLITE_PORT=$WHARFD_PORT

PG_PORT=
if [[ $POSTGRES == 1 ]]; then
  start_postgres "$WORK/postgres" && {
    start_wharfd wharfd-pg "$WORK/wharfd-pg-data" --database "$POSTGRES_URL"
    PG_PORT=$WHARFD_PORT
  }
fi

REGISTRY_PORT=$(free_port)
start_docker_registry "$WORK/registry-data" "$REGISTRY_PORT" "$WORK/registry.log" || die "docker-registry did not start"

# put_rate PORT CLIENTS REPO: pushes a config and a layer, then PUTS manifests that reference them,
# each with a distinct annotation (a new digest) and its own tag, from CLIENTS clients at once (each
# its own keep-alive connection); prints manifests per second.
put_rate() {
  python3 - "$1" "$PUTS" "$2" "$3" <<'PY'
import hashlib, http.client, json, sys, threading, time
port, n, clients, repo = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
c = http.client.HTTPConnection("127.0.0.1", port)
def req(method, path, body=None, headers=None, conn=None):
    c = conn or globals()["c"]
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse(); data = r.read()
    if r.status >= 300 and r.status != 307:
        sys.exit(f"{method} {path}: {r.status} {data[:200]!r}")
    return r
def push_blob(data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    r = req("POST", f"/v2/bench/{repo}/blobs/uploads/?digest={d}", data, {"Content-Type": "application/octet-stream", "Content-Length": str(len(data))})
    if r.status == 202:  # a registry that wants the two-step upload
        loc = r.getheader("Location"); sep = "&" if "?" in loc else "?"
        req("PUT", f"{loc}{sep}digest={d}", data, {"Content-Type": "application/octet-stream", "Content-Length": str(len(data))})
    return d
config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
layer = bytes(range(256)) * 16
cd, ld = push_blob(config), push_blob(layer)
def manifest(i):
    return json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": len(layer)}],
        "annotations": {"bench.index": str(i)}}, separators=(",", ":")).encode()
headers = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
for i in range(20):  # warm-up, not counted
    req("PUT", f"/v2/bench/{repo}/manifests/warm{i}", manifest(-1 - i), headers)
failed = []
def client(k):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    try:
        for i in range(k, n, clients):
            req("PUT", f"/v2/bench/{repo}/manifests/t{i}", manifest(i), headers, conn)
    except SystemExit as e:
        failed.append(str(e))
threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
t0 = time.monotonic()
for t in threads: t.start()
for t in threads: t.join()
if failed: sys.exit(failed[0])
print(f"{n / (time.monotonic() - t0):.1f}")
PY
}

# rate NAME PORT CLIENTS REPO: one run, logged; prints the rate.
rate() {
  local r
  log "$1: $PUTS manifest PUTs, $3 client(s)"
  r=$(put_rate "$2" "$3" "$4") || die "$1 run failed"
  log "$1: $r manifests/s"
  echo "$r"
}
ratio() { echo "scale=2; $1 / $2" | bc | sed 's/^\./0./'; }

REG_SEQ=$(rate docker-registry "$REGISTRY_PORT" 1 seq) || exit 1
SQLITE_SEQ=$(rate wharfd-sqlite "$SQLITE_PORT" 1 seq) || exit 1
REG_CONC=$(rate docker-registry "$REGISTRY_PORT" "$CONCURRENCY" conc) || exit 1
SQLITE_CONC=$(rate wharfd-sqlite "$SQLITE_PORT" "$CONCURRENCY" conc) || exit 1
if [[ -n $PG_PORT ]]; then
  PG_SEQ=$(rate wharfd-postgresql "$PG_PORT" 1 seq) || exit 1
  PG_CONC=$(rate wharfd-postgresql "$PG_PORT" "$CONCURRENCY" conc) || exit 1
fi
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

out="$WORK/section.md"
{
  echo "## Manifest PUT"
  echo
  echo "\`bench/registry-put.sh\`, $(date -u +%Y-%m-%d), one run; $(nproc) cores, load average $LOAD_BEFORE before, $LOAD_AFTER after."
  echo "$PUTS new manifests (each a distinct digest with its own tag, same config and layer) PUT by one client, then"
  echo "by $CONCURRENCY clients at once (each its own keep-alive connection), after 20 untimed ones; fresh data"
  echo "directories, open registries, loopback."
  echo
  echo "| registry | sequential manifests/s | ratio | $CONCURRENCY clients manifests/s | ratio |"
  echo "|---|---:|---:|---:|---:|"
  echo "| wharfd, SQLite (WAL, synchronous=FULL: every acknowledged manifest is durable) | $SQLITE_SEQ | $(ratio "$SQLITE_SEQ" "$REG_SEQ")× | $SQLITE_CONC | $(ratio "$SQLITE_CONC" "$REG_CONC")× |"
  if [[ -n $PG_PORT ]]; then
    echo "| wharfd, PostgreSQL $POSTGRES_VERSION (fsync on, synchronous_commit on) | $PG_SEQ | $(ratio "$PG_SEQ" "$REG_SEQ")× | $PG_CONC | $(ratio "$PG_CONC" "$REG_CONC")× |"
  fi
  echo "| docker-registry 2.8 (filesystem driver, no fsync) | $REG_SEQ | 1× | $REG_CONC | 1× |"
  echo
  echo "A wharfd manifest PUT is one transaction (bytes, references, tag, quota check) and one durable"
  echo "commit; concurrent PUTs share commits (group commit). Ratios are against docker-registry in the same column."
  echo "On PostgreSQL a PUT is two round trips before COMMIT (one batch of the lock and every read that decides,"
  echo "one of the writes; docs/registry.md \"PostgreSQL\"). The machine is shared and loaded: compare ratios, not rates."
} >"$out"
replace_section docs/benchmarks.md registry-put "$out" "### Reading"
log "wrote the Manifest PUT section of docs/benchmarks.md"
