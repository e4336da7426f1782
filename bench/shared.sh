#!/usr/bin/env bash
# Shared image store at cluster scale, simulated on one machine: 8 "nodes" (each its own store and
# runroot) start `true` at once in the same image of many small files, four ways:
#   podman    every node pulls the image with podman (its own --root/--runroot/--tmpdir)
#   pull      every node pulls the image with wharf (no shared store)
#   dir       the image published once into a shared store as unpacked layer directories
#   squashfs  the image published once into a shared store as one squashfs file per layer
# For each: seconds until all 8 have started (and exited), bytes of blobs the registry served
# (the one publisher pull included for the shared cases), and what one start touches on the shared
# directory. Writes the "Shared store" section of docs/benchmarks.md.
#
#   bench/shared.sh                                   # 4 layers x 4096 files (~64 MiB), 3 rounds
#   BENCH_LAYERS=4 BENCH_FILES=16384 bench/shared.sh  # the issue's ~1 GiB image (slow to write)
#   BENCH_WHARF=path/to/wharf BENCH_DOC=0 bench/shared.sh
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-3}
NODES=${BENCH_NODES:-8}
LAYERS=${BENCH_LAYERS:-4}
FILES=${BENCH_FILES:-4096}

# shellcheck source=bench/lib.sh
source bench/lib.sh
[[ $(id -u) == 0 ]] || die "run as root: the nodes mount overlays and squashfs"
need=()
for tool in docker-registry skopeo curl strace bc python3 mksquashfs runc podman; do command -v "$tool" >/dev/null 2>&1 || need+=("$tool"); done
if ((${#need[@]})); then
  need=("${need[@]/mksquashfs/squashfs-tools}")
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null || die "apt-get failed"
fi
[[ -x /bin/busybox ]] || die "needs busybox-static"

scratch_dir /tmp/wsh 0755
if [[ -n ${BENCH_WHARF:-} ]]; then
  WHARF_BIN=$BENCH_WHARF
else
  log "publishing wharf (NativeAOT)"
  dotnet publish src/Wharf.Cli/Wharf.Cli.csproj -c Release -r linux-x64 -o "$WORK/wharf-bin" -nologo -v q >/dev/null || die "publish failed"
  WHARF_BIN="$WORK/wharf-bin/wharf"
fi

bench_cleanup() {
  for d in "$WORK"/pp*/; do [[ -d $d ]] && podnode "$d" system reset -f >/dev/null 2>&1; done
  for d in "$WORK"/n*/ "$WORK"/pub*/; do [[ -d $d ]] && "$WHARF_BIN" --root "$d/graph" --runroot "$d/run" system reset -f >/dev/null 2>&1; done
  grep -o " $WORK/[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
}

PORT=$(free_port)
# Info level: one "response completed" line per request, with the bytes written.
start_docker_registry "$WORK/registry" "$PORT" "$WORK/registry.log" info || die "docker-registry did not start"

log "writing the image: busybox + $LAYERS layers of $FILES small files"
python3 - "$WORK/layout" "$LAYERS" "$FILES" <<'PY' || die "writing the image"
import gzip, hashlib, io, json, os, random, sys, tarfile
out, nlayers, nfiles = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
blobs = os.path.join(out, 'blobs', 'sha256'); os.makedirs(blobs, exist_ok=True)
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, d), 'wb').write(data); return {'digest': 'sha256:' + d, 'size': len(data)}
def layer(fill):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode='w', format=tarfile.PAX_FORMAT) as t: fill(t)
    tar = raw.getvalue()
    return put(gzip.compress(tar, 1)), 'sha256:' + hashlib.sha256(tar).hexdigest()
def add(t, name, data=None, link=None, mode=0o644, kind=tarfile.REGTYPE):
    i = tarfile.TarInfo(name); i.mode = mode; i.mtime = 1700000000
    if kind == tarfile.DIRTYPE: i.type = kind; i.mode = 0o755; t.addfile(i); return
    if link: i.type = tarfile.SYMTYPE; i.linkname = link; t.addfile(i); return
    i.size = len(data); t.addfile(i, io.BytesIO(data))
def base(t):
    for d in ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp']: add(t, d, kind=tarfile.DIRTYPE)
    add(t, 'bin/busybox', open('/bin/busybox', 'rb').read(), mode=0o755)
    for a in ['sh', 'true', 'cat']: add(t, 'bin/' + a, link='busybox')
    add(t, 'etc/passwd', b'root:x:0:0:root:/root:/bin/sh\n')
