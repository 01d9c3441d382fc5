#!/usr/bin/env python3
"""stats_expect.py DIR... - the statistics by value, for value_check (tests/placement).

DIR/before.json and DIR/after.json are numa_alloc_stats_write's JSON taken
around a known piece of work; DIR/expect.txt says what that work must have
added, one `KEY OP VALUE` a line: KEY is nodeN.field (nodeN.field.subfield for one of
an object's, such as nodeN.verified.pages_checked) or thread.TID.field, OP
`==` or `>=`, and the difference after - before is compared (so the program's
own start-up allocations, made before the first snapshot, do not count).

Also, on after.json alone, what docs/stats.md defines from the other fields:
every node's allocations = local + remote, bytes_live = allocated - freed,
local_pct = local / allocations (one decimal, rounded half up), and the
top-level remote_pct. A node left out of a JSON (it had no count at all:
docs/stats.md) reads as 0 for every field, if the topology lists it.

Parsed with Python's json module: independent of the library's writer.
Several DIRs in one call: under the guest's emulated CPUs, starting Python
costs seconds (run it with -S). Prints one line per finding; exit status 0
when all hold in every DIR, 1 otherwise.
"""
import json
import sys


def tenths(num, den):
    """A percentage with one decimal, rounded half up, as the library's writer does."""
    den = den or 1
    return (num * 1000 + den // 2) // den / 10


def lookup(doc, key):
    parts = key.split(".")
    if parts[0] == "thread":
        for entry in doc.get("threads", []):
            if entry["tid"] == int(parts[1]):
                return entry[parts[2]]
        raise KeyError(f"no thread {parts[1]} in the statistics")
    if parts[0] not in doc and served(doc, int(parts[0][4:])):
        return 0  # a node without counts is left out of the JSON (docs/stats.md)
    value = doc[parts[0]]
    for part in parts[1:]:  # nodeN.verified.pages_checked: a field of an object
        value = value[part]
    return value


def served(doc, node):
    """Whether the statistics' topology lists `node` with memory (a node numa-alloc may serve)."""
    return any(n["id"] == node and n["memory"] for n in doc["topology"]["nodes"])


def check(directory):
    with open(f"{directory}/before.json", encoding="utf-8") as f:
        before = json.load(f)
    with open(f"{directory}/after.json", encoding="utf-8") as f:
        after = json.load(f)
    failures = 0
    checked = 0
    with open(f"{directory}/expect.txt", encoding="utf-8") as f:
        for line in f:
            key, op, want = line.split()
            want = int(want)
            try:
                got = lookup(after, key) - lookup(before, key)
            except KeyError as e:
                print(f"FAIL {directory}: {key}: {e}")
                failures += 1
                continue
            ok = got == want if op == "==" else got >= want
            checked += 1
            if not ok:
                print(f"FAIL {directory}: {key}: grew by {got}, want {op} {want}")
                failures += 1

    nodes = {k: v for k, v in after.items() if k.startswith("node") and k[4:].isdigit()}
    all_allocs = sum(n["allocations"] for n in nodes.values())
    all_remote = sum(n["remote_allocations"] for n in nodes.values())
    for name, n in sorted(nodes.items()):
        derived = [
            ("local + remote", n["local_allocations"] + n["remote_allocations"], n["allocations"]),
            ("bytes_live", n["bytes_live"], n["bytes_allocated"] - n["bytes_freed"]),
            ("local_pct", n["local_pct"], tenths(n["local_allocations"], n["allocations"])),
        ]
        for what, got, want in derived:
            checked += 1
            if got != want:
                print(f"FAIL {directory}: {name}.{what}: {got}, want {want}")
                failures += 1
    checked += 1
    if after["remote_pct"] != tenths(all_remote, all_allocs):
        print(f"FAIL {directory}: remote_pct: {after['remote_pct']}, want {tenths(all_remote, all_allocs)}")
        failures += 1
    for name, n in sorted(nodes.items()):
        print(f"stats_expect: {directory}: {name}: {n['allocations']} allocations, {n['local_pct']}% local, "
              f"{n['remote_frees']} remote frees, fallbacks in/out "
              f"{n['fallbacks_in']}/{n['fallbacks_out']}")
    print(f"stats_expect: {directory}: {checked} values checked, {'FAILED' if failures else 'ok'}")
    return failures


def main():
    if len(sys.argv) < 2:
        print("usage: stats_expect.py DIR...", file=sys.stderr)
        return 2
    failures = 0
    for directory in sys.argv[1:]:
        failures += check(directory)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
