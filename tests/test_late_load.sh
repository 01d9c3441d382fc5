#!/usr/bin/env bash
# test_late_load.sh PROBE PLUGIN LIB CANONICAL - numa-alloc loaded by dlopen, as a plugin's dependency,
# in a program whose malloc is glibc's: numa_malloc serves, one line says that the
# program's free() is not numa-alloc's (it would abort on the blocks), and the library's
# own free takes them back. Preloaded, the same program hears nothing; behind another
# allocator preloaded first (jemalloc), it hears the line. CANONICAL: the probe built so
# that it holds free's canonical PLT entry (not PIE; Debian's python3 is such a program),
# which dlsym returns for free: preloaded, nothing is said there either.
set -u
probe=$1 plugin=$2 lib=$3 canonical=$4
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# shellcheck source=tests/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/check.sh"
line="numa-alloc: not the program's malloc (loaded by dlopen, or after another allocator): its free() aborts on numa_malloc's blocks; preload numa-alloc or link the program with it, or free them with the library's own free (dlsym(handle, \"free\"))"

"$probe" "$plugin" >"$out/stdout" 2>"$out/stderr"
check "loaded by dlopen: numa_malloc serves, the library's free takes the blocks" \
    grep -qx "served, freed with the library's free; the program's malloc is another" "$out/stdout"
check "... and one line says the program's free is another's" \
    test "$(grep -cxF "$line" "$out/stderr")" -eq 1
check "... and nothing else" test "$(wc -l <"$out/stderr")" -eq 1

LD_PRELOAD=$lib "$probe" "$plugin" >"$out/stdout" 2>"$out/stderr"
check "preloaded: numa-alloc is the program's malloc" \
    grep -qx "served, freed with the library's free; the program's malloc is numa-alloc" "$out/stdout"
check "... and nothing is said" test ! -s "$out/stderr"
LD_PRELOAD=$lib "$canonical" "$plugin" >"$out/stdout" 2>"$out/stderr"
check "preloaded, a program holding free's canonical PLT entry: numa-alloc is its malloc" \
    grep -qx "served, freed with the library's free; the program's malloc is numa-alloc" "$out/stdout"
check "... and nothing is said" test ! -s "$out/stderr"

jemalloc=$(ls /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 2>/dev/null)
check "jemalloc is installed (tools/packages.txt)" test -n "$jemalloc"
LD_PRELOAD="$jemalloc $lib" "$probe" "$plugin" >"$out/stdout" 2>"$out/stderr"
check "preloaded behind jemalloc: the line" test "$(grep -cxF "$line" "$out/stderr")" -eq 1
exit "$fail"
