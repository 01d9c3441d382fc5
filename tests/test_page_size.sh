#!/usr/bin/env bash
# test_page_size.sh LIBRARY SHIM PROBE SCHEMA - the page size is checked at start-up
# (issue 14): the library is built for 4 KiB pages; on a kernel with other pages
# (SHIM makes getauxval(AT_PAGESZ) say 16 KiB) the start fails as other failed
# starts do: one line says why, the program runs on the C library's malloc, and the
# statistics say numa-alloc was not active and why.
set -uo pipefail
lib=$1 shim=$2 probe=$3 schema=$4
python=/usr/bin/python3 # Debian's (has jsonschema), not a pyenv shim
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# shellcheck source=tests/check.sh
source "$(dirname "$0")/check.sh"

# run PRELOAD FORMAT CMD... - CMD with LD_PRELOAD=PRELOAD and statistics in FORMAT
# (text or json) to $out/stats; stdout and stderr to $out/stdout and $out/stderr.
run() {
    local preload=$1 format=$2
    shift 2
    rm -f "$out/stats"
    NUMA_ALLOC_STATS="$out/stats" NUMA_ALLOC_STATS_FORMAT=$format LD_PRELOAD=$preload \
        "$@" >"$out/stdout" 2>"$out/stderr"
    local status=$?
    ((status == 0)) || sed 's/^/  | /' "$out/stdout" "$out/stderr" | head -n 20 >&2
    return $status
}

not() { ! "$@"; }

why="the kernel's pages are 16384 bytes, this build needs 4096"

# The control: 4 KiB pages, numa-alloc starts and says nothing.
run "$lib" text "$probe" basic
check "4 KiB pages: the probe runs" test $? -eq 0
check "4 KiB pages: no message" test "$(grep -c "numa-alloc:" "$out/stderr")" -eq 0
check "4 KiB pages: statistics written" grep -q "^numa-alloc statistics: pid" "$out/stats"
check "4 KiB pages: numa-alloc was active" not grep -q "was not active" "$out/stats"

run "$shim:$lib" text "$probe" basic
check "16 KiB pages: the program runs on the C library's malloc" test $? -eq 0
check "16 KiB pages: every entry point works" grep -qx "basic ok (numa_malloc too)" "$out/stdout"
check "16 KiB pages: one line says why" \
    test "$(grep -cx "numa-alloc: not active: $why; the C library's malloc serves this program" \
        "$out/stderr")" -eq 1
check "16 KiB pages: nothing else from numa-alloc" \
    test "$(grep -c "numa-alloc:" "$out/stderr")" -eq 1
check "16 KiB pages: the statistics say numa-alloc was not active, and why" \
    grep -qx "numa-alloc was not active: $why; the C library's malloc served this program" \
        "$out/stats"

run "$shim:$lib" json "$python" -c 'print(sum(range(10**5)))'
check "16 KiB pages: python3 runs" grep -qx 4999950000 "$out/stdout"
"$python" - "$schema" "$out/stats" <<'PY'
import json, sys
import jsonschema
doc = json.load(open(sys.argv[2]))
jsonschema.validate(doc, json.load(open(sys.argv[1])))
assert doc["active"] is False and "16384" in doc["inactive_reason"], doc
assert not any(k.startswith("node") for k in doc), doc
PY
check "16 KiB pages: the JSON says active false, why, and validates" test $? -eq 0

exit $fail
