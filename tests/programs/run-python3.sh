#!/usr/bin/env bash
# run-python3.sh <libnumapreload.so> - CPython's own regression tests (Debian's
# libpython3.11-testsuite), with PYTHONMALLOC=malloc so that every Python object
# comes from malloc, in one interpreter process (py_regrtest.py). The set of
# test cases and their results (from regrtest's JUnit XML) must be the same with
# and without LD_PRELOAD, and the preloaded interpreter proves, from inside,
# that numa-alloc served it (its maps, numa_ptr_node through ctypes).
# NA_PYTHON overrides the interpreter (default /usr/bin/python3.11: the Debian
# one, which the test suite package belongs to).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
na_setup python3 "$@"
PY=${NA_PYTHON:-/usr/bin/python3.11}
na_need "$PY"
"$PY" -I -c 'import test.libregrtest, test.test_threading' 2>/dev/null ||
    na_fail "$PY has no regression test suite (install libpython3.11-testsuite: tools/install-deps.sh)"

# 11 modules, ~20-30 s per run on 2 cores; threads: test_threading, test_thread,
# test_threading_local; test_resource: setrlimit and prlimit, which numa-alloc exports
# (interpose/rlimit.c).
MODULES=(test_threading test_thread test_threading_local test_dict test_list test_set
    test_bytes test_json test_re test_collections test_resource)

workload() {
    export PYTHONMALLOC=malloc PYTHONHASHSEED=0
    if [[ $NA_MODE == preload ]]; then
        export NUMA_ALLOC_PROOF_LIB=$NA_LIB NUMA_ALLOC_PROOF_OUT=$NA_OUT/proof
    fi
    # The regrtest log goes to stderr (shown on failure); stdout gets the results.
    na_prog_watched "$PY" "$NA_DIR/py_regrtest.py" --timeout 300 \
        --junit-xml "$NA_OUT/junit.xml" "${MODULES[@]}" >&2
    # One line per test case: name and outcome (plain python, no preload).
    "$PY" - "$NA_OUT/junit.xml" <<'PY'
import sys
import xml.etree.ElementTree as ET
cases = []
for case in ET.parse(sys.argv[1]).iter("testcase"):
    outcome = "passed"
    for kind in ("failure", "error", "skipped"):
        if case.find(kind) is not None:
            outcome = kind
    cases.append("%s %s" % (case.get("name"), outcome))
print("%d test cases" % len(cases))
print("\n".join(sorted(cases)))
PY
}

na_run_both workload
na_compare
na_prove_loaded
grep -q '^PROOF OK' "$NA_WORK/preload/proof" 2>/dev/null ||
    na_fail "the preloaded interpreter did not prove numa-alloc served it: $(cat "$NA_WORK/preload/proof" 2>/dev/null || echo 'no proof written')"
na_log "$(<"$NA_WORK/preload/proof")"
na_pass
