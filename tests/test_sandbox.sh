#!/usr/bin/env bash
# test_sandbox.sh SECCOMP_DENY LIB DEMO SCHEMA - numa-alloc where the kernel refuses the
# NUMA memory-policy calls, as a container's default seccomp profile does (EPERM without
# CAP_SYS_NICE) or a kernel without NUMA (ENOSYS). No container: SECCOMP_DENY installs a
# seccomp filter refusing mbind, set_mempolicy, get_mempolicy, move_pages, migrate_pages
# and execs the program. Under it, real programs - python3 with LD_PRELOAD, and the demo
# (linked with the library) - must run to completion, print exactly one "numa-alloc:" line
# naming what is lost, and their statistics (JSON, validated against SCHEMA, and text) must
# say unbound/unverified, never a verified-looking "100% local". A run without the filter
# must say bound/verified (negative control: the checks can say no). And with madvise
# refused, calloc must still return zeroed memory (a refused purge leaves the run dirty).
# shellcheck disable=SC2317 # the helpers below are called through check
set -uo pipefail
deny=$1 lib=$2 demo=$3 schema=$4
python=/usr/bin/python3 # Debian's (python3-jsonschema), not a pyenv shim that forks
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# shellcheck source=tests/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/check.sh"
warnings() { grep -c '^numa-alloc:' "$1"; }
one_warning() { test "$(warnings "$1")" -eq 1 || { cat "$1"; false; }; }
no_warning() { test "$(warnings "$1")" -eq 0 || { cat "$1"; false; }; }

# JSON statistics FILE: valid against the schema, and placement as EXPECTED:
# "<binding> <verification> <local_pct_basis>" (basis of every node).
placement_is() {
    "$python" - "$schema" "$1" "$2" <<'PY'
import json, sys
import jsonschema
schema, path, expected = sys.argv[1], sys.argv[2], sys.argv[3].split()
doc = json.load(open(path))
jsonschema.validate(doc, json.load(open(schema)))
nodes = {k: v for k, v in doc.items() if k.startswith("node")}
got = [doc["placement"]["binding"], doc["placement"]["verification"]]
got.append(",".join(sorted({n["local_pct_basis"] for n in nodes.values()})))
if got != expected:
    sys.exit("placement %s, expected %s: %s" % (got, expected, doc["placement"]))
census = [k for k, n in nodes.items() if "verified" in n]
if expected[1] == "unverified" and census:
    sys.exit("a census is reported although move_pages was refused: %s" % census)
if expected[1] == "verified" and not all(n["verified"]["pages_checked"] > 0 for n in nodes.values()):
    sys.exit("verified, but no page was checked")
if expected[0] == "unbound" and not any(n["bind_failures"] > 0 for n in nodes.values()):
    sys.exit("unbound, but no bind failure counted")
if expected[0] == "bound" and any(n["bind_failures"] for n in nodes.values()):
    sys.exit("bound, yet bind failures were counted")
PY
}

# Text statistics FILE: no "% local" line without what it rests on, unless verified.
text_unverified() {
    grep -q '^placement: .*unverified' "$1" && ! grep -q '^pages verified' "$1" &&
        ! grep -q '% local$' "$1" && grep -q '% local (' "$1"
}

# A program that allocates: small blocks, and a huge one under the policy in effect.
py_prog='import ctypes
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
big = libc.malloc(64 << 20)
assert big, "malloc(64 MiB) returned NULL"
ctypes.memset(big, 1, 64 << 20)
print("ok", len([str(i) * 10 for i in range(100000)]))'

# python3 under LD_PRELOAD, JSON then text statistics. $1: label, rest: prefix (the filter).
run_python() {
    local label=$1
    shift
    for policy in local interleave; do
        "$@" env LD_PRELOAD="$lib" NUMA_ALLOC_POLICY=$policy NUMA_ALLOC_STATS="$out/$label.$policy.json" \
            "$python" -c "$py_prog" >"$out/$label.$policy.out" 2>"$out/$label.$policy.err"
        check "$label, $policy: python3 exits 0 and finishes" \
            test $? -eq 0 -a "$(cat "$out/$label.$policy.out")" = "ok 100000"
    done
    "$@" env LD_PRELOAD="$lib" NUMA_ALLOC_STATS=stderr NUMA_ALLOC_STATS_FORMAT=text \
        "$python" -c "$py_prog" >/dev/null 2>"$out/$label.text"
}

echo "--- python3 under the filter (EPERM)"
run_python eperm "$deny" --errno=EPERM --
check "one warning line" one_warning "$out/eperm.local.err"
check "it names what is lost" grep -q \
    '^numa-alloc: mbind refused (EPERM): memory is not bound, placement is first-touch; move_pages refused (EPERM): placement cannot be verified$' \
    "$out/eperm.local.err"
check "JSON: unbound, unverified, local_pct intended" placement_is "$out/eperm.local.json" \
    "unbound unverified intended"
check "interleave: JSON unbound, unverified" placement_is "$out/eperm.interleave.json" \
    "unbound unverified intended"
