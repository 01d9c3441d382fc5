#!/usr/bin/env bash
# test_footprint.sh LIBRARY PROBE - the library's start-up footprint stays within its
# budget (docs/architecture.md, *Footprint*): the pages it writes in its own mappings
# (.data, RELRO, .bss; their anonymous pages, the same on every run) for a program that
# allocates nothing itself, and for one that allocates a few hundred small blocks.
# The file pages (text) and the peak RSS against glibc are printed, not checked:
# they move with the load address and the page cache (bench/footprint.sh).
set -uo pipefail
lib=$1 probe=$2
budget_kib=${FOOTPRINT_BUDGET_KIB:-96}
fail=0
for blocks in 0 300; do
    line=$(LD_PRELOAD=$lib "$probe" "$blocks") || {
        echo "FAIL: $probe $blocks under the preload: status $?" >&2
        exit 1
    }
    read -r _ dirty _ rss _ text <<<"$line"
    echo "blocks $blocks: library dirty $dirty KiB (budget $budget_kib), resident $rss KiB, text $text KiB"
    if ((dirty > budget_kib)); then
        echo "FAIL: the library wrote $dirty KiB of its own pages, over its $budget_kib KiB budget" >&2
        fail=1
    fi
done
exit $fail
