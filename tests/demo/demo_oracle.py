#!/usr/bin/env python3
"""demo_oracle.py - what numa_alloc_demo must print, computed without running it.

    demo_oracle.py [--threads=N] [--policy=P] [--seed=S] [--node=N] --total=SIZE
                   [--verbose] [--cpu-nodes=LIST] [--mem-nodes=LIST]

Takes the demo's flags and prints the stdout the demo must give for them:
the "Node N:" lines (a node with CPUs or a block; one "Nodes ...: nothing
allocated" line for the others), "Remote allocations:", and with --verbose the exact
byte and block counts. It replays the request stream the demo documents
(tests/demo/README.md, "The request stream") from the seed - xorshift64*
seeded by splitmix64, the size mix, each thread's budget - and sums the
requested sizes where a correct allocator must put them:

    local            the node of the thread that asked (--node=N: node N,
                     through numa_malloc & co)
    bind, preferred  the --node (default 0); preferred has the whole run's
                     memory free there in these tests
    interleave       one memory node only (where every block lies is not
                     fixed by the stream on several: exit 2)

It never allocates through numa-alloc, never asks the kernel where a page
is and shares no code with the demo: a demo (or an allocator) that counts,
draws, splits or places differently prints other numbers than this.

The topology is an input: the memory nodes and the nodes that have CPUs,
as the demo discovers them (default: read from sysfs and this process's
cpuset; --cpu-nodes=0,1 --mem-nodes=0,1 override). Threads are pinned
round-robin over the CPU nodes, in increasing node order.
"""
import re
import sys

MASK = (1 << 64) - 1
KIB = 1024
MIB = 1024 * KIB
HUGE_MIN = 2 * MIB  # objects above it are huge
MAX_MISSES = 16  # sizes in a row that do not fit the budget end a thread
POLICIES = ("local", "bind", "preferred", "interleave")


def splitmix64(state):
    """One step: (new state, output)."""
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)


class XorShift64Star:
    """Vigna's xorshift64*, state never 0."""

    def __init__(self, state):
        self.s = state

    def next(self):
        x = self.s
        x ^= x >> 12
        x ^= (x << 25) & MASK
        x ^= x >> 27
        self.s = x
        return (x * 0x2545F4914F6CDD1D) & MASK

    def below(self, n):
        return self.next() % n


def next_size(rng):
    """Mostly small, a few large, now and then a huge block."""
    r = rng.below(100)
    if r < 50:
        return 8 + rng.below(504)  # 8 B .. 511 B
    if r < 80:
        return 512 + rng.below(16 * KIB - 512)  # .. 16 KiB
    if r < 95:
        return 16 * KIB + rng.below(240 * KIB)  # .. 256 KiB
    if r < 99:
        return 256 * KIB + rng.below(2 * MIB - 256 * KIB - 4096)  # large
    return HUGE_MIN + 1 + rng.below(6 * MIB)  # huge


def thread_sizes(seed, index, budget):
    """The sizes thread `index` allocates, in order."""
    _, first = splitmix64((seed ^ (index * 0xD1B54A32D192ED03)) & MASK)
    rng = XorShift64Star(first | 1)
    sizes, allocated, misses = [], 0, 0
    while misses < MAX_MISSES:
        size = next_size(rng)
        rng.below(10)  # how: malloc, calloc or the aligned call; no effect on the sums
        rng.below(9)  # the alignment, 16 << 0..8; no effect on the sums
        if allocated + size > budget:
            misses += 1
            continue
        misses = 0
        sizes.append(size)
        allocated += size
    return sizes


def parse_size(text):
    """123, 64K, 32M, 1.5G, 2GiB, 512MB (binary units), as the demo's --total."""
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]*)?)(?:([kKmMgGtT])(?:i?B)?|B)?", text)
    if not m:
        sys.exit(f"demo_oracle: bad size {text!r}")
    mult = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}.get((m.group(2) or "").lower(), 1)
    return int(float(m.group(1)) * mult)


def parse_list(text):
    nodes = set()
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        nodes.update(range(int(lo), int(hi or lo) + 1))
    return nodes


def read(path, default=""):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def cpuset_field(name):
    for line in read("/proc/self/status").splitlines():
        if line.startswith(name + ":"):
            return parse_list(line.split(":", 1)[1])
    return None


