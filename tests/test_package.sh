#!/usr/bin/env bash
# test_package.sh CMAKE BUILD_DIR SOURCE_DIR VERSION CC - numa-alloc as a library people
# install (issue 15). `cmake --install` to a scratch prefix, then tests/package/consumer.c
# built each way a user would, run, and checked (its malloc is ours, numa_malloc works):
#   (a) pkg-config (PKG_CONFIG_PATH), with -Wl,-rpath and with LD_LIBRARY_PATH;
#   (b) find_package(numa-alloc CONFIG) (CMAKE_PREFIX_PATH), shared and numa-alloc::static;
#   (c) add_subdirectory of the source tree: only the library builds (no tests, bench, demo);
#   (d) static, with `pkg-config --static`: libc.a's malloc is not linked in, statistics
#       at exit, and a start that fails still serves every call;
# and the installed tree moved elsewhere: pkg-config and the CMake package follow it.
#   CMAKE       the cmake binary
#   BUILD_DIR   the configured and built tree to install
#   SOURCE_DIR  the source tree
#   VERSION     CMake's PROJECT_VERSION
#   CC          the C compiler
# shellcheck disable=SC2317 # helpers called through check
set -uo pipefail
cmake=$1 build_dir=$2 source_dir=$3 version=$4 cc=$5
# shellcheck source=tests/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/check.sh"
consumer=$source_dir/tests/package

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tmp=$(readlink -f "$tmp")
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)

"$cmake" --install "$build_dir" --prefix "$tmp/p" >"$tmp/install.log" ||
    { cat "$tmp/install.log"; exit 1; }
