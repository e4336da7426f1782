#!/usr/bin/env bash
# Mirror benchmark: `wharf image mirror` vs `skopeo sync` copying the same N images from one local
# docker-registry 2.8, each into an empty destination:
#   layout   – wharf into one OCI layout (oci:DIR) vs skopeo sync --dest dir (one dir: per image);
#   registry – both into a second, empty docker-registry;
#   rerun    – wharf again into its full layout (everything skipped: what a resumed run costs at least).
# Writes the "Mirror" section of docs/benchmarks.md (between the mirror-benchmark markers only).
#
#   bench/mirror.sh                               # 8 images of 3 × 8 MiB random layers, 3 runs
#   BENCH_IMAGES=4 BENCH_RUNS=5 WHARF_BIN=path/to/wharf bench/mirror.sh
set -uo pipefail
cd "$(dirname "$0")/.."
IMAGES=${BENCH_IMAGES:-8}
RUNS=${BENCH_RUNS:-3}
LAYERS=${BENCH_LAYERS:-3}
LAYER_MIB=${BENCH_LAYER_MIB:-8}

# shellcheck source=bench/lib.sh
source bench/lib.sh
for tool in docker-registry skopeo curl python3 bc; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done

scratch_dir /tmp/wharf-mirror-bench

# start_registry NAME: a new docker-registry with its own data directory; sets REG (HOST:PORT) and
# REG_PID (not run in $(...), so the PID reaches PIDS and the cleanup).
start_registry() {
  local port
  port=$(free_port)
  start_docker_registry "$WORK/$1-data" "$port" "$WORK/$1.log" error || die "docker-registry ($1) did not start"
  REG_PID=$DOCKER_REGISTRY_PID
  REG=127.0.0.1:$port
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
if [[ -z ${WHARF_BIN:-} ]]; then
  log "building wharf (Release)"
  dotnet build src/Wharf.Cli/Wharf.Cli.csproj -c Release -nologo -v q -p:UseSharedCompilation=false \
    -o "$WORK/wharf-bin" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; die "build failed"; }
  WHARF_BIN="$WORK/wharf-bin/wharf"
fi
[[ -x $WHARF_BIN ]] || die "no wharf at $WHARF_BIN"
# wharf with a private store and configuration, nothing of the caller's.
mkdir -p "$WORK/wharf-home" "$WORK/wharf-etc"
: >"$WORK/wharf-etc/registries.conf"
wharf() {
  HOME="$WORK/wharf-home" WHARF_CONTAINERS_CONF_DIR="$WORK/wharf-etc" XDG_RUNTIME_DIR="$WORK/wharf-home" \
    "$WHARF_BIN" --root "$WORK/wharf-store" --runroot "$WORK/wharf-run" "$@"
}

start_registry source
SRC=$REG

log "seeding $IMAGES images of $LAYERS × $LAYER_MIB MiB random layers"
for ((i = 0; i < IMAGES; i++)); do
  dir=$WORK/seed/img$i
  random_layout "$dir" "$LAYERS" "$LAYER_MIB" "$dir" || die "cannot write the layout $dir"
  skopeo copy -q --dest-tls-verify=false "oci:$dir:1" "docker://$SRC/bench/img$i:1" || die "seeding img$i failed"
  rm -rf "$dir"
  echo "$SRC/bench/img$i:1" >>"$WORK/images.txt"
done
{
  echo "$SRC:"
  echo "  tls-verify: false"
  echo "  images:"
  for ((i = 0; i < IMAGES; i++)); do echo "    bench/img$i: [\"1\"]"; done
} >"$WORK/images.yaml"

timed() { # COMMAND...: seconds it took (dies if it failed)
  local t0
  t0=$(now)
  "$@" >"$WORK/last.out" 2>"$WORK/last.err" || { cat "$WORK/last.err" >&2; die "$* failed"; }
  elapsed "$t0"
}

declare -a WL SL WR SR RE
for ((r = 0; r < RUNS; r++)); do
  rm -rf "$WORK/out" && mkdir -p "$WORK/out"
  WL+=("$(timed wharf image mirror -q --src-tls-verify=false --images-from "$WORK/images.txt" "oci:$WORK/out/wharf-layout")")
  SL+=("$(timed skopeo sync --src yaml --dest dir --preserve-digests "$WORK/images.yaml" "$WORK/out/skopeo-dir")")
  RE+=("$(timed wharf image mirror -q --src-tls-verify=false --images-from "$WORK/images.txt" "oci:$WORK/out/wharf-layout")")
  start_registry "wdest$r"
  WDST=$REG W_PID=$REG_PID
  start_registry "sdest$r"
  SDST=$REG S_PID=$REG_PID
  WR+=("$(timed wharf image mirror -q --src-tls-verify=false --dest-tls-verify=false --images-from "$WORK/images.txt" "docker://$WDST/mirror")")
  SR+=("$(timed skopeo sync --src yaml --dest docker --dest-tls-verify=false --preserve-digests "$WORK/images.yaml" "$SDST/mirror")")
  kill "$W_PID" "$S_PID" 2>/dev/null
  wait "$W_PID" "$S_PID" 2>/dev/null
  rm -rf "$WORK/wdest$r-data" "$WORK/sdest$r-data"
  log "run $r: layout wharf ${WL[-1]} s skopeo ${SL[-1]} s (rerun ${RE[-1]} s); registry wharf ${WR[-1]} s skopeo ${SR[-1]} s"
done

med() { printf '%s\n' "$@" | median | awk '{printf "%.2f", $1}'; }
ratio() { echo "scale=4; $1 / $2" | bc | awk '{printf "%.2f", $1}'; }
wl=$(med "${WL[@]}"); sl=$(med "${SL[@]}"); wr=$(med "${WR[@]}"); sr=$(med "${SR[@]}"); re=$(med "${RE[@]}")
out="$WORK/section.md"
{
  echo "## Mirror"
  echo
  echo "\`bench/mirror.sh\`, $(date -u +%Y-%m-%d), $IMAGES images of $LAYERS × $LAYER_MIB MiB random layers from a docker-registry"
  echo "$(docker-registry --version 2>/dev/null | awk '{print $3}') on loopback into an empty destination, $RUNS runs, medians; $(nproc) cores, load average"
  echo "$LOAD_BEFORE before and $(cut -d' ' -f1-3 /proc/loadavg) after. wharf: Release build (JIT); skopeo $(skopeo --version | awk '{print $3}') \`sync --src yaml\`."
  echo
  echo "| case | wharf image mirror | skopeo sync | skopeo / wharf |"
  echo "|---|---|---|---|"
  echo "| to removable media (wharf: one OCI layout; skopeo: \`--dest dir\`, a dir: per image) | $wl s | $sl s | $(ratio "$sl" "$wl") |"
  echo "| registry to registry (a second docker-registry) | $wr s | $sr s | $(ratio "$sr" "$wr") |"
  echo "| wharf again into its full layout (all skipped) | $re s | | |"
} >"$out"
replace_section docs/benchmarks.md mirror "$out" "### Reading"
cat "$out"
