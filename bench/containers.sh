#!/usr/bin/env bash
# Container benchmark: wharf (Release build) and podman 4 on the same image from the same local
# docker-registry, both on runc and a kernel overlay, alternating runs, medians reported.
# Writes the table into the "Containers" section of docs/benchmarks.md (only that section).
#
#   bench/containers.sh            # 7 runs per case
#   BENCH_RUNS=3 bench/containers.sh
#
# Cases:
#   1. run --rm IMAGE true, cold: wharf has pulled the image but not unpacked its layers (the first
#      run unpacks them); podman has pulled it (podman unpacks at pull time).
#   2. run --rm IMAGE true, warm: the same again, everything in place.
#   3. pull + first run: empty stores, then pull and run --rm IMAGE true.
# podman needs --runtime runc (crun refuses this machine's hybrid cgroups) and --ulimit values the
# host allows; wharf uses the host's network by default, so podman gets --network host as well.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO_ROOT=$(pwd)
RUNS=${BENCH_RUNS:-7}

# shellcheck source=bench/lib.sh
source bench/lib.sh

need=()
for tool in podman runc docker-registry curl; do command -v "$tool" >/dev/null 2>&1 || need+=("$tool"); done
[[ -x /bin/busybox ]] || need+=(busybox-static)
if ((${#need[@]})); then
  [[ $(id -u) == 0 ]] || die "missing ${need[*]} and not root"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null || die "apt-get failed"
fi
[[ $(id -u) == 0 ]] || die "containers need root here"

scratch_dir /tmp/wharf-ctr-bench
# wharf as it ships: published Release, ReadyToRun (precompiled, so a short-lived CLI does not spend its life in the JIT).
log "publishing wharf (Release, ReadyToRun)"
dotnet publish src/Wharf.Cli/Wharf.Cli.csproj -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
  -o "$WORK/wharf-bin" -nologo -v q >/dev/null || die "publish failed"
WHARF_BIN="$WORK/wharf-bin/wharf"
bench_cleanup() {
  for d in "$WORK"/w*/; do
    [[ -d $d ]] && "$WHARF_BIN" --root "$d/graph" --runroot "$d/run" rm -f -a >/dev/null 2>&1
  done
  for d in "$WORK"/p*/; do
    [[ -d $d ]] && podman --root "$d/storage" --runroot "$d/run" --storage-driver overlay system reset -f >/dev/null 2>&1
  done
}

PORT=$(free_port)
start_docker_registry "$WORK/registry" "$PORT" "$WORK/registry.log" error || die "docker-registry did not start"

log "building the image: busybox plus 32 MiB of data in a second layer"
mkdir -p "$WORK/rootfs"/{bin,etc,proc,sys,dev,tmp,root,run} "$WORK/data/opt"
cp /bin/busybox "$WORK/rootfs/bin/"
for a in sh true cat ls; do ln -s busybox "$WORK/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$WORK/rootfs/etc/passwd"
head -c $((32 * 1024 * 1024)) /dev/urandom > "$WORK/data/opt/blob"
tar -C "$WORK/rootfs" -cf "$WORK/base.tar" .
P0=(podman --root "$WORK/seed/storage" --runroot "$WORK/seed/run" --storage-driver vfs)
"${P0[@]}" import -q "$WORK/base.tar" localhost/bench-base:1 >/dev/null || die "import"
printf 'FROM localhost/bench-base:1\nCOPY opt /opt\nCMD ["sh"]\n' > "$WORK/data/Containerfile"
"${P0[@]}" build -q -t localhost/bench:1 "$WORK/data" >/dev/null || die "build"
IMAGE="127.0.0.1:$PORT/bench/img:1"
"${P0[@]}" push -q --tls-verify=false localhost/bench:1 "$IMAGE" || die "push"

wharf() { local d=$1; shift; "$WHARF_BIN" --root "$d/graph" --runroot "$d/run" "$@"; }
podman_at() { local d=$1; shift; podman --root "$d/storage" --runroot "$d/run" --storage-driver overlay --runtime runc "$@"; }
PODMAN_RUN=(run --rm --network host --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

declare -A T
for i in $(seq "$RUNS"); do
  log "round $i/$RUNS"
  W="$WORK/w$i"; P="$WORK/p$i"; mkdir -p "$W" "$P"

  # 3. pull + first run, from empty stores
  t=$(now); wharf "$W" pull -q --tls-verify=false "$IMAGE" >/dev/null || die "wharf pull"; T[wpullonly]+="$(elapsed "$t")"$'\n'
  wharf "$W" run --rm "$IMAGE" true || die "wharf first run"; T[wpull]+="$(elapsed "$t")"$'\n'
  t=$(now); podman_at "$P" pull -q --tls-verify=false "$IMAGE" >/dev/null || die "podman pull"; T[ppullonly]+="$(elapsed "$t")"$'\n'
  podman_at "$P" "${PODMAN_RUN[@]}" "$IMAGE" true || die "podman first run"; T[ppull]+="$(elapsed "$t")"$'\n'

  # 1. cold: wharf's unpacked layers removed (the blobs stay), podman's first run after a pull
  rm -rf "$W/graph/wharf/layers"
  W2="$WORK/w${i}b"; P2="$WORK/p${i}b"; mkdir -p "$W2" "$P2"
  podman_at "$P2" pull -q --tls-verify=false "$IMAGE" >/dev/null
  t=$(now); wharf "$W" run --rm "$IMAGE" true || die "wharf cold"; T[wcold]+="$(elapsed "$t")"$'\n'
  t=$(now); podman_at "$P2" "${PODMAN_RUN[@]}" "$IMAGE" true || die "podman cold"; T[pcold]+="$(elapsed "$t")"$'\n'

  # 2. warm
  t=$(now); wharf "$W" run --rm "$IMAGE" true || die "wharf warm"; T[wwarm]+="$(elapsed "$t")"$'\n'
  t=$(now); podman_at "$P" "${PODMAN_RUN[@]}" "$IMAGE" true || die "podman warm"; T[pwarm]+="$(elapsed "$t")"$'\n'
  podman_at "$P2" system reset -f >/dev/null 2>&1; rm -rf "$P2" "$W2"
done

row() {
  local name=$1 w p
  w=$(printf '%s' "${T[w$2]}" | median); p=$(printf '%s' "${T[p$2]}" | median)
  printf '| %s | %.2f s | %.2f s | %.2f |\n' "$name" "$w" "$p" "$(echo "$p / $w" | bc -l)"
}
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
TABLE=$(cat <<MD
## Containers

\`bench/containers.sh\`, $(date -u +%Y-%m-%d), $RUNS alternating runs per case, medians; $(nproc) cores,
load average at the end $LOAD (the machine is shared, so absolute times are noisy). Image: busybox
plus a 32 MiB layer, from a local docker-registry. Both on runc with a kernel overlay; podman 4.3.1
with \`--runtime runc --network host --ulimit nofile=1024:1024 --ulimit nproc=1024:1024\`.

| case | wharf | podman | podman / wharf |
|---|---|---|---|
$(row "run --rm IMAGE true, cold (wharf unpacks layers; podman did at pull)" cold)
$(row "run --rm IMAGE true, warm" warm)
$(row "pull + first run --rm IMAGE true" pull)
$(row "of which the pull alone" pullonly)

A ratio above 1 means wharf was faster. wharf is the published ReadyToRun build.

Where the time goes (strace on this machine): of a warm wharf run, roughly 40–70 ms is the .NET
runtime starting, 45 ms is runc itself, the rest is reading the store, mounting, writing the
runtime config and cleaning up. The cold case adds unpacking the layers from their blobs with the
diff ID computed and checked (podman pays that inside its pull); the pull row is the image
CLI's pull path (fetch, verify, store).
MD
)
mkdir -p docs bench/results
printf '%s\n' "$TABLE" > bench/results/containers.md
DOC=docs/benchmarks.md
[[ -f $DOC ]] || printf '# Benchmarks\n' > "$DOC"
# Replace only the Containers section (between its markers), or append it.
replace_section "$DOC" containers bench/results/containers.md
cat bench/results/containers.md