pc=$(find "$tmp/p" -name numa-alloc.pc)
check "the install has numa-alloc.pc" test -n "$pc" || exit 1
libdir=$(dirname "$(dirname "$pc")")
libdir_rel=${libdir#"$tmp/p/"}

# runs NAME CMD...: runs the consumer CMD, output in $tmp/NAME.out; checks it passed.
runs() {
    local name=$1
    shift
    timeout 60 "$@" >"$tmp/$name.out" 2>&1
    local status=$?
    check "$name: runs, every check holds" test $status -eq 0 || cat "$tmp/$name.out"
    check "$name: its malloc is numa-alloc's" grep -qx "ok: malloc is numa-alloc's" "$tmp/$name.out"
    check "$name: the library's version is $version" grep -qx "version $version (header $version)" "$tmp/$name.out"
}

# --- the installed files ------------------------------------------------------------
check "libnumapreload.so.0.* (SONAME libnumapreload.so.0)" \
    grep -q "Library soname: \[libnumapreload.so.0\]" <(readelf -d "$libdir/libnumapreload.so.$version")
check "libnumapreload.so.0 -> libnumapreload.so.$version" \
    test "$(readlink "$libdir/libnumapreload.so.0")" = "libnumapreload.so.$version"
check "libnumapreload.so (LD_PRELOAD, -lnumapreload) stays" test -e "$libdir/libnumapreload.so"
check "libnumapreload.a" test -f "$libdir/libnumapreload.a"
check "the CMake package" test -f "$libdir/cmake/numa-alloc/numa-allocConfigVersion.cmake"
check "the header" test -f "$tmp/p/include/numa_alloc.h"
# Debian's CMake installs libraries without the execute bit: run by the loader it names.
interp=$(readelf -p .interp "$libdir/libnumapreload.so" | sed -n 's/^ *\[ *[0-9a-f]*\] *//p')
check "the library, run (by its loader $interp), prints its version" \
    test "$("$interp" "$libdir/libnumapreload.so")" = "numa-alloc library $version"
check "the installed launcher's --version says the library's version" \
    grep -qxF "library version: $version" <<<"$("$tmp/p/bin/numa-alloc" --version)"

# --- (a) pkg-config --------------------------------------------------------------------
# pc_of PREFIX ARGS...: pkg-config of the tree installed at PREFIX.
pc_of() {
    local prefix=$1
    shift
    PKG_CONFIG_PATH=$prefix/$libdir_rel/pkgconfig pkg-config "$@" numa-alloc
}
# same_dir FLAG PREFIX PC_ARG DIR: pkg-config's one FLAG (-I, -L) names DIR (it may say
# .../lib/pkgconfig/../../include: ${pcfiledir} is not normalised).
same_dir() {
    local words
    read -ra words <<<"$(pc_of "$2" "$3")"
    test "$(readlink -f "${words[0]#"$1"}")" = "$4"
}
check "pkg-config: --cflags names the install's include directory" \
    same_dir -I "$tmp/p" --cflags "$tmp/p/include"
check "pkg-config: --libs names the install's library directory" same_dir -L "$tmp/p" --libs "$libdir"
check "pkg-config: --libs links -lnumapreload" grep -qE -- '-L[^ ]+ -lnumapreload *$' <<<"$(pc_of "$tmp/p" --libs)"
check "pkg-config --static: -lpthread and our malloc forced in" \
    grep -qE -- '-lnumapreload -lpthread -Wl,-u,malloc *$' <<<"$(pc_of "$tmp/p" --static --libs)"
check "pkg-config: --modversion" test "$(pc_of "$tmp/p" --modversion)" = "$version"
# shellcheck disable=SC2046 # pkg-config's words
"$cc" -O2 -o "$tmp/pc_rpath" "$consumer/consumer.c" $(pc_of "$tmp/p" --cflags --libs) \
    -Wl,-rpath,"$(pc_of "$tmp/p" --variable=libdir)"
check "pkg-config + -Wl,-rpath: builds" test -x "$tmp/pc_rpath" && runs pc_rpath "$tmp/pc_rpath"
check "pkg-config: the program needs libnumapreload.so.0 (the SONAME)" \
    grep -q "Shared library: \[libnumapreload.so.0\]" <(readelf -d "$tmp/pc_rpath")
# shellcheck disable=SC2046
"$cc" -O2 -o "$tmp/pc_plain" "$consumer/consumer.c" $(pc_of "$tmp/p" --cflags --libs)
check "pkg-config: builds" test -x "$tmp/pc_plain" &&
    runs pc_ld_library_path env LD_LIBRARY_PATH="$libdir" "$tmp/pc_plain"

# --- (d) static --------------------------------------------------------------------------
# shellcheck disable=SC2046
"$cc" -O2 -static -o "$tmp/static" "$consumer/consumer.c" $(pc_of "$tmp/p" --static --cflags --libs) \
    2>"$tmp/static.log"
check "static (pkg-config --static): links, no duplicate symbols" test -x "$tmp/static" ||
    cat "$tmp/static.log"
# static PROGRAM: no dynamic loader, no dynamic section.
static() {
    [[ -x $1 ]] && ! readelf -l "$1" | grep -q "program interpreter" &&
        readelf -d "$1" | grep -q "no dynamic section"
}
check "static: a static executable" static "$tmp/static"
runs static "$tmp/static"
# libc.a's malloc.o brings main_arena and _int_malloc: it must not be linked in beside ours.
nm "$tmp/static" >"$tmp/static.nm"
check "static: glibc's malloc is not linked in (no main_arena, _int_malloc)" \
    test "$(grep -cE ' (main_arena|_int_malloc)$' "$tmp/static.nm")" -eq 0
check "static: malloc, free, memalign, malloc_usable_size, __libc_malloc, __libc_free are defined once, by us" \
    test "$(grep -cE ' T (malloc|free|memalign|malloc_usable_size|__libc_malloc|__libc_free)$' "$tmp/static.nm")" -eq 6
check "static: numa-alloc's internals are in it (na_region, alloc_ensure_init)" \
    test "$(grep -cE ' [a-zA-Z] (na_region|alloc_ensure_init)$' "$tmp/static.nm")" -eq 2
NUMA_ALLOC_STATS=stderr NUMA_ALLOC_STATS_FORMAT=text timeout 60 "$tmp/static" >/dev/null 2>"$tmp/static.stats"
check "static: statistics at exit" grep -q "^numa-alloc statistics: pid" "$tmp/static.stats"
check "static: the statistics count the allocations" \
    grep -qE "^active bytes +[1-9][0-9]*$|^peak active bytes +[1-9]" "$tmp/static.stats"
# A program that calls no malloc itself still gets ours (-Wl,-u,malloc in Libs.private).
printf 'int main(void) { return 0; }\n' >"$tmp/empty.c"
# shellcheck disable=SC2046
"$cc" -static -o "$tmp/empty" "$tmp/empty.c" $(pc_of "$tmp/p" --static --libs)
check "static: a program that calls no malloc gets ours too" \
    test "$(nm "$tmp/empty" | grep -cE ' (main_arena|_int_malloc)$')" -eq 0
# A start that fails (ulimit -v leaves numa-alloc too little; issue 10): no glibc malloc
# to fall back on in a static program, so the fallback maps each block.
(
    ulimit -v 40000
    NUMA_ALLOC_STATS_FORMAT=text timeout 60 "$tmp/static" fallback
) >"$tmp/fallback.out" 2>"$tmp/fallback.err"
check "static, failed start: every call still works" test $? -eq 0 ||
    cat "$tmp/fallback.out" "$tmp/fallback.err"
check "static, failed start: one line says why" grep -q "^numa-alloc: not active: " "$tmp/fallback.err"

# --- the installed tree, moved -------------------------------------------------------
mv "$tmp/p" "$tmp/moved"
check "moved: pkg-config --cflags follows" same_dir -I "$tmp/moved" --cflags "$tmp/moved/include"
check "moved: pkg-config --libs follows" same_dir -L "$tmp/moved" --libs "$tmp/moved/$libdir_rel"
# shellcheck disable=SC2046
"$cc" -O2 -o "$tmp/moved_rpath" "$consumer/consumer.c" $(pc_of "$tmp/moved" --cflags --libs) \
    -Wl,-rpath,"$(pc_of "$tmp/moved" --variable=libdir)"
check "moved: pkg-config + rpath builds" test -x "$tmp/moved_rpath" && runs moved_rpath "$tmp/moved_rpath"

# --- (b) find_package(numa-alloc CONFIG), from the moved tree ----------------------------
nice -n 5 "$cmake" -S "$consumer" -B "$tmp/b" "${generator[@]}" -DCONSUMER_MODE=package \
    -DCMAKE_PREFIX_PATH="$tmp/moved" -DCMAKE_C_COMPILER="$cc" >"$tmp/b.log" 2>&1 &&
    nice -n 5 "$cmake" --build "$tmp/b" -j2 >>"$tmp/b.log" 2>&1
check "find_package: configures and builds" test $? -eq 0 || cat "$tmp/b.log"
check "find_package: found the moved tree" grep -q "$tmp/moved/$libdir_rel/libnumapreload.so" \
    <(grep -rh numapreload "$tmp/b"/build.ninja "$tmp/b"/CMakeFiles/*.dir/link.txt 2>/dev/null)
runs find_package "$tmp/b/consumer"
runs find_package_static "$tmp/b/consumer_static"
check "find_package: numa-alloc::static is static" static "$tmp/b/consumer_static"

# --- (c) add_subdirectory of the source tree ------------------------------------------
nice -n 5 "$cmake" -S "$consumer" -B "$tmp/s" "${generator[@]}" -DCONSUMER_MODE=subdirectory \
    -DNUMA_ALLOC_SOURCE_DIR="$source_dir" -DCMAKE_C_COMPILER="$cc" >"$tmp/s.log" 2>&1
check "add_subdirectory: configures" test $? -eq 0 || cat "$tmp/s.log"
targets=$("$cmake" --build "$tmp/s" --target help 2>/dev/null)
check "add_subdirectory: the library's targets" grep -q "numapreload" <<<"$targets"
for t in test_size_classes numa_bench numa_alloc_demo options_probe; do
    check "add_subdirectory: no $t target" test "$(grep -c "^$t\b\|^$t:" <<<"$targets")" -eq 0
done
check "add_subdirectory: no tests registered" test ! -e "$tmp/s/numa-alloc/tests"
nice -n 5 "$cmake" --build "$tmp/s" -j2 --target consumer >>"$tmp/s.log" 2>&1
check "add_subdirectory: builds" test $? -eq 0 || tail -n 30 "$tmp/s.log"
runs add_subdirectory "$tmp/s/consumer"
exit "$fail"
