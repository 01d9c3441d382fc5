#!/usr/bin/env bash
# prof-example.sh PROFILE [OUT] - the example of docs/profiling.md from a profile
# file: OUT.txt (the report, 10 sites), OUT.tsv, OUT.collapsed, OUT.svg (the
# flame graph) and OUT.png (the SVG as headless Chromium renders it, 1200 pixels
# wide, as tall as the SVG). OUT defaults to docs/profiling-example.
#
#   numa-alloc --prof=/tmp/prof.%p -- PROGRAM ...    # on the machine to show
#   tools/prof-example.sh /tmp/prof.PID              # where PROGRAM's objects are
#
# The objects the profile's map lines name must still be there (and the same
# builds) for the symbols. Paste OUT.txt into docs/profiling.md afterwards.
# Environment: NUMA_ALLOC_PROF_TOOL, the reader (default: tools/numa-alloc-prof
# beside this script).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
profile=${1:?usage: prof-example.sh PROFILE [OUT]}
out=${2:-$here/../docs/profiling-example}
reader=${NUMA_ALLOC_PROF_TOOL:-$here/numa-alloc-prof}
python=/usr/bin/python3
[ -x "$python" ] || python=python3

"$python" "$reader" "$profile" --top=10 >"$out.txt"
"$python" "$reader" "$profile" --tsv >"$out.tsv"
"$python" "$reader" "$profile" --collapsed >"$out.collapsed"
"$python" "$reader" "$profile" --svg="$out.svg" >/dev/null
echo "wrote $out.txt, $out.tsv, $out.collapsed, $out.svg"

browser=''
for b in chromium chromium-browser google-chrome; do
    command -v "$b" >/dev/null 2>&1 && browser=$b && break
done
if [ -z "$browser" ]; then
    echo "prof-example.sh: no chromium (tools/install-deps.sh installs it): no $out.png" >&2
    exit 1
fi
height=$(sed -n 's/^<svg [^>]* height="\([0-9]*\)".*/\1/p' "$out.svg" | head -n 1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Chromium wants an absolute file:// URL, and --no-sandbox as root.
svg=$(readlink -f "$out.svg")
HOME=$work timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$work/chromium" --screenshot="$work/shot.png" \
    --window-size="1200,${height:-800}" "file://$svg" >"$work/log" 2>&1 || true
[ -s "$work/shot.png" ] || {
    cat "$work/log" >&2
    echo "prof-example.sh: $browser wrote no screenshot" >&2
    exit 1
}
cp "$work/shot.png" "$out.png"
echo "wrote $out.png (1200x${height:-800})"