def sysfs_topology():
    """(cpu nodes, memory nodes) as the demo sees them: allowed, with CPUs / with memory."""
    base = "/sys/devices/system/node"
    online = parse_list(read(f"{base}/online", "0"))
    mems = parse_list(read(f"{base}/has_memory", "")) or online
    allowed_mems = cpuset_field("Mems_allowed_list")
    if allowed_mems is not None:
        mems &= allowed_mems
    allowed_cpus = cpuset_field("Cpus_allowed_list")
    cpus = set()
    for node in online:
        node_cpus = parse_list(read(f"{base}/node{node}/cpulist", ""))
        if node_cpus and (allowed_cpus is None or node_cpus & allowed_cpus):
            cpus.add(node)
    return sorted(cpus), sorted(mems)


def main(argv):
    opt = {"threads": 4, "policy": "local", "seed": 42, "node": -1, "total": None, "verbose": False}
    cpu_nodes = mem_nodes = None
    for arg in argv:
        name, eq, value = arg.partition("=")
        if name == "--verbose":
            opt["verbose"] = True
        elif name in ("--threads", "--seed", "--node"):
            opt[name[2:]] = int(value, 0)
        elif name == "--policy" and value in POLICIES:
            opt["policy"] = value
        elif name == "--total":
            opt["total"] = parse_size(value)
        elif name == "--cpu-nodes":
            cpu_nodes = sorted(parse_list(value))
        elif name == "--mem-nodes":
            mem_nodes = sorted(parse_list(value))
        else:
            sys.exit(f"demo_oracle: unknown argument {arg!r}")
    if opt["total"] is None:
        sys.exit("demo_oracle: --total is needed (the demo's default depends on free memory)")
    if cpu_nodes is None or mem_nodes is None:
        cpus, mems = sysfs_topology()
        cpu_nodes = cpus if cpu_nodes is None else cpu_nodes
        mem_nodes = mems if mem_nodes is None else mem_nodes
    threads, total, policy = opt["threads"], opt["total"], opt["policy"]
    if policy == "interleave" and len(mem_nodes) != 1:
        print("demo_oracle: interleave over several nodes: the split is not fixed", file=sys.stderr)
        return 2

    node_bytes = {m: 0 for m in mem_nodes}
    node_local = {m: 0 for m in mem_nodes}
    node_blocks = {m: 0 for m in mem_nodes}
    blocks = remote = 0
    for t in range(threads):
        home = cpu_nodes[t % len(cpu_nodes)]
        budget = total // threads + (1 if t < total % threads else 0)
        if policy == "local":
            where = opt["node"] if opt["node"] >= 0 else home
        elif policy in ("bind", "preferred"):
            where = opt["node"] if opt["node"] >= 0 else 0
        else:
            where = mem_nodes[0]
        sizes = thread_sizes(opt["seed"], t, budget)
        node_bytes[where] += sum(sizes)
        node_blocks[where] += len(sizes)
        if where == home:
            node_local[where] += sum(sizes)
        else:
            remote += len(sizes)
        blocks += len(sizes)

    def pct(part, whole):
        return 100.0 * float(part) / float(whole) if whole else 0.0

    # A line of its own for a node with CPUs or with a block; one for the others.
    shown = [m for m in mem_nodes if m in cpu_nodes or node_bytes[m] or node_blocks[m]]
    for m in shown:
        print("Node %d: %.1f GB allocated, %.1f%% local"
              % (m, float(node_bytes[m]) / float(1 << 30), pct(node_local[m], node_bytes[m])))
    folded = [m for m in mem_nodes if m not in shown]
    if folded:
        runs = []
        for m in folded:
            if runs and runs[-1][1] == m - 1:
                runs[-1][1] = m
            else:
                runs.append([m, m])
        text = ", ".join("%d-%d" % (a, b) if b > a else "%d" % a for a, b in runs)
        print(("Nodes %s (%d nodes)" % (text, len(folded)) if len(folded) > 1 else "Node %s" % text)
              + ": nothing allocated")
    print("Remote allocations: %.1f%%" % pct(remote, blocks))
    if opt["verbose"]:
        for m in shown:
            print("node %d: bytes %d, local bytes %d, blocks %d"
                  % (m, node_bytes[m], node_local[m], node_blocks[m]))
        print("total: bytes %d, blocks %d, remote blocks %d, misplaced pages 0"
              % (sum(node_bytes.values()), blocks, remote))
        print("run: policy %s, threads %d, seed %d, total %d" % (policy, threads, opt["seed"], total))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
