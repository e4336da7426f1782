#!/usr/bin/env bash
# Pull to running: the native (NativeAOT) wharf against podman 4, as root and rootless, on a small
# image and on a 1 GiB image of many small files, both from the same local docker-registry.
# Writes the "Pull to running" section of docs/benchmarks.md (only that section; notes under its
# "### Reading" heading are kept).
#
#   bench/pullrun.sh                     # 3 alternating rounds per case, run as root
#   BENCH_RUNS=5 bench/pullrun.sh
#   BENCH_DOC=0 BENCH_MODES=root BENCH_IMAGES=many BENCH_TOOLS=wharf bench/pullrun.sh   # a subset, table in bench/results only
#   BENCH_WHARF=src/Wharf.Cli/bin/Release/net10.0/linux-x64/publish/wharf bench/pullrun.sh  # no publish
#
# Per round, tool, mode and image, from an empty store:
#   pull            pull -q IMAGE
#   first run       run --rm IMAGE true, right after that pull (the cold run: nothing ran yet)
#   pull + first    the two together (the user's real path)
#   warm run        run --rm IMAGE true again
# Each round's stores are kept until the end (cleanup resets and removes them all; about 3 GB per
# round and mode for the many-file image): on ext4 without a journal, as here, creating a file scans
# past every inode of its block group freed in the last 60-360 s (ext4's recently_deleted), so a pull
# right after the previous case's store was removed paid for that removal, several times its own
# CPU for 65 536 files, and whichever tool ran second in a pair was penalised.
# Both tools unpack layers at pull (wharf while they download). podman needs --runtime runc
# (crun refuses this machine's hybrid cgroups) and --ulimit values the host allows; both run with
# --network host so no network namespace set-up is timed. Rootless: an unprivileged user with
# subordinate ID ranges, each tool's user namespace made before anything is timed.
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-3}
MODES=${BENCH_MODES:-root rootless}
IMAGES=${BENCH_IMAGES:-small many}
TOOLS=${BENCH_TOOLS:-wharf podman}
BENCH_USER=wharf-bench

# shellcheck source=bench/lib.sh
source bench/lib.sh
[[ $(id -u) == 0 ]] || die "run as root: containers need it, and the rootless half makes its user"