check "text: unbound, unverified, no bare '% local'" text_unverified "$out/eperm.text"
check "text: says unbound" grep -q '^placement: unbound (mbind EPERM' "$out/eperm.text"

echo "--- python3 under the filter (ENOSYS)"
run_python enosys "$deny" --errno=ENOSYS --
check "one warning line" one_warning "$out/enosys.local.err"
check "it names ENOSYS" grep -q '^numa-alloc: mbind refused (ENOSYS)' "$out/enosys.local.err"
check "JSON: unbound, unverified" placement_is "$out/enosys.local.json" "unbound unverified intended"

echo "--- python3, only move_pages refused"
run_python verify "$deny" --calls=move_pages --
check "one warning line, about verification only" grep -q \
    '^numa-alloc: move_pages refused (EPERM): placement cannot be verified$' "$out/verify.local.err"
check "one warning line" one_warning "$out/verify.local.err"
check "JSON: bound, unverified, local_pct bound" placement_is "$out/verify.local.json" \
    "bound unverified bound"
check "text: unverified, no bare '% local'" text_unverified "$out/verify.text"

echo "--- python3 without the filter (negative control)"
run_python free
check "no warning" no_warning "$out/free.local.err"
check "JSON: bound, verified, local_pct verified" placement_is "$out/free.local.json" \
    "bound verified verified"
check "text: bound, verified" grep -q '^placement: bound, verified$' "$out/free.text"
check "text: '% local' verified, pages verified" \
    eval "grep -q '% local\$' '$out/free.text' && grep -q '^pages verified' '$out/free.text'"

# A profile that refuses madvise: nothing can be purged. A purged run is taken to read as
# zero (calloc skips its memset), so a refused purge must leave the run dirty; a huge calloc
# over a sparse dirty run zeroes its absent pages by hand when the purge is refused.
echo "--- python3 with madvise refused: calloc still zeroes"
purge_prog='import ctypes
libc = ctypes.CDLL(None)
libc.malloc.restype = libc.calloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
bad = 0
for size in (1 << 20, 8 << 20):
    for again in range(4):
        p = libc.malloc(size)
        if again < 3:
            ctypes.memset(p, 0xAB, size)
        else:  # sparse: a huge calloc over it purges the absent pages (refused: memset)
            for off in range(0, size, 1 << 20):
                ctypes.memset(p + off, 0xAB, 1)
        libc.free(p)
        libc.malloc_trim(0)
        q = libc.calloc(1, size)
        bad += size - ctypes.string_at(q, size).count(0)
        libc.free(q)
print("nonzero bytes after calloc:", bad)'
"$deny" --calls=madvise -- env LD_PRELOAD="$lib" NUMA_ALLOC_STATS="$out/purge.json" \
    "$python" -c "$purge_prog" >"$out/purge.out" 2>"$out/purge.err"
check "exit 0" test $? -eq 0
check "calloc after refused purges: every byte zero" grep -qx 'nonzero bytes after calloc: 0' "$out/purge.out"
# Page runs are purged with madvise, refused here: counted. Free segment runs
# are decommitted, a new mapping over them (core/purge.c, purge_run_pages):
# the 8 MiB blocks' runs are purged all the same.
check "purge failures counted, and the huge blocks' runs purged without madvise" "$python" -c '
import json, sys
n = json.load(open(sys.argv[1]))["node0"]
sys.exit(not (n["purge_failures"] > 0 and n["purged_bytes"] >= 4 * (8 << 20)))' "$out/purge.json"
check "no warning: placement is not affected" no_warning "$out/purge.err"

# The demo re-executes itself unless the policy is already in its environment: set it, so
# that one process (one start-up, one warning) runs.
echo "--- the demo under the filter"
"$deny" -- env NUMA_ALLOC_POLICY=local NUMA_ALLOC_STATS="$out/demo.json" \
    "$demo" --threads=2 --seed=42 --total=32M >"$out/demo.out" 2>"$out/demo.err"
rc=$?
cat "$out/demo.out" "$out/demo.err"
check "exit 4: placement not verified" test $rc -eq 4
check "one warning line from the library" one_warning "$out/demo.err"
check "the demo says why" grep -q '^numa_alloc_demo: move_pages refused' "$out/demo.err"
check "every node line says 'intended, not verified'" \
    eval "grep -q '^Node ' '$out/demo.out' && ! grep '^Node ' '$out/demo.out' | grep -qv '(intended, not verified)\$'"
check "no misplacement claimed" eval "! grep -q misplaced '$out/demo.err'"
check "its statistics: unbound, unverified" placement_is "$out/demo.json" "unbound unverified intended"

echo "--- the demo without the filter (negative control)"
NUMA_ALLOC_POLICY=local NUMA_ALLOC_STATS="$out/demo-free.json" \
    "$demo" --threads=2 --seed=42 --total=32M >"$out/demo-free.out" 2>"$out/demo-free.err"
rc=$?
check "exit 0" test $rc -eq 0
check "node lines without qualifier" grep -q '^Node 0: .*% local$' "$out/demo-free.out"
check "no warning" no_warning "$out/demo-free.err"
check "its statistics: bound, verified" placement_is "$out/demo-free.json" "bound verified verified"

exit $fail
