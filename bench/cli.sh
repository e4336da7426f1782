#!/usr/bin/env bash
# Image CLI benchmark: wharf (Release build) vs podman 4 pull and skopeo copy of the same images
# from the same local docker-registry, and wharf push vs podman push of the same image.
# Writes its section of docs/benchmarks.md (between the cli-benchmark markers, nothing else).
#
#   bench/cli.sh                       # 3 runs per case, medians
#   BENCH_RUNS=5 bench/cli.sh
#   WHARF_BIN=path/to/wharf bench/cli.sh   # reuse a published build instead of publishing
#   BIG_MIB=1024 bench/cli.sh          # size of the single-layer image's layer
#
# Images:
#   big:   one layer holding one file of BIG_MIB MiB of random bytes (gzip cannot shrink it)
#   small: four gzip layers, each 2000 files of 1-8 KiB of text (many small files)
# Cases per image, each from an empty store:
#   wharf pull, podman pull (overlay, unpacks), skopeo copy to a dir: (blobs only, like wharf),
#   curl of the same blobs (the network/disk floor), and push of the pulled image to a second,
#   empty registry: wharf push vs podman push.
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-3}
BIG_MIB=${BIG_MIB:-1024}

# shellcheck source=bench/lib.sh
source bench/lib.sh

need=()
for tool in podman skopeo docker-registry curl bc python3; do command -v "$tool" >/dev/null 2>&1 || need+=("$tool"); done
if ((${#need[@]})); then
  [[ $(id -u) == 0 ]] || die "missing ${need[*]} and not root"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null || die "apt-get failed"
fi

scratch_dir /tmp/wharf-cli-bench
if [[ -z ${WHARF_BIN:-} ]]; then
  log "publishing wharf (Release, ReadyToRun)"
  dotnet publish src/Wharf.Cli/Wharf.Cli.csproj -c Release -p:PublishReadyToRun=true \
    -o "$WORK/wharf-bin" -nologo -v q >/dev/null \
    || dotnet publish src/Wharf.Cli/Wharf.Cli.csproj -c Release -o "$WORK/wharf-bin" -nologo -v q >/dev/null \
    || die "publish failed"
  WHARF_BIN="$WORK/wharf-bin/wharf"
fi
bench_cleanup() {
  for f in "$WORK"/*.pid; do [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null; done
  for d in "$WORK"/p*/; do
    [[ -d $d/storage ]] && podman --root "$d/storage" --runroot "$d/run" --storage-driver overlay system reset -f >/dev/null 2>&1
  done
  podman --root "$WORK/seed/storage" --runroot "$WORK/seed/run" --storage-driver vfs system reset -f >/dev/null 2>&1
}

# start_registry NAME: a docker-registry on a free port with its own storage; prints the port (its
# PID goes to a file: this runs in a command substitution, where PIDS would not reach the cleanup).
start_registry() {
  local name=$1 port
  port=$(free_port)
  rm -rf "${WORK:?}/$name"
  start_docker_registry "$WORK/$name" "$port" "$WORK/$name.log" error >&2 || return 1
  echo "$DOCKER_REGISTRY_PID" >"$WORK/$name.pid"
  echo "$port"
}
SRC=$(start_registry src)

log "building the images (big: ${BIG_MIB} MiB layer; small: 4 layers x 2000 files)"
P0=(podman --root "$WORK/seed/storage" --runroot "$WORK/seed/run" --storage-driver vfs)
mkdir -p "$WORK/big/data"
head -c $((BIG_MIB * 1024 * 1024)) /dev/urandom > "$WORK/big/data/blob"
tar -C "$WORK/big" -cf "$WORK/big.tar" data
"${P0[@]}" import -q "$WORK/big.tar" localhost/big:1 >/dev/null || die "import big"
rm -rf "$WORK/big" "$WORK/big.tar"
mkdir -p "$WORK/small"
python3 - "$WORK/small" <<'PY'
import os, random, sys
random.seed(7)
words = [''.join(random.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(random.randint(3, 9))) for _ in range(5000)]
for layer in range(4):
    for i in range(2000):
        d = os.path.join(sys.argv[1], f'l{layer}', f'd{i % 40}')
        os.makedirs(d, exist_ok=True)
        size = random.randint(1024, 8192)
        text, n = [], 0
        while n < size:
            w = random.choice(words); text.append(w); n += len(w) + 1
        open(os.path.join(d, f'f{i}.txt'), 'w').write(' '.join(text))
PY
: > "$WORK/small/empty.tar"
"${P0[@]}" import -q "$WORK/small/empty.tar" localhost/scratch:1 >/dev/null || die "import scratch"
printf 'FROM localhost/scratch:1\nCOPY l0 /l0\nCOPY l1 /l1\nCOPY l2 /l2\nCOPY l3 /l3\n' > "$WORK/small/Containerfile"
"${P0[@]}" build -q -t localhost/small:1 "$WORK/small" >/dev/null || die "build small"
for img in big small; do
  "${P0[@]}" push -q --tls-verify=false "localhost/$img:1" "127.0.0.1:$SRC/bench/$img:1" || die "push $img"
done
"${P0[@]}" system reset -f >/dev/null 2>&1

wharf_at() { local d=$1; shift; "$WHARF_BIN" --root "$d/graph" --runroot "$d/run" "$@"; }
podman_at() { local d=$1; shift; podman --root "$d/storage" --runroot "$d/run" --storage-driver overlay "$@"; }
# blob_urls IMAGE: the URLs of the manifest's config and layers.
blob_urls() {
  curl -fs -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
    "http://127.0.0.1:$SRC/v2/bench/$1/manifests/1" \
    | python3 -c "import json,sys; m=json.load(sys.stdin); [print('http://127.0.0.1:$SRC/v2/bench/$1/blobs/'+d['digest']) for d in [m['config']]+m['layers']]"
}

declare -A T
for i in $(seq "$RUNS"); do
  for img in big small; do
    log "round $i/$RUNS: $img"
    IMAGE="127.0.0.1:$SRC/bench/$img:1"
    W="$WORK/w$i$img"; P="$WORK/p$i$img"; S="$WORK/s$i$img"; C="$WORK/c$i$img"; mkdir -p "$W" "$P" "$C"
    sync
    t=$(now); wharf_at "$W" pull -q --tls-verify=false "$IMAGE" >/dev/null || die "wharf pull"; T[w$img]+="$(elapsed "$t")"$'\n'
    sync
    t=$(now); podman_at "$P" pull -q --tls-verify=false "$IMAGE" >/dev/null || die "podman pull"; T[p$img]+="$(elapsed "$t")"$'\n'
    sync
    t=$(now); skopeo copy -q --src-tls-verify=false "docker://$IMAGE" "dir:$S" >/dev/null || die "skopeo copy"; T[s$img]+="$(elapsed "$t")"$'\n'
    sync
    mapfile -t urls < <(blob_urls "$img")
    t=$(now)
    for u in "${urls[@]}"; do curl -fs -o "$C/$(basename "$u")" "$u" & done; wait
    T[c$img]+="$(elapsed "$t")"$'\n'
    rm -rf "$S" "$C"

    # push the pulled image to an empty registry
    DST=$(start_registry dst); DPID=$(cat "$WORK/dst.pid")
    sync
    t=$(now); wharf_at "$W" push -q --tls-verify=false "$IMAGE" "127.0.0.1:$DST/bench/$img:1" >/dev/null || die "wharf push"; T[wp$img]+="$(elapsed "$t")"$'\n'
    sync
    t=$(now); podman_at "$P" push -q --tls-verify=false "$IMAGE" "127.0.0.1:$DST/other/$img:1" >/dev/null || die "podman push"; T[pp$img]+="$(elapsed "$t")"$'\n'
    kill "$DPID" 2>/dev/null; rm -f "$WORK/dst.pid"
    for _ in $(seq 50); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
    podman_at "$P" system reset -f >/dev/null 2>&1
    rm -rf "$W" "$P" "$WORK/dst"
  done
done
# .NET start-up: a command that touches nothing.
for _ in 1 2 3; do t=$(now); "$WHARF_BIN" version >/dev/null; T[startup]+="$(elapsed "$t")"$'\n'; done

m() { printf '%s' "${T[$1]}" | median; }
ratio() { echo "$(m "$1") / $(m "$2")" | bc -l | xargs printf '%.2f'; }
secs() { printf '%.2f s' "$(m "$1")"; }
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
BIGSIZE=$(echo "$BIG_MIB" | awk '{printf "%.2f GiB", $1/1024}')
mkdir -p bench/results
cat > bench/results/cli.md <<MD
## Image CLI: pull and push

\`bench/cli.sh\`, $(date -u +%Y-%m-%d), $RUNS runs per case, medians; $(nproc) cores, load average at
the end $LOAD (the machine is shared with other builds, so absolute times are noisy). One local
docker-registry over plain HTTP on 127.0.0.1; every pull into an empty store. wharf is the
published Release build; podman 4.3.1 (overlay), skopeo 1.9.3 copying to a \`dir:\`; curl fetches the
same blobs in parallel into files (the floor for moving the bytes). "big": one ${BIGSIZE} layer of
random bytes; "small": four gzip layers of 2000 text files of 1–8 KiB each.

| case | wharf | podman | skopeo | curl | podman / wharf | skopeo / wharf |
|---|---|---|---|---|---|---|
| pull big | $(secs wbig) | $(secs pbig) | $(secs sbig) | $(secs cbig) | $(ratio pbig wbig) | $(ratio sbig wbig) |
| pull small | $(secs wsmall) | $(secs psmall) | $(secs ssmall) | $(secs csmall) | $(ratio psmall wsmall) | $(ratio ssmall wsmall) |

| case | wharf push | podman push | podman / wharf |
|---|---|---|---|
| push big to an empty registry | $(secs wpbig) | $(secs ppbig) | $(ratio ppbig wpbig) |
| push small to an empty registry | $(secs wpsmall) | $(secs ppsmall) | $(ratio ppsmall wpsmall) |

\`wharf version\` (runtime start-up and exit, nothing else): $(secs startup).
MD
cat bench/results/cli.md
DOC=docs/benchmarks.md
[[ -f $DOC ]] || printf '# Benchmarks\n' > "$DOC"
# Replace only this section (between its markers), or append it; an existing "### Reading" part is kept.
replace_section "$DOC" cli bench/results/cli.md "### Reading"
