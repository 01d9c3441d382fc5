"""py_regrtest.py - runs CPython regression tests (test.libregrtest, from
Debian's libpython3.11-testsuite) in this very process; used by
run-python3.sh, with and without LD_PRELOAD=libnumapreload.so.

    python3 py_regrtest.py [regrtest arguments...]

When NUMA_ALLOC_PROOF_LIB names libnumapreload.so (the preloaded run), after
the tests this process proves that numa-alloc served it and writes the verdict
("PROOF OK: ..." or "PROOF FAILED: ...") to the file NUMA_ALLOC_PROOF_OUT:
  - the library is mapped in /proc/self/maps;
  - numa_ptr_node() (the library's own API, through ctypes) finds a node for
    objects created here (with PYTHONMALLOC=malloc they come from malloc), and
    -1 for a static object of the interpreter (None).
The exit status is regrtest's.
"""
import ctypes
import os
import sys

from test.libregrtest import main


def prove(lib_path, out_path):
    lib_path = os.path.realpath(lib_path)
    with open("/proc/self/maps") as f:
        mapped = [line for line in f if line.rstrip("\n").endswith(lib_path)]
    lib = ctypes.CDLL(lib_path)  # the preloaded copy: same file, same handle
    numa_ptr_node = lib.numa_ptr_node
    numa_ptr_node.argtypes = [ctypes.c_void_p]
    numa_ptr_node.restype = ctypes.c_int
    objects = [list(range(100)), {"key": "value"}, "x" * 1000, bytearray(1 << 20),
               object(), [None] * 100000, 10 ** 100]
    nodes = [numa_ptr_node(id(o)) for o in objects]
    control = numa_ptr_node(id(None))
    ok = bool(mapped) and all(n >= 0 for n in nodes) and control == -1
    with open(out_path, "w") as f:
        f.write("%s: pid %d, %d lines of /proc/self/maps name %s; numa_ptr_node() of "
                "%d new objects: %s; of None (static): %d\n"
                % ("PROOF OK" if ok else "PROOF FAILED", os.getpid(), len(mapped),
                   lib_path, len(objects), nodes, control))


def run():
    try:
        main()
        status = 0
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    lib_path = os.environ.get("NUMA_ALLOC_PROOF_LIB")
    if lib_path:
        prove(lib_path, os.environ["NUMA_ALLOC_PROOF_OUT"])
    sys.exit(status)


if __name__ == "__main__":
    run()
