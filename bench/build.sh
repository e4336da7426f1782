#!/usr/bin/env bash
# Build benchmark: wharf build (Release build) vs podman build 4 of the same Dockerfile, both on runc
# and a kernel overlay, alternating runs, medians reported.
# Writes the table into the "Build" section of docs/benchmarks.md (only that section).
#
#   bench/build.sh            # 5 runs per case
#   BENCH_RUNS=3 bench/build.sh
#
# Cases (the Dockerfile: FROM scratch, busybox copied in and installed, 16 MiB of data copied in,
# two RUN steps, metadata):
#   1. cold: empty stores, nothing cached;
#   2. warm: the same build again, every step from the cache;
#   3. one file changed: a small copied file edited, so the build reruns from its COPY on.
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-5}

# shellcheck source=bench/lib.sh
source bench/lib.sh

need=()
for tool in podman runc bc; do command -v "$tool" >/dev/null 2>&1 || need+=("$tool"); done
[[ -x /bin/busybox ]] || need+=(busybox-static)
if ((${#need[@]})); then
  [[ $(id -u) == 0 ]] || die "missing ${need[*]} and not root"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null || die "apt-get failed"
fi
[[ $(id -u) == 0 ]] || die "builds run containers: root needed here"

scratch_dir /tmp/wharf-build-bench
log "publishing wharf (Release, ReadyToRun)"
dotnet publish src/Wharf.Cli/Wharf.Cli.csproj -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
  -o "$WORK/wharf-bin" -nologo -v q >/dev/null || die "publish failed"
WHARF_BIN="$WORK/wharf-bin/wharf"
bench_cleanup() {
  for d in "$WORK"/w*/; do
    [[ -d $d ]] && "$WHARF_BIN" --root "$d/graph" --runroot "$d/run" rm -f -a >/dev/null 2>&1
  done
  for d in "$WORK"/p*/; do
    [[ -d $d ]] && podman --root "$d/storage" --runroot "$d/run" --tmpdir "$d/tmp" --storage-driver overlay system reset -f >/dev/null 2>&1
  done
}

CTX="$WORK/ctx"
mkdir -p "$CTX/data"
cp /bin/busybox "$CTX/"
for n in 1 2 3 4; do head -c $((4 * 1024 * 1024)) /dev/urandom > "$CTX/data/blob$n"; done
echo v1 > "$CTX/config.txt"
cat > "$CTX/Dockerfile" <<'DF'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENV APP=/app
WORKDIR /app
COPY data/ ./data/
RUN sha256sum data/* > sums && mkdir -p /var/log
COPY config.txt ./
RUN cat config.txt sums > report
LABEL bench=build
CMD ["cat", "/app/report"]
DF

wharf() { local d=$1; shift; "$WHARF_BIN" --root "$d/graph" --runroot "$d/run" "$@"; }
# A private --tmpdir too: the default /run/libpod is shared with every other podman on the machine.
podman_at() { local d=$1; shift; podman --root "$d/storage" --runroot "$d/run" --tmpdir "$d/tmp" --storage-driver overlay --runtime runc "$@"; }
PODMAN_BUILD=(build -q --network host --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

declare -A T
for i in $(seq "$RUNS"); do
  log "round $i/$RUNS"
  W="$WORK/w$i"; P="$WORK/p$i"; mkdir -p "$W" "$P"
  echo v1 > "$CTX/config.txt"
  t=$(now); wharf "$W" build -q -t bench:1 "$CTX" >/dev/null || die "wharf cold"; T[wcold]+="$(elapsed "$t")"$'\n'
  t=$(now); podman_at "$P" "${PODMAN_BUILD[@]}" -t bench:1 "$CTX" >/dev/null || die "podman cold"; T[pcold]+="$(elapsed "$t")"$'\n'
  t=$(now); wharf "$W" build -q -t bench:1 "$CTX" >/dev/null || die "wharf warm"; T[wwarm]+="$(elapsed "$t")"$'\n'
  t=$(now); podman_at "$P" "${PODMAN_BUILD[@]}" -t bench:1 "$CTX" >/dev/null || die "podman warm"; T[pwarm]+="$(elapsed "$t")"$'\n'
  echo "v$i-changed" > "$CTX/config.txt"
  t=$(now); wharf "$W" build -q -t bench:1 "$CTX" >/dev/null || die "wharf changed"; T[wchanged]+="$(elapsed "$t")"$'\n'
  t=$(now); podman_at "$P" "${PODMAN_BUILD[@]}" -t bench:1 "$CTX" >/dev/null || die "podman changed"; T[pchanged]+="$(elapsed "$t")"$'\n'
  wharf "$W" rm -f -a >/dev/null 2>&1; podman_at "$P" system reset -f >/dev/null 2>&1; rm -rf "$W" "$P"
done

row() {
  local name=$1 w p
  w=$(printf '%s' "${T[w$2]}" | median); p=$(printf '%s' "${T[p$2]}" | median)
  printf '| %s | %.2f s | %.2f s | %.2f |\n' "$name" "$w" "$p" "$(echo "$p / $w" | bc -l)"
}
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
TABLE=$(cat <<MD
## Build

\`bench/build.sh\`, $(date -u +%Y-%m-%d), $RUNS alternating runs per case, medians; $(nproc) cores,
load average at the end $LOAD (the machine is shared, so absolute times are noisy). Dockerfile:
\`FROM scratch\`, busybox copied in and installed by a RUN, 16 MiB of data copied, three RUN steps
in all, metadata. Both on runc with a kernel overlay; podman 4.3.1 (buildah 1.28) with
\`--runtime runc --network host --ulimit nofile=1024:1024 --ulimit nproc=1024:1024\`.

| case | wharf | podman | podman / wharf |
|---|---|---|---|
$(row "cold: empty store, nothing cached" cold)
$(row "warm: rebuild, every step from the cache" warm)
$(row "one copied file changed: rebuild from its COPY on" changed)

A ratio above 1 means wharf was faster. wharf is the published ReadyToRun build. Not profiled
further; a warm wharf rebuild still copies the COPY sources into a staging directory and hashes them
(the cache key's content part) and starts no container.
MD
)
mkdir -p docs bench/results
printf '%s\n' "$TABLE" > bench/results/build.md
DOC=docs/benchmarks.md
[[ -f $DOC ]] || printf '# Benchmarks\n' > "$DOC"
replace_section "$DOC" build bench/results/build.md
cat bench/results/build.md
