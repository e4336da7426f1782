#!/usr/bin/env bash
# Runs every test of the project. Installs the real peers the interoperability tests need
# (podman, skopeo, runc, docker-registry, htpasswd) when running as root on Debian and they are missing.
set -euo pipefail
cd "$(dirname "$0")"

need=()
for tool in podman skopeo runc docker-registry; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)   # static: runs in any test image
command -v fuse-overlayfs >/dev/null 2>&1 || need+=(fuse-overlayfs)
command -v mksquashfs >/dev/null 2>&1 || need+=(squashfs-tools)      # shared store: publish --format squashfs
command -v squashfuse >/dev/null 2>&1 || need+=(squashfuse)          # rootless: mounting squashfs layers
command -v crun >/dev/null 2>&1 || need+=(crun)
command -v newuidmap >/dev/null 2>&1 || need+=(uidmap)               # rootless: subordinate ID ranges
command -v slirp4netns >/dev/null 2>&1 || need+=(slirp4netns)        # rootless: the default network
command -v chromedriver >/dev/null 2>&1 || need+=(chromium chromium-driver) # the portal's browser tests
command -v clang >/dev/null 2>&1 || need+=(clang)                   # NativeAOT wharf: compiles and links
dpkg -s zlib1g-dev >/dev/null 2>&1 || need+=(zlib1g-dev)
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || need+=(nginx-light) # load balancer in front of several wharfd
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || need+=(postgresql) # the registry on PostgreSQL
if ((${#need[@]})) && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  echo "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Rootless networking opens /dev/net/tun as the user: Debian's udev rules make it 0666, a machine
# without them leaves it 0600 (the rootless tests run as an unprivileged account made by the tests).
if [[ $(id -u) == 0 && -c /dev/net/tun ]]; then chmod 0666 /dev/net/tun; fi

dotnet build Wharf.slnx -c Release -nologo -v q
# The CLI tests run the published NativeAOT wharf, the binary users install; a developer's plain
# `dotnet test` runs the one built next to the tests instead.
dotnet publish src/Wharf.Cli -c Release -r linux-x64 -nologo -v q
export WHARF_CLI=$PWD/src/Wharf.Cli/bin/Release/net10.0/linux-x64/publish/wharf
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# One test project at a time: several of them drive podman, whose shared state (/run/libpod,
# system reset) must not be touched by two projects at once.
dotnet test Wharf.slnx -c Release --no-build -nologo -v q -m:1 --logger "console;verbosity=minimal" 2>&1 | tee "$log" || status=$?

# The whole registry test project again with the metadata in PostgreSQL
# (tests/Wharf.Testing/PostgreSqlServer.cs starts Debian's). Tests about the SQLite file itself
# (its upgrade from earlier versions, the offline gc/fsck on registry.db) carry
# [Trait("Database", "sqlite-only")] and run in the first pass only (docs/registry.md, "PostgreSQL").
WHARF_TEST_DATABASE=postgresql dotnet test tests/Wharf.Registry.Tests -c Release --no-build -nologo -v q --logger "console;verbosity=minimal" \
  --filter "Database!=sqlite-only" 2>&1 | tee -a "$log" || status=$?

# One closing line for the whole run, summed over the test projects.
sum() { grep -E "^(Passed|Failed)! +- " "$log" | grep -oE "$1: +[0-9]+" | awk '{s+=$2} END {print s+0}'; }
echo "tests: $(sum Passed) passed, $(sum Failed) failed, $(sum Skipped) skipped"
exit $status
