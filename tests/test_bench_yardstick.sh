#!/usr/bin/env bash
# test_bench_yardstick.sh NUMA_BENCH - numa_bench's table "Every allocator by issue 17's
# yardstick" (bench/report.c, report_yardstick) says what the --data file of the same run
# says: each allocator's time over the fastest of the others (allocator workloads only), the
# workloads above 1.10 of it, its peak RSS over glibc's and the workloads above 1.3 of the
# leanest other, recomputed here from the medians. The quick run's numbers mean nothing;
# only the arithmetic is checked, and numa-alloc's time entry must equal the report's own
# "numa-alloc/best peer" mean (the others of numa-alloc are the peers).
set -euo pipefail
bench=${1:?usage: test_bench_yardstick.sh NUMA_BENCH}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$bench" --all --quick --workloads=small-churn-1t,batch-1t,larson-2t,prog-python \
    --out="$work/r.md" --data="$work/r.tsv" >"$work/log" 2>&1 || {
    rc=$?
    cat "$work/log" >&2
    echo "FAIL: numa_bench exited $rc" >&2
    exit 1
}

python3 - "$work/r.md" "$work/r.tsv" <<'EOF'
import csv, math, re, sys

md, tsv = open(sys.argv[1]).read(), sys.argv[2]
rows = list(csv.DictReader(open(tsv), delimiter="\t"))
names = [h[:-3] for h in rows[0] if h.endswith(" ns") and h != "glibc ns"]
names = [n for n in names if not n.startswith(("before", "numa-alloc+"))]
table = {}
for line in md.splitlines():
    m = re.match(r"\| (\S+) \| ([0-9.]+) \((\d+)\) \| (\d+) \| ([0-9.]+) \((\d+)\) \| (\d+) \|$", line)
    if m:
        table[m.group(1)] = m.groups()[1:]
if "numa-alloc" not in table or len(table) < 2:
    sys.exit("FAIL: no yardstick table with numa-alloc and a peer in the report")

def num(r, col):
    v = r[col]
    return None if v == "-" else float(v)

failed = False
def check(what, got, want, tol):
    global failed
    if abs(got - want) > tol:
        print(f"FAIL: {what}: report {got}, data {want}")
        failed = True

def near(r, bound):  # a ratio this close to a bound may round either way
    return abs(r / bound - 1) < 0.005

for a in names:
    if a not in table:
        continue
    others = [b for b in names if b != a and b in table]
    tl, rl, slow, fat, fuzzy = [], [], 0, 0, False
    for r in rows:
        t, g, rss = num(r, a + " ns"), num(r, "glibc peak RSS MiB"), num(r, a + " peak RSS MiB")
        fast = [num(r, b + " ns") for b in others if num(r, b + " ns") is not None]
        lean = [num(r, b + " peak RSS MiB") for b in others if num(r, b + " peak RSS MiB") is not None]
        if not r["workload"].startswith("prog-") and t is not None and fast:
            tl.append(t / min(fast))
            slow += tl[-1] > 1.10
            fuzzy |= near(tl[-1], 1.10)
        if rss is not None and g:
            rl.append(rss / g)
        if rss is not None and lean:
            fat += rss / min(lean) > 1.3
            fuzzy |= near(rss / min(lean), 1.3)
    gt, nt, ns, gr, nr, nf = table[a]
    check(f"{a}: workloads timed", int(nt), len(tl), 0)
    check(f"{a}: time over the fastest other", float(gt), math.exp(sum(map(math.log, tl)) / len(tl)), 0.002)
    check(f"{a}: workloads measured for RSS", int(nr), len(rl), 0)
    check(f"{a}: peak RSS over glibc", float(gr), math.exp(sum(map(math.log, rl)) / len(rl)), 0.002)
    if not fuzzy:
        check(f"{a}: workloads above 1.10", int(ns), slow, 0)
        check(f"{a}: workloads above 1.3 of the leanest other", int(nf), fat, 0)

best = re.search(r"over \d+ allocator workloads?: .*numa-alloc/best peer = ([0-9]+\.[0-9]+)", md)
if not best:
    sys.exit("FAIL: no numa-alloc/best peer mean in the report")
check("numa-alloc: time entry against numa-alloc/best peer", float(table["numa-alloc"][0]), float(best.group(1)), 0.0005)
sys.exit(1 if failed else 0)
EOF
echo "yardstick: OK"