need=()
for tool in podman runc docker-registry curl skopeo newuidmap bc python3; do command -v "$tool" >/dev/null 2>&1 || need+=("$tool"); done
[[ -x /bin/busybox ]] || need+=(busybox-static)
if ((${#need[@]})); then
  need=("${need[@]/newuidmap/uidmap}")
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null || die "apt-get failed"
fi
id -u "$BENCH_USER" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$BENCH_USER" || die "useradd"
grep -q "^$BENCH_USER:" /etc/subuid || usermod --add-subuids 500000-565535 --add-subgids 500000-565535 "$BENCH_USER" || die "usermod"

# Short paths: rootless podman refuses a runroot longer than 50 characters.
scratch_dir /tmp/wpr 0755
if [[ -n ${BENCH_WHARF:-} ]]; then
  # An already published binary (BENCH_WHARF=path/to/wharf), copied where the bench user can run it.
  mkdir -p "$WORK/wharf-bin"; cp "$BENCH_WHARF" "$WORK/wharf-bin/wharf" || die "no wharf at $BENCH_WHARF"
else
  log "publishing wharf (NativeAOT)"
  dotnet publish src/Wharf.Cli/Wharf.Cli.csproj -c Release -r linux-x64 -o "$WORK/wharf-bin" -nologo -v q >/dev/null || die "publish failed"
fi
chmod -R a+rX "$WORK/wharf-bin"
WHARF_BIN="$WORK/wharf-bin/wharf"
HOMEDIR="$WORK/home"; RUNDIR="$WORK/xdg"
mkdir -p "$HOMEDIR" "$RUNDIR"; chown "$BENCH_USER" "$HOMEDIR" "$RUNDIR"; chmod 0700 "$RUNDIR"

as_user() { runuser -u "$BENCH_USER" -- env -i HOME="$HOMEDIR" USER="$BENCH_USER" XDG_RUNTIME_DIR="$RUNDIR" PATH=/usr/bin:/bin:/usr/sbin:/sbin "$@"; }
# wharf MODE DIR ARGS / podman_at MODE DIR ARGS: each store private to one round.
wharf() {
  local m=$1 d=$2; shift 2
  if [[ $m == root ]]; then "$WHARF_BIN" --root "$d/graph" --runroot "$d/run" "$@"; else as_user "$WHARF_BIN" --root "$d/graph" --runroot "$d/run" "$@"; fi
}
podman_at() {
  local m=$1 d=$2; shift 2
  local p=(podman --root "$d/storage" --runroot "$d/run" --tmpdir "$d/tmp" --storage-driver overlay --runtime runc)
  if [[ $m == root ]]; then "${p[@]}" "$@"; else as_user "${p[@]}" "$@"; fi
}
PODMAN_RUN=(run --rm --network host --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

bench_cleanup() {
  # Store directories: <mode's 5th letter: empty for root, "l" for rootless><w|p><round><s|m>.
  for d in "$WORK"/w*/; do [[ -d $d ]] && wharf root "$d" system reset -f >/dev/null 2>&1; done
  for d in "$WORK"/lw*/; do [[ -d $d ]] && wharf rootless "$d" system reset -f >/dev/null 2>&1; done
  for d in "$WORK"/p*/; do [[ -d $d ]] && podman_at root "$d" system reset -f >/dev/null 2>&1; done
  for d in "$WORK"/lp*/; do [[ -d $d ]] && podman_at rootless "$d" system reset -f >/dev/null 2>&1; done
  for f in "$RUNDIR/wharf/pause.pid" "$RUNDIR/libpod/tmp/pause.pid"; do [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null; done
}

PORT=$(free_port)
start_docker_registry "$WORK/registry" "$PORT" "$WORK/registry.log" error || die "docker-registry did not start"

# The images, written as an OCI layout by hand and copied into the registry by skopeo (which keeps
# the blobs as they are): a busybox base layer, then
#   small: one layer of 32 MiB of random bytes (the Containers section's image);
#   many:  four gzip layers of 256 MiB each, 16384 files of 1-31 KiB of hex text per layer
#          (65536 files, 1 GiB unpacked), the shape of a Python or conda environment.
# BENCH_CACHE=DIR keeps the registry's content there and reuses it on the next run (writing the
# 1 GiB image takes minutes on a loaded machine).
CACHE=${BENCH_CACHE:-}
if [[ -n $CACHE && -d $CACHE/registry ]]; then
  log "reusing the images in $CACHE/registry"
  stop_pids # the registry, the only process started so far
  rm -rf "$WORK/registry"; cp -a "$CACHE/registry" "$WORK/registry" || die "copying the cache"
  start_docker_registry "$WORK/registry" "$PORT" "$WORK/registry.log" error || die "docker-registry did not start again"
else
log "writing the images (this takes a minute for the 1 GiB one)"
python3 - "$WORK/layout" <<'PY' || die "writing the images"
import gzip, hashlib, io, json, os, random, shutil, sys, tarfile
out = sys.argv[1]
blobs = os.path.join(out, 'blobs', 'sha256'); os.makedirs(blobs, exist_ok=True)
def put(data_path):
    h = hashlib.sha256()
    with open(data_path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''): h.update(chunk)
    d = h.hexdigest(); os.replace(data_path, os.path.join(blobs, d)); return 'sha256:' + d, os.path.getsize(os.path.join(blobs, d))
def layer(fill):
    # tar → (sha256 of the tar = diff_id, gzip -1 of it = the blob)
    raw = os.path.join(out, 'layer.tar'); gz = os.path.join(out, 'layer.tar.gz')
    with tarfile.open(raw, 'w', format=tarfile.PAX_FORMAT) as t: fill(t)
    h = hashlib.sha256()
    with open(raw, 'rb') as src, open(gz, 'wb') as dst:
        with gzip.GzipFile(fileobj=dst, mode='wb', compresslevel=1, mtime=0) as z:
            for chunk in iter(lambda: src.read(1 << 20), b''): h.update(chunk); z.write(chunk)
    os.remove(raw); d, s = put(gz); return 'sha256:' + h.hexdigest(), d, s
def add_dir(t, name):
    i = tarfile.TarInfo(name); i.type = tarfile.DIRTYPE; i.mode = 0o755; i.mtime = 1700000000; t.addfile(i)
def add_file(t, name, data, mode=0o644):
    i = tarfile.TarInfo(name); i.size = len(data); i.mode = mode; i.mtime = 1700000000; t.addfile(i, io.BytesIO(data))
def base(t):
    for d in ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'run']: add_dir(t, d)
    add_file(t, 'bin/busybox', open('/bin/busybox', 'rb').read(), 0o755)
    for a in ['sh', 'true', 'cat', 'ls']:
        i = tarfile.TarInfo('bin/' + a); i.type = tarfile.SYMTYPE; i.linkname = 'busybox'; i.mtime = 1700000000; t.addfile(i)
    add_file(t, 'etc/passwd', b'root:x:0:0:root:/root:/bin/sh\n')
def random_blob(t):
    add_dir(t, 'opt'); add_file(t, 'opt/blob', os.urandom(32 << 20))
def many(n):
    def fill(t):
        rnd = random.Random(n)
        add_dir(t, 'opt'); add_dir(t, f'opt/l{n}')
        for d in range(256):
            add_dir(t, f'opt/l{n}/d{d:03}')
            for f in range(64):
                size = rnd.randrange(1024, 31 * 1024)
                add_file(t, f'opt/l{n}/d{d:03}/f{f:02}.txt', os.urandom(size // 2).hex().encode())
    return fill
def image(tag, fills):
    layers = [layer(f) for f in fills]
    config = json.dumps({'architecture': 'amd64', 'os': 'linux', 'config': {'Cmd': ['sh']},
                         'rootfs': {'type': 'layers', 'diff_ids': [l[0] for l in layers]}}).encode()
    p = os.path.join(out, 'c.json'); open(p, 'wb').write(config); cd, cs = put(p)
    manifest = json.dumps({'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.manifest.v1+json',
                           'config': {'mediaType': 'application/vnd.oci.image.config.v1+json', 'digest': cd, 'size': cs},
                           'layers': [{'mediaType': 'application/vnd.oci.image.layer.v1.tar+gzip', 'digest': l[1], 'size': l[2]} for l in layers]}).encode()
    p = os.path.join(out, 'm.json'); open(p, 'wb').write(manifest); md, ms = put(p)
    return {'mediaType': 'application/vnd.oci.image.manifest.v1+json', 'digest': md, 'size': ms,
            'annotations': {'org.opencontainers.image.ref.name': tag}}
index = {'schemaVersion': 2, 'manifests': [image('small', [base, random_blob]), image('many', [base] + [many(n) for n in range(4)])]}
json.dump(index, open(os.path.join(out, 'index.json'), 'w'))
open(os.path.join(out, 'oci-layout'), 'w').write('{"imageLayoutVersion": "1.0.0"}')
PY
declare -A REF
for img in small many; do
  REF[$img]="127.0.0.1:$PORT/bench/$img:1"
  skopeo copy -q --dest-tls-verify=false "oci:$WORK/layout:$img" "docker://${REF[$img]}" || die "skopeo copy $img"
done
rm -rf "$WORK/layout"
[[ -n $CACHE ]] && { mkdir -p "$CACHE"; cp -a "$WORK/registry" "$CACHE/registry"; }
fi
declare -A REF
for img in small many; do REF[$img]="127.0.0.1:$PORT/bench/$img:1"; done
MANY_GZ=$(du -sb "$WORK/registry" | cut -f1)

# Both tools' user namespaces (pause processes) exist before anything is timed.
if [[ " $MODES " == *" rootless "* ]]; then
  mkdir -p "$WORK/lwz" "$WORK/lpz"; chown "$BENCH_USER" "$WORK/lwz" "$WORK/lpz"
  wharf rootless "$WORK/lwz" images >/dev/null || die "wharf namespace"
  podman_at rootless "$WORK/lpz" images >/dev/null || die "podman namespace"
fi

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A T
# one TOOL MODE IMAGE ROUND: pull, first run, warm run into a fresh store; records T[key].
one() {
  local tool=$1 m=$2 img=$3 i=$4 d t0 t1 t2 t3
  d="$WORK/${m:4:1}${tool:0:1}$i${img:0:1}"; mkdir -p "$d"; chown "$BENCH_USER" "$d"
  if [[ $tool == wharf ]]; then
    t0=$(now); wharf "$m" "$d" pull -q --tls-verify=false "${REF[$img]}" >/dev/null || { log "failed: wharf $m pull $img"; return 1; }
    t1=$(now); wharf "$m" "$d" run --rm --network host "${REF[$img]}" true || { log "failed: wharf $m first run $img"; return 1; }
    t2=$(now); wharf "$m" "$d" run --rm --network host "${REF[$img]}" true || { log "failed: wharf $m warm run $img"; return 1; }
    t3=$(now)
  else
    t0=$(now); podman_at "$m" "$d" pull -q --tls-verify=false "${REF[$img]}" >/dev/null || { log "failed: podman $m pull $img"; return 1; }
    t1=$(now); podman_at "$m" "$d" "${PODMAN_RUN[@]}" "${REF[$img]}" true || { log "failed: podman $m first run $img"; return 1; }
    t2=$(now); podman_at "$m" "$d" "${PODMAN_RUN[@]}" "${REF[$img]}" true || { log "failed: podman $m warm run $img"; return 1; }
    t3=$(now)
  fi
  local k="$tool $m $img"
  log "$k: pull $(echo "$t1 - $t0" | bc) s, first run $(echo "$t2 - $t1" | bc) s, warm run $(echo "$t3 - $t2" | bc) s"
  T[$k pull]+="$(echo "$t1 - $t0" | bc)"$'\n'
  T[$k first]+="$(echo "$t2 - $t1" | bc)"$'\n'
  T[$k both]+="$(echo "$t2 - $t0" | bc)"$'\n'
  T[$k warm]+="$(echo "$t3 - $t2" | bc)"$'\n'
}
for i in $(seq "$RUNS"); do
  for m in $MODES; do
    for img in $IMAGES; do
      log "round $i/$RUNS: $m, $img (load $(cut -d' ' -f1 /proc/loadavg))"
      # Alternate which tool goes first, so neither always meets a warmer page cache.
      if ((i % 2)); then order="$TOOLS"; else order=$(printf '%s\n' $TOOLS | tac | tr '\n' ' '); fi
      for tool in $order; do one "$tool" "$m" "$img" "$i"; done
    done
  done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# A case not run (a subset) shows "-": median of nothing prints 0, so the emptiness is checked first.
cell() { [[ -n ${T[$1]:-} ]] || { printf -- '-'; return; }; printf '%.2f s' "$(printf '%s' "${T[$1]}" | median)"; }
ratio() {
  [[ -n ${T[wharf $1]:-} && -n ${T[podman $1]:-} ]] || { printf -- '-'; return; }
  local w p; w=$(printf '%s' "${T[wharf $1]}" | median); p=$(printf '%s' "${T[podman $1]}" | median)
  printf '%.2f' "$(echo "$p / $w" | bc -l)"
}
row() { printf '| %s | %s | %s | %s | %s |\n' "$1" "$2" "$(cell "wharf $3")" "$(cell "podman $3")" "$(ratio "$3")"; }
mkdir -p bench/results
{
  cat <<MD
## Pull to running

\`bench/pullrun.sh\`, $(date -u +%Y-%m-%d), $RUNS alternating rounds per case, medians; $(nproc) cores,
load average at the start $LOAD_START, at the end $LOAD_END (the machine is shared with other builds
and tests, so absolute times are noisy). wharf is the published NativeAOT binary; podman 4.3.1 with
\`--runtime runc --network host --ulimit nofile=1024:1024 --ulimit nproc=1024:1024\`, overlay; both from
one local docker-registry on 127.0.0.1, each round into an empty store. Rootless: an unprivileged user
with subordinate ID ranges, each tool's user namespace made before timing. "small": busybox plus a
32 MiB layer of random bytes; "many": busybox plus four gzip layers of 16384 text files of 1–31 KiB
each (65536 files, 1 GiB unpacked; $((MANY_GZ / 1048576)) MiB in the registry for both images).

| mode | case | wharf | podman | podman / wharf |
|---|---|---|---|---|
MD
  for m in root rootless; do
    for img in small many; do
      row "$m" "$img: pull + first run --rm IMAGE true" "$m $img both"
      row "$m" "$img: of which the pull" "$m $img pull"
      row "$m" "$img: first (cold) run after the pull" "$m $img first"
      row "$m" "$img: warm run" "$m $img warm"
    done
  done
  cat <<MD

A ratio above 1 means wharf was faster. Target (issue 17): pull + first run ≥ 2× podman on the
many-file image and ahead of it on the small one.
MD
} > bench/results/pullrun.md
# A subset run (BENCH_DOC=0) leaves docs/benchmarks.md alone: its table is in bench/results/ only.
[[ ${BENCH_DOC:-1} == 1 ]] && replace_section docs/benchmarks.md pullrun bench/results/pullrun.md "### Reading"
cat bench/results/pullrun.md
