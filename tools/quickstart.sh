#!/usr/bin/env bash
# numa-alloc quick start: installs the Debian packages, builds (Release), then
# runs a real program - python3 on an allocation-heavy script - with
# libnumapreload.so preloaded, and shows that numa-alloc served its memory:
#   - the libnumapreload.so lines of the process's /proc/self/maps;
#   - numa_ptr_node() (the library's own API) on a sample of the Python objects
#     the job created: each must be owned by a numa-alloc node heap, while a
#     static object of the interpreter must not (-1).
# PYTHONMALLOC=malloc makes CPython take every object from malloc() rather than
# from its own mmap'ed pools, so the whole job runs on numa-alloc.
# Then runs build/numa_alloc_example when the build made one.
set -euo pipefail
trap 'echo "quickstart: FAILED (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build_dir=${BUILD_DIR:-build}
jobs=${JOBS:-2}

step() {
    printf '\n==== quickstart: %s ====\n' "$*"
}

step "1/4 install the Debian packages (tools/install-deps.sh)"
"$root/tools/install-deps.sh"

step "2/4 configure and build (Release) in $build_dir/"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build_dir" -j "$jobs"

case $build_dir in
/*) lib="$build_dir/libnumapreload.so" ;;
*) lib="$root/$build_dir/libnumapreload.so" ;;
esac
if [[ ! -f $lib ]]; then
    echo "quickstart: the build did not produce $lib" >&2
    exit 1
fi

step "3/4 main job: numa-alloc --stats=stderr --stats-format=text -- python3 (dict of 1e6 entries, sorts)"
echo "NUMA topology of this machine: $(numactl --hardware | head -n 1)"
PYTHONMALLOC=malloc "$build_dir/numa-alloc" --library="$lib" --stats=stderr --stats-format=text \
    -- /usr/bin/python3 - "$lib" <<'PY'
import collections
import ctypes
import os
import sys
import time

lib_path = os.path.realpath(sys.argv[1])
t0 = time.monotonic()

# The job: allocation-heavy work on the preloaded allocator.
d = {"key-%d" % i: i * i for i in range(1_000_000)}
by_value = sorted(d, key=lambda k: -d[k])
values = sorted((v * 7919) % 1_000_003 for v in d.values())
buf = bytearray()
for i in range(100_000):          # grows by realloc
    buf += b"numa-alloc"
text = ",".join(by_value[:200_000])
assert len(d) == 1_000_000 and by_value[0] == "key-999999" and values[0] == 0
assert len(buf) == 1_000_000 and text.startswith("key-999999,key-999998,")
print("job: dict of %d entries, sorted %d keys and %d values, %d-byte buffer, "
      "%d-char string in %.2f s" % (len(d), len(by_value), len(values), len(buf), len(text),
                                      time.monotonic() - t0))

# Proof 1: the library is mapped into this very process.
with open("/proc/self/maps") as f:
    maps = [line.rstrip("\n") for line in f if line.rstrip("\n").endswith(lib_path)]
if not maps:
    sys.exit("quickstart: FAILED: %s is not mapped in the python process" % lib_path)
print("/proc/%d/maps, lines of libnumapreload.so:" % os.getpid())
for line in maps:
    print("  " + line)

# Proof 2: numa-alloc owns the job's memory (numa_ptr_node finds the node from the address).
lib = ctypes.CDLL(lib_path)
if not hasattr(lib, "numa_ptr_node"):
    sys.exit("quickstart: FAILED: %s does not export numa_ptr_node" % lib_path)
numa_ptr_node = lib.numa_ptr_node
numa_ptr_node.argtypes = [ctypes.c_void_p]
numa_ptr_node.restype = ctypes.c_int
keys = list(d)
sample = keys[::10_000] + by_value[5::20_000] + [buf, text, d, values]
nodes = collections.Counter(numa_ptr_node(id(obj)) for obj in sample)
owned = sum(n for node, n in nodes.items() if node >= 0)
print("numa_ptr_node: %d of %d sampled objects of the job live in numa-alloc heaps (%s)"
      % (owned, len(sample),
         ", ".join("node %d: %d" % (k, v) if k >= 0 else "not numa-alloc: %d" % v
                   for k, v in sorted(nodes.items()))))
control = numa_ptr_node(id(None))
print("numa_ptr_node(None, a static object of the interpreter) = %d (expected -1)" % control)
if owned != len(sample):
    sys.exit("quickstart: FAILED: %d sampled objects were not allocated by numa-alloc"
             % (len(sample) - owned))
if control != -1:
    sys.exit("quickstart: FAILED: numa_ptr_node claims memory numa-alloc did not hand out")
print("OK: python ran on numa-alloc")
PY

step "4/4 the demo: numa_alloc_demo --threads=2 --policy=local --seed=42 (placement verified page by page)"
"$build_dir/tools/demo/numa_alloc_demo" --threads=2 --policy=local --seed=42 --total=64M

printf '\nquickstart: OK - numa-alloc served python3 via LD_PRELOAD (statistics above). Run all tests with tools/test.sh\n'
