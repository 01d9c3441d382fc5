#!/usr/bin/env bash
# test_prof_render.sh FIXTURE TOOL - the flame graph of 'numa-alloc prof --svg'
# in a real browser (issue 18): headless Chromium renders the SVG of the
# fixture's profile (tests/prof_fixture.py) to a PNG, which must be 1200x800,
# not blank, and show the blue and the red ends of the legend, its grey, the
# colours of a local frame and of a remote one (read from the SVG) and black
# text. ctest label "browser". Without Chromium: skipped (77), but a failure
# under CI=true, where tools/install-deps.sh installs it.
set -uo pipefail
fixture=$1 tool=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=/usr/bin/python3

browser=''
for b in chromium chromium-browser google-chrome; do
    command -v "$b" >/dev/null 2>&1 && browser=$(command -v "$b") && break
done
if [ -z "$browser" ]; then
    if [ "${CI:-}" = true ]; then
        echo "FAIL: chromium is missing (CI=true: tools/install-deps.sh installs it)"
        exit 1
    fi
    echo "SKIP: chromium is missing (tools/install-deps.sh)"
    exit 77
fi
echo "browser: $("$browser" --version 2>/dev/null)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$fixture" "$work/prof_fixture"
"$python" "$here/prof_fixture.py" "$work/prof_fixture" "$work/fixture.prof" || {
    echo "FAIL: tests/prof_fixture.py could not write the profile"
    exit 1
}
"$python" "$tool" "$work/fixture.prof" --svg="$work/flame.svg" >/dev/null || {
    echo "FAIL: $tool --svg"
    exit 1
}
# The colours to find: the legend's ends and grey, a local and a remote frame.
colours=$("$python" - "$work/flame.svg" <<'EOF'
import sys
import xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
legend = [r.get("fill") for r in root.findall(ns + "rect") if r.find(ns + "title") is not None]
fills = [legend[0], legend[-1], root.findall(ns + "rect")[-1].get("fill")]
for g in root.find(ns + "g[@id='frames']"):
    if g.find(ns + "title").text.split("\n")[0].split(" ")[0] in ("consumer_local", "producer"):
        fills.append(g.find(ns + "rect").get("fill"))
print(" ".join(",".join(str(int(f[i:i + 2], 16)) for i in (1, 3, 5)) for f in fills))
EOF
) || {
    echo "FAIL: the SVG's legend and frames could not be read"
    exit 1
}
echo "colours to find: $colours (legend blue, red, grey; consumer_local, producer)"

# As root Chromium needs --no-sandbox; a profile directory of its own, no GPU.
HOME=$work timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$work/chromium" --screenshot="$work/flame.png" --window-size=1200,800 \
    "file://$work/flame.svg" >"$work/chromium.log" 2>&1
status=$?
if [ ! -s "$work/flame.png" ]; then
    cat "$work/chromium.log"
    echo "FAIL: $browser wrote no screenshot (exit $status)"
    exit 1
fi
# shellcheck disable=SC2086 # the colours are words
"$python" "$here/png_check.py" "$work/flame.png" 1200 800 $colours 0,0,0 || exit 1
echo "PASS: the flame graph renders in $browser"
