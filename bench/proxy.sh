#!/usr/bin/env bash
# Proxy-cache benchmark: a docker-registry 2.8 upstream and a wharfd with a proxy-cache project of it,
# both on loopback. skopeo copies each image to a dir: destination (blobs as they are, digests
# verified) and is timed. Cases, each on its own images so a miss is a real miss:
#   direct  – straight from the upstream;
#   miss    – through the proxy project, nothing cached (fetched upstream, streamed while stored);
#   hit     – through the proxy project again, once cached;
#   plain   – the same image pushed into an ordinary wharfd project (any pull from wharfd);
#   burst   – 8 concurrent pulls of one uncached image through the proxy: bytes the upstream served,
#             from its access log, against the image's size (single flight: 1.0).
# Writes the "Proxy cache" section of docs/benchmarks.md (between the proxy-benchmark markers only).
#
#   bench/proxy.sh                       # 5 images of 4 × 8 MiB random layers
#   BENCH_RUNS=3 BENCH_LAYER_MIB=16 bench/proxy.sh
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-5}
LAYERS=${BENCH_LAYERS:-4}
LAYER_MIB=${BENCH_LAYER_MIB:-8}
PASSWORD=Harbor12345

# shellcheck source=bench/lib.sh
source bench/lib.sh
for tool in docker-registry skopeo curl python3 bc; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done

scratch_dir /tmp/wharf-proxy-bench

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log "building wharfd (Release)"
dotnet build src/Wharf.Server/Wharf.Server.csproj -c Release -nologo -v q -p:UseSharedCompilation=false \
  -o "$WORK/wharfd-bin" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; die "build failed"; }

UPSTREAM_PORT=$(free_port)
WHARFD_PORT=$(free_port)
while [[ $WHARFD_PORT == "$UPSTREAM_PORT" ]]; do WHARFD_PORT=$(free_port); done
U=127.0.0.1:$UPSTREAM_PORT
W=127.0.0.1:$WHARFD_PORT

# The upstream keeps its access log (level info): the burst case counts the bytes it served.
start_docker_registry "$WORK/registry-data" "$UPSTREAM_PORT" "$WORK/upstream.log" info || die "docker-registry did not start"

WHARF_ADMIN_PASSWORD=$PASSWORD ASPNETCORE_ENVIRONMENT=Production Logging__LogLevel__Default=Warning \
  dotnet "$WORK/wharfd-bin/wharfd.dll" --urls "http://$W" --data-dir "$WORK/wharfd-data" >"$WORK/wharfd.log" 2>&1 &
PIDS+=($!)
wait_ready wharfd "$WHARFD_PORT" "${PIDS[-1]}" || die "wharfd did not start"

api() { # METHOD PATH [JSON]: prints the Location header's last segment
  curl -sf -u "admin:$PASSWORD" -X "$1" -H 'Content-Type: application/json' ${3:+-d "$3"} -D - -o /dev/null "http://$W/api/v2.0/$2" \
    | awk -F/ 'tolower($0) ~ /^location:/ {gsub("\r", ""); print $NF}'
}
REGISTRY_ID=$(api POST registries "{\"name\":\"upstream\",\"type\":\"docker-registry\",\"url\":\"http://$U\"}")
[[ -n $REGISTRY_ID ]] || die "could not register the upstream"
api POST projects "{\"project_name\":\"cache\",\"registry_id\":$REGISTRY_ID,\"metadata\":{\"public\":\"true\"}}" >/dev/null
api POST projects '{"project_name":"plain","metadata":{"public":"true"}}' >/dev/null

# make_image NAME: an OCI layout of LAYERS random layers, pushed to the upstream as bench/NAME:1.
make_image() {
  local dir=$WORK/layouts/$1
  random_layout "$dir" "$LAYERS" "$LAYER_MIB" || die "cannot write the layout $dir"
  skopeo copy -q --dest-tls-verify=false "oci:$dir:1" "docker://$U/bench/$1:1" || die "seeding $1 failed"
  rm -rf "$dir"
}

# pull SOURCE: seconds one skopeo copy of SOURCE into a fresh dir: destination takes.
pull() {
  local dest t0
  dest=$(mktemp -d "$WORK/pull.XXXXXX")
  t0=$(now)
  skopeo copy -q --src-tls-verify=false --src-creds "admin:$PASSWORD" "docker://$1" "dir:$dest" >/dev/null || die "pull of $1 failed"
  elapsed "$t0"
  rm -rf "$dest"
}

wait_cached() { # NAME: until wharfd stored what it fetched (the tag is listed)
  local i
  for ((i = 0; i < 600; i++)); do
    curl -sf -u "admin:$PASSWORD" "http://$W/v2/cache/bench/$1/tags/list" | grep -q '"1"' && return 0
    sleep 0.1
  done
  die "wharfd did not cache $1"
}

