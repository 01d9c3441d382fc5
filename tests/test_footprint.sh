#!/usr/bin/env bash
# test_footprint.sh LIBRARY PROBE [SHIM] - the library's start-up footprint stays within its
# budget (docs/architecture.md, *Footprint*): the pages it writes in its own mappings
# (.data, RELRO, .bss; their anonymous pages, the same on every run) for a program that
# allocates nothing itself, and for one that allocates a few hundred small blocks.
# The file pages (text) and the peak RSS against glibc are printed, not checked:
# they move with the load address and the page cache (bench/footprint.sh).
# And a young heap gives freed page runs back at once, up to its budget (core/purge.c,
# PURGE_YOUNG_MS, PURGE_YOUNG_BYTES 2 MiB): of 1.5 MiB freed first, half must leave the
# resident set (statm is read from the kernel's per-CPU counters: up to 124 KiB off); of
# 6.5 MiB freed then, at least 4 MiB must stay (the budget spent). A huge
# object freed spends the budget at once: 16 MiB freed must stay resident (the delay);
# so does a block larger than 256 KiB (PURGE_YOUNG_BLOCK_MAX): 1 MiB freed must stay.
# With SHIM (tests/string_shim.c), `true` under the library must make no call to the C
# library's string functions (base/bytes.h): they would fault in libc text it lacks.
# The functions start-up runs lie first in the text, in .text.na_startup, and the
# malloc family's entry points and slow paths next, in .text.na_malloc
# (cmake/startup-text.ld): both sections must be in the library, within
# FOOTPRINT_STARTUP_TEXT_KIB (default 24) and FOOTPRINT_MALLOC_TEXT_KIB (default 40;
# 0 for the first: the build links without the script, nothing checked), that both and
# the constants after them (.rodata.na_early, FOOTPRINT_EARLY_RODATA_KIB, default 8)
# end within the text's first 64 KiB (FOOTPRINT_ONE_WINDOW=0: not checked), that the
# variables start-up writes are gathered in .bss.na_hot (FOOTPRINT_HOT_BSS_KIB, default 96), that
# start-up faults in nothing of the read-only segment after the text, that it makes at
# most FOOTPRINT_DATA_KIB (default 4) of .data and FOOTPRINT_HEAD_KIB (default 8) of the
# segment before the text (headers, symbols, relocations) resident, and the
# functions named below must lie in them (a section pattern that stopped matching:
# the at-exit writers are in .text.exit.NAME, which the script once missed).
# The library's writable segment (.data and .bss: writable memory of every process that
# loads it, which ulimit -d and vm.overcommit_memory=2 count, touched or not) is at most
# FOOTPRINT_WRITABLE_KIB (default 384): the statistics' buffers are mapped when first
# written (core/stats.h, stats_workspace); in .bss they made it 870 KiB.
set -uo pipefail
lib=$1 probe=$2 shim=${3:-}
budget_kib=${FOOTPRINT_BUDGET_KIB:-64}
startup_text_kib=${FOOTPRINT_STARTUP_TEXT_KIB:-24}
malloc_text_kib=${FOOTPRINT_MALLOC_TEXT_KIB:-40}
early_rodata_kib=${FOOTPRINT_EARLY_RODATA_KIB:-8}
data_kib=${FOOTPRINT_DATA_KIB:-4}
head_kib=${FOOTPRINT_HEAD_KIB:-8}
hot_bss_kib=${FOOTPRINT_HOT_BSS_KIB:-96}
writable_kib=${FOOTPRINT_WRITABLE_KIB:-384}
one_window=${FOOTPRINT_ONE_WINDOW:-1} # 0: the 64 KiB check is off (a debug build's text is larger)
fail=0
# run_probe MODE: runs the probe under the library; its one line goes to $line (a failed run
# ends the test: a layout it assumes changed, or the library did not load).
run_probe() {
    line=$(LD_PRELOAD=$lib "$probe" "$1") || {
        echo "FAIL: $probe $1 under the preload: status $?" >&2
        exit 1
    }
}
# at_most VALUE LIMIT WHAT: a failure ("FAIL: WHAT") when VALUE is over LIMIT.
at_most() {
    if (($1 > $2)); then
        echo "FAIL: $3" >&2
        fail=1
    fi
}
# section_check NAME LIMIT_KIB FUNCTION...: the section's size, and each FUNCTION within it.
section_check() {
    local name=$1 limit=$2 line addr size
    shift 2
    line=$(${READELF:-readelf} -SW "$lib" | sed 's/^ *\[ *[0-9]*\] *//' |
        awk -v n="$name" '$1 == n {print $3, $5}') # (name type address offset size)
    if [[ -z $line ]]; then
        echo "FAIL: $lib has no $name section (cmake/startup-text.ld not linked?)" >&2
        fail=1
        return
    fi
    read -r addr size <<<"$line"
    echo "$name: $((16#$size)) bytes (limit $limit KiB)"
    if ((16#$size > limit * 1024)); then
        echo "FAIL: $name is $((16#$size)) bytes, over $limit KiB: see cmake/startup-text.ld" >&2
        fail=1
    fi
    local fn at
    for fn in "$@"; do
        at=$(${NM:-nm} "$lib" | awk -v f="$fn" '$3 == f && $2 ~ /^[tT]$/ {print $1; exit}')
        if [[ -z $at ]]; then
            echo "FAIL: no function $fn in $lib" >&2
            fail=1
        elif ((16#$at < 16#$addr || 16#$at >= 16#$addr + 16#$size)); then
            echo "FAIL: $fn (at 0x$at) is not in $name: see cmake/startup-text.ld" >&2
            fail=1
        fi
    done
}
writable=$(${READELF:-readelf} -lW "$lib" | awk '$1 == "LOAD" && $7 == "RW" {print $6; exit}')
at_most $((${writable:-0} / 1024)) "$writable_kib" \
    "the writable segment is $((${writable:-0} / 1024)) KiB, over $writable_kib: a large buffer in .bss?"
((${writable:-0} > 0)) || { echo "FAIL: no writable segment found in $lib" >&2; fail=1; }
if ((startup_text_kib > 0)); then
    section_check .text.na_startup "$startup_text_kib" init_once options_init stats_file_at_exit \
        frame_dummy
    section_check .text.na_malloc "$malloc_text_kib" malloc free calloc realloc posix_memalign \
        heap_refill heap_flush_some page_run_alloc alloc_realloc prof_first_pops
    section_check .rodata.na_early "$early_rodata_kib"
    # The variables start-up writes, gathered right after .data (base/compiler.h,
    # NA_HOT_BSS): without the section they lie among the rest of .bss, 10 pages where
    # they fill 6 (the dirty budget below then fails too). Sized: nothing large in it.
    section_check .bss.na_hot "$hot_bss_kib"
    # With segments aligned to 64 KiB (CMakeLists.txt: -z max-page-size), both sections must
    # end within the text segment's first 64 KiB: one fault-around window.
    read -r text_at text_align < <(${READELF:-readelf} -lW "$lib" |
        awk '$1 == "LOAD" && / R E / {print $3, $NF; exit}') # (type offset vaddr ... R E align)
    malloc_end=$(${READELF:-readelf} -SW "$lib" | sed 's/^ *\[ *[0-9]*\] *//' |
        awk '$1 == ".rodata.na_early" {print $3, $5}')
    if [[ -n $text_at && -n $malloc_end ]] && ((text_align >= 0x10000 && one_window)); then
        read -r at size <<<"$malloc_end"
        used=$((16#$at + 16#$size - text_at))
        echo "start-up and slow-path text and their constants: the text's first $used bytes (limit 65536)"
        if ((used > 65536)); then
            echo "FAIL: .rodata.na_early ends $used bytes into the text, past its first 64 KiB window: trim cmake/startup-text.ld or build more of it for size" >&2
            fail=1
        fi
        # And every function `true` runs with the library lies in that window: one outside
        # (policy/verify.c's query_next, left out of the lists when its code changed) made
        # the next 64 KiB of text resident in every program (`true`: +64 KiB VmHWM).
        # tools/text_layout.sh rewrites the lists; gdb traces (tools/packages.txt).
        if ! command -v gdb >/dev/null; then
            echo "FAIL: gdb not found (tools/packages.txt): the start-up trace cannot run" >&2
            fail=1
        else
            here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
            traced=0
            declare -A address=()
            while read -r at kind fn; do
                [[ $kind == [tT] ]] && address[$fn]=$at
            done < <(${NM:-nm} "$lib")
            while read -r fn; do
                at=${address[$fn]:-}
                [[ -n $at ]] || continue
                traced=$((traced + 1))
                if ((16#$at - text_at >= 65536)); then
                    echo "FAIL: \`true\` runs $fn (at 0x$at), outside the text's first 64 KiB: run tools/text_layout.sh" >&2
                    fail=1
                fi
            done < <("$here/tools/startup_trace.sh" "$lib")
            echo "start-up trace of true: $traced functions, each checked within the first 64 KiB"
            if ((traced < 20)); then
                echo "FAIL: the start-up trace named $traced functions: it did not run" >&2
                fail=1
            fi
        fi
    fi
fi
for blocks in 0 300; do
    run_probe "$blocks"
    read -r _ dirty _ rss _ text _ rodata _ data _ head <<<"$line"
    echo "blocks $blocks: library dirty $dirty KiB (budget $budget_kib), resident $rss KiB, text $text KiB, read-only data past the text $rodata KiB, .data $data KiB (limit $data_kib), headers and relocations $head KiB (limit $head_kib)"
    if ((dirty > budget_kib)); then
        echo "FAIL: the library wrote $dirty KiB of its own pages, over its $budget_kib KiB budget" >&2
        fail=1
    fi
    # The constants start-up reads lie in the text's window (.rodata.na_early): a file
    # left out of it whose constants start-up reads faults in the whole segment after
    # the text (28 KiB, .eh_frame's included).
    if ((startup_text_kib > 0 && rodata != 0)); then
        echo "FAIL: $rodata KiB of the library's read-only segment after the text resident after start-up: a constant outside .rodata.na_early (cmake/startup-text.ld's EXCLUDE_FILE) was read" >&2
        fail=1
    fi
    # The initialised variables start-up touches share one page of .data: a big one among
    # them (na_options held its two 4 KiB path buffers: 12 KiB) spreads them over more.
    at_most "$data" "$data_kib" \
        "start-up made $data KiB of the library's .data resident, over $data_kib KiB: a big initialised object among the small ones (policy/options.h, na_stats_path)"
    # The segment before the text (headers, .dynsym, .rela.dyn) is read by the loader in
    # every process: 12 KiB before the relative relocations were packed (CMakeLists.txt).
    at_most "$head" "$head_kib" \
        "the library's segment before its text is $head KiB resident, over $head_kib KiB: relocations not packed (-z pack-relative-relocs), or more exported symbols?"
done
# A thread's exit merges its counts into the exited threads' totals (core/thread_cache.h,
# struct retired_threads: 57 KiB sized for every slot): the totals and the first slots'
# entries share a page, and the per-slot numa_malloc counts are written only when there
# are some. 48 KiB with the totals after the arrays (three pages written at the exit).
thread_kib=${FOOTPRINT_THREAD_KIB:-$((budget_kib + 4))}
run_probe thread
read -r _ dirty _ <<<"$line"
echo "a thread exited: library dirty $dirty KiB (limit $thread_kib)"
at_most "$dirty" "$thread_kib" "after a thread's exit the library wrote $dirty KiB of its own pages, over $thread_kib KiB"
run_probe young
read -r _ _ freed _ fell _ more _ more_fell _ ms <<<"$line"
echo "young: freed $freed KiB, resident fell $fell KiB; then $more KiB, fell $more_fell KiB; $ms ms after start"
if ((ms >= 500)); then
    echo "young: the probe took $ms ms (a loaded machine), past the window it tests: not checked"
elif ((fell < freed / 2)); then
    echo "FAIL: $freed KiB freed ${ms} ms after start, resident fell by $fell KiB only: a young heap purges at once" >&2
    fail=1
elif ((more_fell > more - 4096)); then
    echo "FAIL: $more KiB freed past the young budget, resident fell by $more_fell KiB: the budget (2 MiB) did not hold" >&2
    fail=1
fi
# With the profile on there is no young window (core/purge.c, purge_init): its
# sampled blocks are page runs freed and made again all along.
prof_dir=$(mktemp -d)
line=$(NUMA_ALLOC_PROF="$prof_dir/p.%p" LD_PRELOAD=$lib "$probe" young) || {
    echo "FAIL: $probe young with NUMA_ALLOC_PROF: status $?" >&2
    exit 1
}
rm -rf "$prof_dir"
read -r _ _ freed _ fell _ _ _ _ _ ms <<<"$line"
echo "young with the profile on: freed $freed KiB, resident fell $fell KiB, $ms ms after start"
if ((fell > freed / 4)); then
    echo "FAIL: $freed KiB freed with NUMA_ALLOC_PROF set, resident fell by $fell KiB: no young purge with the profile on" >&2
    fail=1
fi
for kind in huge large; do
    run_probe "young-$kind"
    read -r _ _ freed _ fell _ ms <<<"$line"
    echo "young-$kind: freed $freed KiB, resident fell $fell KiB, $ms ms after start"
    if ((ms < 500 && fell > freed / 4)); then
        echo "FAIL: a $kind block of $freed KiB freed young, resident fell by $fell KiB: it must end the young window" >&2
        fail=1
    fi
done
true_bin=$(type -P true || true)
if [[ -n $shim && -n $true_bin ]]; then
    line=$(LD_PRELOAD="$shim:$lib" "$true_bin" 2>&1 >/dev/null)
    echo "true: $line"
    if [[ $line != "string calls 0" ]]; then
        echo "FAIL: start-up calls the C library's string functions ($line): see base/bytes.h" >&2
        fail=1
    fi
fi
# Short-lived threads (footprint_probe short-threads: 500 rounds of 2 threads, 256 blocks of
# 16..2048 B each, 4 of which outlive their thread): each (shard, class) of the heap keeps
# resident the most pages it ever had in use at once. Measured 980 KiB; 1212 with bins at
# their full bound from a thread's start (struct cache_bin: young bins), 1388 when blocks
# freed after their thread exited also waited in away lists (struct away_list).
short_kib=${FOOTPRINT_SHORT_THREADS_KIB:-1100}
run_probe short-threads
read -r _ _ resident _ segments <<<"$line"
echo "short-threads: $resident KiB resident in the threads' $segments segment(s) (limit $short_kib)"
at_most "$resident" "$short_kib" \
    "short-lived threads left $resident KiB of slab pages resident, over $short_kib KiB"
# Many threads live at once, each holding a block of 1 KiB and one of 2 KiB (footprint_probe
# many-threads: 256 threads): a young bin's first refill brings at most 1 KiB of blocks (struct
# cache_bin) and a node cache is one page (NODE_CACHE_BYTES_MAX: its away lists made on first
# use), so each thread touches that page and its two blocks. Measured 1708 KiB (6.7 a thread);
# 2172 with the away lists inside the cache (6 KiB), 4476 when the first refill brought 4
# blocks of each class.
many_kib=${FOOTPRINT_MANY_THREADS_KIB:-1920}
run_probe many-threads
read -r _ _ resident _ threads <<<"$line"
echo "many-threads: $resident KiB resident in the segments of $threads threads' blocks (limit $many_kib)"
at_most "$resident" "$many_kib" \
    "$threads threads holding two blocks each left $resident KiB resident, over $many_kib KiB"
# A burst of threads leaves a spare slab of each class in each shard it used (footprint_probe
# idle-shards: 16 threads, 8 classes); once a shard has had no thread for the purge delay, a
# live thread's visit of its bins gives them back (sweep_idle_shards). Measured 9408 KiB active
# at the join, 192 after 150 ms with a delay of 50 ms; with the default delay (1 s) all kept at
# 150 ms, for the next short-lived thread to find (given back as the last thread left,
# short-threads took 1.19x the time).
NUMA_ALLOC_PURGE_DELAY_MS=50 run_probe idle-shards
read -r _ _ at_join _ after _ threads <<<"$line"
echo "idle-shards: $at_join KiB active at the join of $threads threads, $after KiB after the delay"
if ((at_join < 2048)); then
    echo "FAIL: $threads threads left only $at_join KiB active: the probe no longer makes spares" >&2
    fail=1
fi
at_most "$after" "$((at_join / 4))" \
    "the spare slabs of shards without threads stayed: $after KiB active of $at_join after the delay"
run_probe idle-shards
read -r _ _ at_join _ after _ <<<"$line"
echo "idle-shards (default delay): $at_join KiB active at the join, $after KiB 150 ms later"
at_most "$((at_join * 3 / 4))" "$after" \
    "spare slabs went back within the delay: $after KiB active of $at_join 150 ms after the join"
# A fork child has one thread: the shards of its parent's other threads give back their spares
# after the delay (footprint_probe idle-shards-fork: 16 threads with blocks of 1 to 8 KiB, alive
# at the fork). Measured 14528 KiB active at the fork, 11456 after (what stays lies in the
# parent's threads' bins, which the child cannot reach); 14528 without.
NUMA_ALLOC_PURGE_DELAY_MS=50 run_probe idle-shards-fork
read -r _ _ at_fork _ after _ threads <<<"$line"
echo "idle-shards-fork: $at_fork KiB active in the child at the fork, $after KiB after the delay"
at_most "$after" "$((at_fork - at_fork / 8))" \
    "a fork child kept its parent's threads' spare slabs: $after KiB active of $at_fork after the delay"
# Slabs far apart write few pages of their segment's header (core/layout.h, span_index:
# descriptors handed out lowest first; map_pool: their bitmaps together): one block of each
# of 25 classes from 1 to 8 KiB. Measured 12 KiB (the page map, the descriptors and the
# pool); 24 with the bitmaps at their head pages' words of free_map, 44 with the
# descriptors indexed by page too.
spread_kib=${FOOTPRINT_SPREAD_HEADER_KIB:-16}
run_probe spread-slabs
read -r _ _ header _ classes <<<"$line"
echo "spread-slabs: $header KiB of the segment header resident for $classes slabs (limit $spread_kib)"
at_most "$header" "$spread_kib" \
    "$classes slabs left $header KiB of their segment's header resident, over $spread_kib KiB"
# A lone thread's refills write nothing past the blocks they hand out (touch_next_page,
# core/node_heap.c, writes the next free block only with other threads alive). Measured 224
# KiB for 25 classes of 1 to 8 KiB, one block each; 280 when the refills wrote ahead.
# The same after another thread allocated and exited: the main thread is alone again.
lone_kib=${FOOTPRINT_LONE_TAILS_KIB:-240}
for mode in lone-tails lone-tails-after-thread; do
    run_probe $mode
    read -r _ _ resident _ classes <<<"$line"
    echo "$mode: $resident KiB resident around $classes blocks of a lone thread (limit $lone_kib)"
    at_most "$resident" "$lone_kib" \
        "$mode: a lone thread's $classes refills left $resident KiB resident, over $lone_kib KiB"
done
# A young program's mid-size blocks share the pages of its node's young arena
# (core/young_arena.h): one of each class from 513 B to 4 KiB, 24 classes and 43 KiB, lie
# on 12 pages, against 24 in their slabs once malloc_trim closed the arena (each class a
# slab of its own). The check fails without the arena: the pages must not pass the bytes'
# own by more than two, while the slabs' must (or the probe tells nothing).
run_probe young-arena
read -r _ _ pages _ bytes_kib _ closed_pages _ classes <<<"$line"
echo "young-arena: $classes mid-size classes, $bytes_kib KiB, on $pages pages ($closed_pages in slabs)"
packed=$(((bytes_kib + 3) / 4 + 2))
at_most "$pages" $packed \
    "young-arena: $classes mid-size blocks of $bytes_kib KiB lie on $pages pages: the arena does not pack them"
if ((closed_pages <= packed)); then
    echo "FAIL: young-arena: in slabs, the same blocks lie on $closed_pages pages only: the probe cannot tell" >&2
    fail=1
fi
# A lone thread's heap: every class of whole cache lines up to 8 KiB, each a new slab
# (tests/footprint_probe.c, heap-struct). Its refills read the other shards' class_slabs
# only where remote frees are parked (core/node_heap.h, parked_shards): measured 8 KiB of
# the heap's 152; reading all 31 others on each new slab made 148 KiB resident.
# The same after a fork and after malloc_trim, which lock the class_slabs of the shards
# threads ever had only (core/thread_cache.h, na_shards_used): all 32, 148 KiB.
# A debug build's whole-heap check (numa_alloc_debug_check) locks those shards only too:
# it locked all 32 (148 KiB).
heap_kib=${FOOTPRINT_HEAP_STRUCT_KIB:-24}
heap_modes="heap-struct heap-struct-fork heap-struct-trim"
if [[ ${FOOTPRINT_DEBUG_CHECK:-0} == 1 ]]; then
    heap_modes+=" heap-struct-check"
fi
for mode in $heap_modes; do
    run_probe $mode
    read -r _ _ resident _ mapped <<<"$line"
    echo "$mode: $resident KiB of the node heap's $mapped resident (limit $heap_kib)"
    at_most "$resident" "$heap_kib" \
        "$mode: a lone thread's heap has $resident KiB resident, over $heap_kib KiB"
done
# An emptied slab freed young waits the delay and spends no young budget (core/purge.c;
# layout.h, struct span, emptied): of 4 MiB of small blocks freed, at most 1 MiB may leave
# the resident set (a thread cache's flushes, statm's slack). A 128 KiB block freed then
# between their slabs must go at once (half of it at least), and without them (at most
# 1 MiB more); of 1.5 MiB of large blocks freed last, half must go (the budget unspent).
run_probe young-slabs
read -r _ _ freed _ fell _ beside _ beside_fell _ more _ more_fell _ ms <<<"$line"
echo "young-slabs: freed $freed KiB, resident fell $fell KiB; beside $beside KiB, fell $beside_fell KiB; then $more KiB, fell $more_fell KiB; $ms ms after start"
if ((ms >= 500)); then
    echo "young-slabs: the probe took $ms ms (a loaded machine), past the window it tests: not checked"
elif ((fell > freed / 4)); then
    echo "FAIL: $freed KiB of small blocks freed young, resident fell by $fell KiB: emptied slabs must wait the delay" >&2
    fail=1
elif ((beside_fell < beside / 2)); then
    echo "FAIL: a $beside KiB block freed young between emptied slabs, resident fell by $beside_fell KiB only: it must go at once" >&2
    fail=1
elif ((beside_fell > beside + freed / 4)); then
    echo "FAIL: a $beside KiB block freed young between emptied slabs, resident fell by $beside_fell KiB: the slabs went with it" >&2
    fail=1
elif ((more_fell < more / 2)); then
    echo "FAIL: $more KiB of large blocks freed after emptied slabs, resident fell by $more_fell KiB only: slabs spent the young budget" >&2
    fail=1
fi
exit $fail
