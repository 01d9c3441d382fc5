#!/usr/bin/env bash
# fastpath.sh LIBRARY [SKIP_REASON] - the size of malloc's and free's fast paths
# (docs/architecture.md), read from the built library, against stated limits.
#
# What is counted: the instructions of the exported function (malloc, free,
# calloc) as objdump disassembles it, nop padding left out, plus those of every
# piece the compiler split off it (a symbol with a '.': malloc.cold,
# free.part.0, alloc_fast.constprop.0, ...; not an alias of a whole function,
# foo.localalias) that it jumps to or calls. Why the
# whole function and not the path of a cache hit: the slow paths are functions
# of their own (NA_NOINLINE, most in other files; base/compiler.h), so what is
# left in malloc and free IS the fast path plus its branches to those calls.
# Whatever gets inlined into them grows this count, whether the compiler puts
# it on the hit path or in a .cold piece; following a "hit path" would need to
# guess which branch is taken and would miss code moved out of line.
# Guards: the function or one of its pieces must return (a ret), else its body
# went elsewhere (a tail call to a function without a '.') and a small count
# would mean nothing; and the library must have its symbol table (not
# stripped), without which the pieces cannot be told apart.
#
# The limits hold for the Release build with GCC on x86-64 (CMake passes
# SKIP_REASON otherwise: other builds print their counts and exit 77, skipped).
# A change that grows a count past its limit fails: move the new work to a slow
# path, or, if it belongs on the fast path, raise the limit here and in
# docs/architecture.md with the reason.
set -euo pipefail

# function:limit. Counts on 2026-12-02 (GCC 12.2, Debian 12): malloc 28 (35 before round
# fourteen's route key), free 54, calloc 49 (56 before; docs/architecture.md); the limits
# leave a few instructions for compiler noise.
limits=(malloc:30 free:60 calloc:51)

lib=${1:?usage: fastpath.sh LIBRARY [SKIP_REASON]}
skip=${2:-}
objdump=${OBJDUMP:-objdump}
command -v "$objdump" >/dev/null || {
    echo "fastpath: $objdump not found (binutils)" >&2
    exit 1
}
if ! "$objdump" -t "$lib" | grep ' F .text' >/dev/null; then
    echo "fastpath: $lib has no symbol table (stripped?): cannot tell the pieces apart" >&2
    exit 1
fi

# Prints "function total own pieces returns" for each function named on the command line
# (total -1: not in the library).
count() {
    "$objdump" -d --no-show-raw-insn "$lib" | awk -v want="$*" '
        /^[0-9a-f]+ <[^>]+>:$/ {
            sym = $2; gsub(/^<|>:$/, "", sym)
            # the __libc_ names and cfree are aliases of ours (interpose/malloc.c): objdump may pick one
            sub(/^__libc_/, "", sym); if (sym == "cfree") sym = "free"
            n[sym] = 0; next
        }
        /^ +[0-9a-f]+:\t/ && sym != "" {
            text = $0; sub(/^ +[0-9a-f]+:\t/, "", text)
            split(text, w, /[ \t]+/)
            i = 1
            while (w[i] ~ /^(addr32|data16|cs|ds|rep|repz|repnz|lock|bnd|notrack)$/) i++
            op = w[i]
            if (op ~ /^nop/ || text ~ /^xchg +%ax,%ax$/ || op == "(bad)") next
            n[sym]++
            if (op ~ /^ret/) ret[sym] = 1
            # A direct jump or call: its target symbol, before any +offset.
            if (op ~ /^(j|call)/ && match(text, /<[^>+]+/)) {
                t = substr(text, RSTART + 1, RLENGTH - 1)
                if (t != sym && t ~ /\./ && t !~ /@|\.localalias$/) to[sym] = to[sym] " " t
            }
        }
        END {
            nf = split(want, fs, " ")
            for (f = 1; f <= nf; f++) {
                fn = fs[f]
                if (!(fn in n)) { print fn, -1, 0, "-", 0; continue }
                delete seen; seen[fn] = 1; queue[1] = fn; qn = 1; total = 0; pieces = ""; returns = 0
                for (q = 1; q <= qn; q++) {
                    s = queue[q]; total += n[s]; returns += (s in ret)
                    if (s != fn) pieces = pieces (pieces == "" ? "" : ",") s "=" n[s]
                    k = split(to[s], ts, " ")
                    for (j = 1; j <= k; j++)
                        if (!(ts[j] in seen) && (ts[j] in n)) { seen[ts[j]] = 1; queue[++qn] = ts[j] }
                }
                print fn, total, n[fn], (pieces == "" ? "-" : pieces), returns
            }
        }'
}

names=()
for entry in "${limits[@]}"; do names+=("${entry%%:*}"); done
fail=0
reported=0
while read -r fn total own pieces returns; do
    reported=$((reported + 1))
    limit=
    for entry in "${limits[@]}"; do [[ ${entry%%:*} == "$fn" ]] && limit=${entry#*:}; done
    if ((total < 0)); then
        echo "FAIL: $fn: not found in $lib"
        fail=1
        continue
    fi
    line="$fn: $total instructions ($own in $fn itself; split off: $pieces), limit $limit"
    if ((returns == 0)); then
        echo "FAIL: $line: no ret in it or its pieces, the fast path is elsewhere"
        fail=1
    elif [[ -n $skip ]]; then
        echo "not checked: $line"
    elif ((total > limit)); then
        echo "FAIL: $line: the fast path grew (something was inlined into it?)"
        fail=1
    else
        echo "ok: $line"
    fi
done < <(count "${names[@]}")
if ((reported != ${#names[@]})); then
    echo "FAIL: $objdump -d $lib: ${reported} of ${#names[@]} functions read"
    fail=1
fi

# malloc's pop prefetches the block the next pop takes (cache_bin_pop_head in
# core/thread_cache.h): a batch of remote frees is in another core's cache,
# and the prefetch is what hides the transfer (docs/benchmarks.md, round eight).
prefetches=$("$objdump" -d --no-show-raw-insn "$lib" |
    awk '/^[0-9a-f]+ <(__libc_)?malloc>:$/ { on = 1; next } /^[0-9a-f]+ <.*>:$/ { on = 0 }
         on && /\tprefetch/ { n++ } END { print n + 0 }')
if [[ -z $skip ]] && ((prefetches == 0)); then
    echo "FAIL: malloc: no prefetch of the next block (cache_bin_pop_head)"
    fail=1
fi

if [[ -n $skip ]]; then
    echo "fastpath: limits not checked: $skip (they hold for the Release build, GCC, x86-64)"
    exit 77
fi
exit $fail