rng = random.Random(22)
layers = [layer(base)]
for n in range(nlayers):
    def fill(t, n=n):
        add(t, f'data{n}', kind=tarfile.DIRTYPE)
        for d in range(nfiles // 256):
            add(t, f'data{n}/{d:03d}', kind=tarfile.DIRTYPE)
            for f in range(256):
                add(t, f'data{n}/{d:03d}/{f:03d}.py', rng.randbytes(rng.randint(512, 15872) // 2).hex().encode())
    layers.append(layer(fill))
config = json.dumps({'architecture': 'amd64', 'os': 'linux', 'config': {'Cmd': ['sh']},
                     'rootfs': {'type': 'layers', 'diff_ids': [l[1] for l in layers]}}).encode()
manifest = json.dumps({'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.manifest.v1+json',
    'config': dict(put(config), mediaType='application/vnd.oci.image.config.v1+json'),
    'layers': [dict(l[0], mediaType='application/vnd.oci.image.layer.v1.tar+gzip') for l in layers]}).encode()
m = put(manifest)
json.dump({'schemaVersion': 2, 'manifests': [dict(m, mediaType='application/vnd.oci.image.manifest.v1+json', annotations={'org.opencontainers.image.ref.name': 'v1'})]}, open(os.path.join(out, 'index.json'), 'w'))
open(os.path.join(out, 'oci-layout'), 'w').write('{"imageLayoutVersion":"1.0.0"}')
PY
IMAGE="127.0.0.1:$PORT/bench/many:v1"
skopeo copy -q --dest-tls-verify=false "oci:$WORK/layout:v1" "docker://$IMAGE" || die "skopeo copy"
IMAGE_BYTES=$(du -sb "$WORK/layout/blobs" | cut -f1)

# Bytes of blob GETs the registry answered since log line $1.
served() { tail -n +"$1" "$WORK/registry.log" | grep 'response completed' | grep 'http.request.method=GET' | grep '/blobs/' \
  | grep -o 'http.response.written=[0-9]*' | cut -d= -f2 | awk '{s+=$1} END {printf "%.0f\n", s}'; }
mark() { wc -l < "$WORK/registry.log" | awk '{print $1+1}'; }

node_conf() { # node_conf DIR [SHARED]
  mkdir -p "$1"
  printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/graph"\n' "$1" > "$1/storage.conf"
  [[ -n ${2:-} ]] && printf '\n[storage.options]\nadditionalimagestores = ["%s"]\n' "$2" >> "$1/storage.conf"
}
nodewharf() { local d=$1; shift; CONTAINERS_STORAGE_CONF="$d/storage.conf" "$WHARF_BIN" --root "$d/graph" --runroot "$d/run" "$@"; }

# podman as a node: its own store, runroot and tmpdir, and a storage.conf of its own (none of the
# machine's additionalimagestores); runc and cgroupfs as the tests run it (crun refuses this
# machine's hybrid cgroups), ulimits it may set.
podnode() {
  local d=$1; shift
  [[ -f $d/storage.conf ]] || { mkdir -p "$d"; printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/storage"\nrunroot = "%s/run"\n' "$d" "$d" > "$d/storage.conf"; }
  CONTAINERS_STORAGE_CONF="$d/storage.conf" podman --root "$d/storage" --runroot "$d/run" --tmpdir "$d/tmp" \
    --storage-driver overlay --runtime runc --cgroup-manager cgroupfs --events-backend file "$@"
}

# start_all_podman PREFIX: as start_all, every node a podman.
start_all_podman() {
  local t0 pids=() i failed=0
  t0=$(now)
  for i in $(seq "$NODES"); do
    podnode "$WORK/$1$i" run --rm --network none --tls-verify=false --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "$IMAGE" true >"$WORK/$1$i.out" 2>&1 & pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || failed=1; done
  ((failed)) && { cat "$WORK/$1"*.out >&2; die "a podman node failed"; }
  elapsed "$t0"
}

# start_all PREFIX: all nodes `run --rm IMAGE true` at once; prints the seconds until the last is done.
start_all() {
  local t0 pids=() i failed=0
  t0=$(now)
  for i in $(seq "$NODES"); do nodewharf "$WORK/$1$i" run --rm --network none --tls-verify=false "$IMAGE" true >"$WORK/$1$i.out" 2>&1 & pids+=($!); done
  for i in "${pids[@]}"; do wait "$i" || failed=1; done
  ((failed)) && { cat "$WORK/$1"*.out >&2; die "a node failed"; }
  elapsed "$t0"
}

# touched SHARED NODE: files of SHARED one more start opens (strace: openat by wharf, mount and
# runc) or reads (atime, reset before: what the kernel's overlay reads from lower dirs).
touched() {
  local shared=$1 d=$2
  find "$shared" -type f -exec touch -a -d @0 {} + 2>/dev/null
  strace -f -qq -e trace=open,openat,openat2 -o "$WORK/strace.out" \
    env CONTAINERS_STORAGE_CONF="$d/storage.conf" "$WHARF_BIN" --root "$d/graph" --runroot "$d/run" run --rm --network none "$IMAGE" true >/dev/null 2>&1 || die "traced start failed"
  { grep -o "\"$shared/[^\"]*\"" "$WORK/strace.out" | tr -d '"'; find "$shared" -type f -newerat @1 2>/dev/null; } | sort -u | wc -l
}

declare -A T B F
for round in $(seq "$RUNS"); do
  log "round $round: each node pulls with podman"
  for d in "$WORK"/pp*/; do [[ -d $d ]] && podnode "$d" system reset -f >/dev/null 2>&1; done
  rm -rf "$WORK"/pp*
  m=$(mark); T[podman]+="$(start_all_podman pp) "; B[podman]=$(served "$m")

  log "round $round: each node pulls with wharf"
  rm -rf "$WORK"/n* "$WORK"/pub* "$WORK"/shared*
  for i in $(seq "$NODES"); do node_conf "$WORK/np$i"; done
  m=$(mark); T[pull]+="$(start_all np) "; B[pull]=$(served "$m")
  # The warm start everything is compared with: a node that has the image starts again.
  T[warm]+="$(start_all np) "
  t0=$(now); nodewharf "$WORK/np1" run --rm --network none "$IMAGE" true >/dev/null 2>&1 || die "single start"; T[single]+="$(elapsed "$t0") "

  for fmt in dir squashfs; do
    log "round $round: shared store, $fmt"
    node_conf "$WORK/pub$fmt"
    m=$(mark)
    nodewharf "$WORK/pub$fmt" pull -q --tls-verify=false "$IMAGE" >/dev/null || die "publisher pull"
    nodewharf "$WORK/pub$fmt" image publish -q "$IMAGE" --store "$WORK/shared$fmt" --format "$fmt" >/dev/null || die "publish"
    for i in $(seq "$NODES"); do node_conf "$WORK/n$fmt$i" "$WORK/shared$fmt"; done
    T[$fmt]+="$(start_all "n$fmt") "; B[$fmt]=$(served "$m")
    F[$fmt]=$(touched "$WORK/shared$fmt" "$WORK/n${fmt}1")
  done
done
med() { tr ' ' '\n' <<<"$1" | grep . | median; }
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
WARM=$(med "${T[single]}")
ratio() { echo "scale=2; $1 / $WARM" | bc; }
mib() { echo "scale=1; $1 / 1048576" | bc; }
OUT=bench/results/shared.md
mkdir -p bench/results
{
  echo "## Shared store: $NODES nodes start one image"
  echo
  echo "\`bench/shared.sh\`, $(date -u +%Y-%m-%d), $RUNS rounds (medians), load average at the end $LOAD (2 cores, shared:"
  echo "absolute times are noisy, read the ratios). Image: busybox + $LAYERS layers of $FILES small files"
  echo "($(mib "$IMAGE_BYTES") MiB of blobs), from docker-registry. $NODES node stores on one machine start"
  echo "\`run --rm IMAGE true\` at once (podman: each node its own podman store, pulling); \"x warm\" divides by one warm start of a node that has the image"
  echo "($WARM s; the issue's target for the shared store: within 2x). Files on the shared directory: what one more start opens (strace -f: wharf, mount, runc) or"
  echo "reads (atime; the kernel overlay's reads of lower files), counted once each."
  echo
  echo "| case | all $NODES started (s) | x warm | registry served (MiB) | files on the shared dir per start |"
  echo "|---|---|---|---|---|"
  for c in warm podman pull dir squashfs; do
    t=$(med "${T[$c]}")
    echo "| $c | $t | $(ratio "$t") | $(mib "${B[$c]:-0}") | ${F[$c]:-n/a} |"
  done
} > "$OUT"
cat "$OUT"
[[ ${BENCH_DOC:-1} == 1 ]] && replace_section docs/benchmarks.md shared "$OUT" "### Reading"
exit 0