log "seeding $RUNS images of $LAYERS × $LAYER_MIB MiB (and one for the burst)"
for ((i = 0; i < RUNS; i++)); do make_image "img$i"; done
make_image burst
# The plain case: the same images in an ordinary project, pushed there before anything is timed.
for ((i = 0; i < RUNS; i++)); do
  skopeo copy -q --src-tls-verify=false --dest-tls-verify=false --dest-creds "admin:$PASSWORD" \
    "docker://$U/bench/img$i:1" "docker://$W/plain/bench/img$i:1" || die "seeding plain/img$i failed"
done

declare -a DIRECT MISS HIT PLAIN
for ((i = 0; i < RUNS; i++)); do
  # Miss first: if the page cache favours anyone, it is the direct pull that follows.
  MISS+=("$(pull "$W/cache/bench/img$i:1")")
  wait_cached "img$i"
  DIRECT+=("$(pull "$U/bench/img$i:1")")
  HIT+=("$(pull "$W/cache/bench/img$i:1")")
  PLAIN+=("$(pull "$W/plain/bench/img$i:1")")
  log "img$i: direct ${DIRECT[-1]} s, miss ${MISS[-1]} s, hit ${HIT[-1]} s, plain ${PLAIN[-1]} s"
done

log "burst: 8 concurrent pulls of one uncached image through the proxy"
mark=$(wc -l <"$WORK/upstream.log")
t0=$(now)
for ((j = 0; j < 8; j++)); do pull "$W/cache/bench/burst:1" >"$WORK/burst.$j" & done
wait_all=0
for job in $(jobs -p); do
  case " ${PIDS[*]} " in *" $job "*) ;; *) wait "$job" || wait_all=1 ;; esac
done
[[ $wait_all == 0 ]] || die "a burst pull failed"
BURST_WALL=$(elapsed "$t0" | awk '{printf "%.2f", $1}')
IMAGE_BYTES=$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$U/v2/bench/burst/manifests/1" \
  | python3 -c 'import json,sys; m=json.load(sys.stdin); print(m["config"]["size"] + sum(l["size"] for l in m["layers"]))')
UPSTREAM_BYTES=$(tail -n +"$((mark + 1))" "$WORK/upstream.log" \
  | grep -oE '"GET /v2/bench/burst/blobs/sha256:[0-9a-f]+ HTTP/[0-9.]+" 200 [0-9]+' | awk '{s += $NF} END {print s + 0}')
log "burst: $BURST_WALL s, upstream served $UPSTREAM_BYTES bytes of a $IMAGE_BYTES-byte image"

med() { printf '%s\n' "$@" | median | awk '{printf "%.2f", $1}'; }
ratio() { echo "scale=4; $1 / $2" | bc | awk '{printf "%.2f", $1}'; }
D=$(med "${DIRECT[@]}"); M=$(med "${MISS[@]}"); H=$(med "${HIT[@]}"); P=$(med "${PLAIN[@]}")
out="$WORK/section.md"
{
  echo "## Proxy cache"
  echo
  echo "\`bench/proxy.sh\`, $(date -u +%Y-%m-%d), $RUNS images of $LAYERS × $LAYER_MIB MiB random layers, one pull each per case,"
  echo "medians; $(nproc) cores, load average $LOAD_BEFORE before and $(cut -d' ' -f1-3 /proc/loadavg) after. Upstream:"
  echo "docker-registry $(docker-registry --version 2>/dev/null | awk '{print $3}') on loopback; wharfd (Release build) with a"
  echo "proxy-cache project of it; client: skopeo $(skopeo --version | awk '{print $3}') copying to a \`dir:\` destination"
  echo "(every blob read and its digest checked), token auth on wharfd."
  echo
  echo "| case | median | ratio |"
  echo "|---|---|---|"
  echo "| direct from the upstream | $D s | 1.00 |"
  echo "| through the proxy, miss (fetched upstream, streamed while stored) | $M s | $(ratio "$M" "$D") × direct |"
  echo "| through the proxy, hit | $H s | $(ratio "$H" "$P") × plain |"
  echo "| plain pull from an ordinary wharfd project | $P s | 1.00 |"
  echo
  echo "8 concurrent pulls of one uncached image through the proxy: $BURST_WALL s for all eight; the"
  echo "upstream served $UPSTREAM_BYTES bytes for a $IMAGE_BYTES-byte image ($(ratio "$UPSTREAM_BYTES" "$IMAGE_BYTES") × the image: single flight;"
  echo "the config blob, the same in every image of the run, was already stored, so it was linked, not fetched)."
  echo
  echo "Targets (issue 14): a miss within 1.2× of a direct pull; a hit as fast as a plain pull from wharfd."
  echo "Each miss is a distinct image (nothing of it cached anywhere in wharfd); the direct pull of"
  echo "the same image runs after the miss, so the upstream's page cache favours the direct pull."
} >"$out"
replace_section docs/benchmarks.md proxy "$out"
log "wrote the Proxy cache section of docs/benchmarks.md"
