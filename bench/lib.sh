# Shared pieces of the benchmark scripts; every bench/*.sh sources it (from the repository root).

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# replace_section DOC NAME FILE [KEEP]: puts FILE between <!-- NAME-benchmark:start/end --> in DOC
# (appending the section when the markers are not there yet), leaving the rest of DOC alone. With
# KEEP (a heading such as "### Reading"), the old section's part from that heading on is kept after
# the new text: notes written by hand survive a rerun.
replace_section() {
  python3 - "$1" "$2" "$3" "${4:-}" <<'PY'
import sys
doc_path, name, new_path, keep = sys.argv[1:5]
try:
    doc = open(doc_path).read()
except FileNotFoundError:
    doc = '# Benchmarks\n'
new = open(new_path).read().rstrip('\n') + '\n'
start, end = f'<!-- {name}-benchmark:start -->', f'<!-- {name}-benchmark:end -->'
notes = ''
if keep and start in doc and end in doc:
    old = doc[doc.index(start):doc.index(end)]
    if keep in old:
        notes = '\n' + old[old.index(keep):].rstrip('\n') + '\n'
block = start + '\n' + new + notes + end + '\n'
if start in doc and end in doc:
    rest = doc[doc.index(end) + len(end):].lstrip('\n')
    doc = doc[:doc.index(start)] + block + ('\n' + rest if rest else '')
else:
    doc = doc.rstrip('\n') + '\n\n' + block
open(doc_path, 'w').write(doc)
PY
}
