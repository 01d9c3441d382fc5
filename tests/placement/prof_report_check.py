#!/usr/bin/python3
"""prof_report_check.py READER PROFILE... - the report of prof_check's profile, in the guest.

prof_check (tests/placement/prof_check.c) checks the raw profile with dladdr; this
checks what a user reads: `numa-alloc prof --tsv` on the same file, symbolised by
the reader from the recorded maps. Of the profiles given (prof_check's parent
writes one too), the one with the prof_site_* sites must rank the producer site
first by remote bytes, with >= 90% of its freed bytes freed from another node;
the local site <= 5%; the explicit site all `explicit`, on node 1, and not
placed remote (asked for, not a fallback). Exit 0 when all hold.
"""
import csv
import io
import subprocess
import sys


def tsv_rows(reader, path):
    out = subprocess.run([sys.executable, reader, "--tsv", path], check=True,
                         capture_output=True, text=True).stdout
    return list(csv.DictReader(io.StringIO(out), delimiter="\t"))


def main():
    reader, paths = sys.argv[1], sys.argv[2:]
    ours = []
    for path in paths:
        rows = tsv_rows(reader, path)
        if any(r["top_function"].startswith("prof_site_") for r in rows):
            ours.append((path, rows))
    if len(ours) != 1:
        print(f"FAIL: want one profile with the prof_site_* sites, found {len(ours)} "
              f"among {paths}")
        return 1
    path, rows = ours[0]
    site = {r["top_function"]: r for r in rows if r["top_function"].startswith("prof_site_")}
    failures = 0

    def check(what, ok, got):
        nonlocal failures
        print(f"{'ok' if ok else 'FAIL'}: {what} (got {got})")
        failures += not ok

    def share(row, column):
        return float(row[column]) if row and row[column] != "-" else -1.0

    names = [r["top_function"] for r in rows]
    check("the producer site is ranked first by remote bytes",
          rows[0]["top_function"] == "prof_site_producer", names)
    producer, local, explicit = (site.get(f"prof_site_{n}") for n in
                                 ("producer", "local", "explicit"))
    check("producer: >= 90% freed from another node",
          share(producer, "freed_other_node_share") >= 0.9,
          producer and producer["freed_other_node_share"])
    check("local: <= 5% freed from another node",
          0 <= share(local, "freed_other_node_share") <= 0.05,
          local and local["freed_other_node_share"])
    check("explicit: decisions explicit only",
          explicit is not None and explicit["decisions"] == "explicit:1.0000",
          explicit and explicit["decisions"])
    check("explicit: on node 1 only",
          explicit is not None and explicit["bytes_by_node"].startswith("1:")
          and "," not in explicit["bytes_by_node"], explicit and explicit["bytes_by_node"])
    check("explicit: not placed remote", share(explicit, "placed_remote_share") == 0.0,
          explicit and explicit["placed_remote_share"])
    print(f"{path}: {len(rows)} sites; {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
