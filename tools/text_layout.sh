#!/usr/bin/env bash
# tools/text_layout.sh [BUILD_DIR] - regenerates the two function lists of
# cmake/startup-text.ld (and writes its .rodata.na_early section) from traces (tools/startup_trace.sh) of the library in
# BUILD_DIR (default build; built with the benchmarks) under real programs:
#   .text.na_startup: what `true` runs (start-up and exit);
#   .text.na_malloc:  every exported malloc-family function, then, by name,
#                     what the programs below run beyond `true` and the fork
#                     handlers (they run in a child, which the trace does not
#                     follow).
# Rebuild after it, and run it again until it changes nothing: what is inlined
# depends on the flags, and the traces name what is not. Needs gdb, git,
# sqlite3, python3 (those the benchmarks run); a missing one is left out.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(realpath "${1:-$root/build}")
lib=$build/libnumapreload.so
script=$root/cmake/startup-text.ld
trace=$root/tools/startup_trace.sh
[[ -f $lib ]] || { echo "text_layout: no $lib" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The files whose constants only the statistics, the profile and the introspection calls
# read (at exit, or when a program asks): their .rodata stays in the read-only segment
# after the text, which nothing else then faults in (cmake/startup-text.ld's header).
REPORTING_OBJECTS='*stats.c.o *stats_openmetrics.c.o *stats_file.c.o *prof.c.o *counters_api.c.o *introspection.c.o'

# The base name of a function: GCC's clones (NAME.isra.0, .constprop.0, .part.0, .cold) are NAME's,
# and glibc's other names that are aliases of ours (__libc_malloc, cfree: interpose/malloc.c,
# no section of their own) are the functions' own.
base_names() {
    sed -E -e 's/\.(isra|constprop|part|cold)(\.[0-9]+)?.*$//' -e 's/^__libc_//' -e 's/^cfree$/free/' |
        awk 'NF && !seen[$0]++'
}

"$trace" "$lib" | base_names >"$tmp/startup"

cat >"$tmp/aligned.c" <<'C'
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
int main(void)
{
    size_t align[] = {16, 64, 4096, 65536, 1 << 21};
    for (int i = 0; i < 5; i++)
        for (size_t size = 8; size < (1 << 22); size *= 3) {
            void *p;
            if (posix_memalign(&p, align[i], size) == 0) {
                memset(p, 1, 8);
                free(p);
            }
            free(aligned_alloc(align[i], size));
            free(realloc(memalign(align[i], size), size * 2));
        }
    free(valloc(100));
    free(pvalloc(100));
    free(realloc(malloc(3 << 20), 9 << 20));
    free(calloc(1, 5 << 20));
    return 0;
}
C
cc -O1 -o "$tmp/aligned" "$tmp/aligned.c"

bench=$build/bench/numa_bench
run() { # COMMAND ARGS...: its trace appended, unless COMMAND is missing
    command -v "$1" >/dev/null || { echo "text_layout: no $1, left out" >&2; return 0; }
    "$trace" "$lib" "$@" >>"$tmp/traces"
}
# The interpreter itself, not a wrapper script (pyenv's shims are shell scripts gdb cannot run).
python=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || true)
run "${python:-python3}" -c pass
run "${python:-python3}" -c 'import threading; t = threading.Thread(target=lambda: [bytearray(i * 100) for i in range(3000)]); t.start(); t.join()'
run git --version
run sqlite3 :memory: .q
run bash -c 'x=$(echo hi); echo "$x"'
for workload in realloc-chain larson-2t short-threads huge; do
    run "$bench" --quick --run=$workload
done
run "$tmp/aligned"
# The entry points first, then the rest by name: threads make the order of first calls vary
# from run to run, and within one 64 KiB window the order matters little.
# Run by the traces, but left outside the window: each comes with page faults of its own that
# dwarf one of text. Huge objects (over 2 MiB: 512 pages each); a large block grown in place
# (its new pages); a free page run reused where the node's memory is checked (a run of dirty
# pages); remote frees drained from their parking (a program of many threads); the young
# arena's close and what gives its pages back after it (once a process, then on frees of
# its last blocks: core/young_arena.h).
outside=(heap_alloc_huge heap_free_huge heap_resize_huge huge_grow_out
    page_run_resize heap_commit_check heap_commit_check_dirty commit_taken node_memory_plenty
    parked_drain close_arena purge_inside purge_free_chunk)
entries=(malloc free calloc realloc reallocarray posix_memalign aligned_alloc memalign valloc
    pvalloc malloc_usable_size free_sized free_aligned_sized)
{
    printf '%s\n' "${entries[@]}"
    {
        base_names <"$tmp/traces"
        nm "$lib" | awk '$2 ~ /^[tT]$/ && $3 ~ /fork_(child|parent|prepare)/ {print $3}'
    } | base_names | LC_ALL=C sort
} | base_names | grep -vxFf "$tmp/startup" | grep -vxFf <(printf '%s\n' "${outside[@]}") >"$tmp/malloc" || true

# section NAME FILE: the output section of the functions in FILE, one input line each.
section() {
    printf '  %s :\n  {\n' "$1"
    [[ $1 == .text.na_startup ]] && printf '    /* %s */\n    %s\n' \
        "The C runtime's own: frame_dummy (init_array) and __do_global_dtors_aux (fini_array)." \
        '*crtbegin*.o(.text .text.*)'
    awk '{printf "    *(.text.%s .text.%s.* .text.unlikely.%s .text.unlikely.%s.* .text.startup.%s .text.hot.%s .text.exit.%s)\n", $1, $1, $1, $1, $1, $1, $1}' "$2"
    printf '  }\n'
}
{
    sed '/^SECTIONS$/,$d' "$script"
    printf 'SECTIONS\n{\n'
    section .text.na_startup "$tmp/startup"
    printf "  /* The malloc family's entry points and slow paths (the second list above). */\n"
    section .text.na_malloc "$tmp/malloc"
    printf '%s\n' "  /* The constants all but the reporting files read (the header: .rodata.na_early). */" \
        '  .rodata.na_early :' '  {' \
        "    EXCLUDE_FILE($REPORTING_OBJECTS) *(.rodata .rodata.*)" '  }'
    printf '}\nINSERT BEFORE .text;\n'
    # What follows the text's sections (the start-up variables' .bss.na_hot) is kept as it is.
    sed '1,/^INSERT BEFORE \.text;$/d' "$script"
} >"$tmp/script"
if cmp -s "$tmp/script" "$script"; then
    echo "text_layout: $script unchanged ($(wc -l <"$tmp/startup") + $(wc -l <"$tmp/malloc") functions)"
else
    cp "$tmp/script" "$script"
    echo "text_layout: $script rewritten ($(wc -l <"$tmp/startup") + $(wc -l <"$tmp/malloc") functions): rebuild, run again"
fi
