#!/usr/bin/python3
"""prof_fixture.py PROGRAM OUT [--symbols-from=BIN] [--keep-outer] [--pid=N]

Writes a numa-alloc profile (format 1, docs/profiling.md) by hand, for the
tests of tools/numa-alloc-prof: runs PROGRAM (a build of prof_fixture.c),
which prints the real stacks of its three call sites and its executable
mappings, and adds site lines with known counters:

  stack 1 producer (run_producer, main): remote 9.5 MB, the first by remote bytes
  stack 2 consumer_local (main):         remote 0, 20 MB, third
  stack 3 explicit_inner inlined in explicit_site (main): remote 5 MB, second
  stack 4 0xdead0000 (in no mapping), then main: nothing freed, fourth

The stacks end at main (the C library's frames differ between machines)
unless --keep-outer; main's range comes from `nm -S` of BIN (default
PROGRAM: give the unstripped build for a stripped PROGRAM) and the load
address from `readelf -lW`, not from the reader's own code."""

import subprocess
import sys

SITES = [
    "site 1 node=0 thread_node=0 decision=local samples=90 objects=9000 bytes=9000000 "
    "freed_objects=8800 freed_bytes=8800000 freed_other_thread_bytes=8700000 "
    "freed_other_node_bytes=8500000 live_objects=200 live_bytes=200000 "
    "lifetime_ns=90000000 lifetime_samples=88",
    "site 1 node=1 thread_node=0 decision=fallback-full samples=10 objects=1000 bytes=1000000 "
    "freed_objects=1000 freed_bytes=1000000 freed_other_thread_bytes=1000000 "
    "freed_other_node_bytes=0 lifetime_ns=10000000 lifetime_samples=10 future_key=7",
    "site 2 node=0 thread_node=0 decision=local samples=200 objects=20000 bytes=20000000 "
    "freed_objects=20000 freed_bytes=20000000 freed_other_thread_bytes=0 "
    "freed_other_node_bytes=0 live_objects=0 live_bytes=0 lifetime_ns=2000000 "
    "lifetime_samples=200",
    "site 3 node=1 thread_node=0 decision=explicit samples=40 objects=40 bytes=4000000 "
    "freed_objects=10 freed_bytes=1000000 freed_other_thread_bytes=0 "
    "freed_other_node_bytes=1000000 live_objects=30 live_bytes=3000000",
    "site 4 node=0 thread_node=0 decision=local samples=5 objects=500 bytes=500000 "
    "live_objects=500 live_bytes=500000",
]


def main_range(binary, load_bias):
    for line in subprocess.run(["nm", "-S", "--defined-only", binary], capture_output=True,
                               text=True, check=True).stdout.splitlines():
        w = line.split()
        if len(w) == 4 and w[3] == "main":
            lo = int(w[0], 16) + load_bias
            return lo, lo + int(w[1], 16)
    sys.exit(f"no main with a size in nm -S {binary}")


def load_bias(binary, exe_map):
    """runtime address - ELF virtual address, from the mapping of the executable
    segment and readelf's program headers."""
    start, offset = exe_map
    for line in subprocess.run(["readelf", "-lW", binary], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        w = line.split()
        if w and w[0] == "LOAD":
            p_offset, p_vaddr, p_filesz = int(w[1], 16), int(w[2], 16), int(w[4], 16)
            if p_offset <= offset < p_offset + p_filesz:
                return start - (offset - p_offset + p_vaddr)
    sys.exit(f"readelf -lW {binary}: no LOAD segment holds offset 0x{offset:x}")


def main(argv):
    program, out = argv[0], argv[1]
    opts = dict(a.lstrip("-").partition("=")[::2] for a in argv[2:])
    run = subprocess.run([program], capture_output=True, text=True, check=True).stdout
    stacks, maps = {}, []
    for line in run.splitlines():
        w = line.split(" ")
        if w[0] == "stack":
            stacks[w[1]] = [int(x, 16) for x in w[2:]]
        elif w[0] == "map":
            maps.append(line)
    exe = [m.split(" ") for m in maps if m.split(" ")[5] == program]
    if not exe:
        sys.exit(f"{program} printed no mapping of itself: {maps}")
    bias = load_bias(opts.get("symbols-from") or program, (int(exe[0][1], 16), int(exe[0][4], 16)))
    lo, hi = main_range(opts.get("symbols-from") or program, bias)

    def cut(pcs):
        if "keep-outer" in opts:
            return pcs
        for i, pc in enumerate(pcs):
            if lo <= pc - 1 < hi:
                return pcs[:i + 1]
        sys.exit(f"no frame of main in {[hex(p) for p in pcs]}")

    order = [cut(stacks["producer"]), cut(stacks["local"]), cut(stacks["explicit"])]
    order.append([0xdead0000] + cut(stacks["local"])[1:])
    lines = ["numa-alloc-profile 1", "version 0.1.0", f"pid {opts.get('pid', '4242')}",
             f"program {program}", f"args {program} --fixture a\\x20b", "time_unix 1796054400.5",
             "start_unix 1796054391.25", "rate 524288", "depth 48", "unwinder libgcc",
             "complete 1", "node 0 0", "node 1 1", "future_record whatever 1 2"]
    lines += maps
    lines += [f"stack {i} " + " ".join(f"{pc:x}" for pc in pcs)
              for i, pcs in enumerate(order, start=1)]
    lines += SITES + ["lost 3", "end"]
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
