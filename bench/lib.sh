# Shared pieces of the benchmark scripts: source it, as bench/rootless.sh does.
# (bench/build.sh, cli.sh, containers.sh and run.sh still carry their own copies of these.)

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# replace_section DOC NAME FILE: puts FILE between <!-- NAME-benchmark:start/end --> in DOC
# (appending the section when the markers are not there yet), leaving the rest of DOC alone.
replace_section() {
  python3 - "$1" "$2" "$3" <<'PY'
import sys
doc_path, name, new_path = sys.argv[1:4]
try:
    doc = open(doc_path).read()
except FileNotFoundError:
    doc = '# Benchmarks\n'
new = open(new_path).read().rstrip('\n') + '\n'
start, end = f'<!-- {name}-benchmark:start -->', f'<!-- {name}-benchmark:end -->'
block = start + '\n' + new + end + '\n'
if start in doc and end in doc:
    doc = doc[:doc.index(start)] + block + doc[doc.index(end) + len(end):].lstrip('\n')
else:
    doc = doc.rstrip('\n') + '\n\n' + block
open(doc_path, 'w').write(doc)
PY
}
