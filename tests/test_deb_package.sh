#!/usr/bin/env bash
# test_deb_package.sh BUILD_DIR CMAKE CPACK LIBDIR VERSION
#
# The Debian package (cmake/packaging.cmake), from the built tree:
#  - cpack -G DEB makes numa-alloc_VERSION-1_ARCH.deb (into a scratch directory);
#  - its control fields (name, version, Depends on libc6, maintainer, section,
#    priority, description);
#  - it holds every file `cmake --install` installs (under /usr), plus
#    /usr/share/doc/numa-alloc/copyright and changelog.Debian.gz, and nothing else;
#  - unpacked (dpkg-deb -x) into a scratch root: the launcher from there says it
#    preloads the library from there, and a program run through it maps that
#    library (not the build tree's) and writes statistics at exit; its
#    'numa-alloc prof' runs the profile reader from there (Depends: python3, binutils);
#  - a small program compiled against the unpacked header and library
#    (-I, -L, -rpath into the scratch root) allocates on node 0 and maps the
#    scratch root's library;
#  - pkg-config, given the unpacked .pc, points into the scratch root (when the
#    .pc is relocatable: ${pcfiledir});
#  - the man pages, and a link page for every function of numa_alloc.h, are
#    there and `man -M` finds them;
#  - lintian reports no error (E:); its warnings are printed.
# Exits 77 (skip) when dpkg-deb or lintian is missing.
set -u

build=${1:?build dir} cmake=${2:?cmake} cpack=${3:?cpack} libdir=${4:?libdir relative to the prefix}
version=${5:?version}
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

for tool in dpkg-deb lintian cc man; do
    command -v "$tool" >/dev/null || {
        echo "SKIP: $tool missing (tools/install-deps.sh)"
        exit 77
    }
done

scratch=$(mktemp -d "${TMPDIR:-/tmp}/numa-alloc-deb.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
root=$scratch/root

# --- build ----------------------------------------------------------------------
if ! "$cpack" -G DEB --config "$build/CPackConfig.cmake" -B "$scratch/out" >"$scratch/cpack.log" 2>&1; then
    cat "$scratch/cpack.log"
    echo "FAIL: cpack -G DEB"
    exit 1
fi
arch=$(dpkg --print-architecture)
deb=$scratch/out/numa-alloc_${version}-1_${arch}.deb
if [ ! -f "$deb" ]; then
    ls -l "$scratch/out"
    echo "FAIL: no $deb"
    exit 1
fi
echo "built ${deb##*/} ($(stat -c %s "$deb") bytes)"

# --- control fields ---------------------------------------------------------------
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = numa-alloc ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$version-1" ] || fail "Version: $(field Version), not $version-1"
[ "$(field Architecture)" = "$arch" ] || fail "Architecture: $(field Architecture)"
grep -Eq '(^|, )libc6( |,|$)' <<<"$(field Depends)" || fail "Depends lacks libc6: $(field Depends)"
for dep in python3 binutils; do # numa-alloc prof: the reader, addr2line
    grep -Eq "(^|, )$dep( |,|\$)" <<<"$(field Depends)" || fail "Depends lacks $dep: $(field Depends)"
done
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
[ -n "$(field Section)" ] || fail "no Section"
[ "$(field Priority)" = optional ] || fail "Priority: $(field Priority)"
[ "$(field Description | wc -l)" -ge 3 ] || fail "Description without an extended description"

# --- contents: what cmake --install installs, and Debian's documents ---------------
dpkg-deb -x "$deb" "$root" || { echo "FAIL: dpkg-deb -x"; exit 1; }
root=$(cd "$root" && pwd -P)
DESTDIR=$scratch/staged "$cmake" --install "$build" --prefix /usr >/dev/null ||
    fail "cmake --install (to compare the package with)"
list() { (cd "$1" && find . \( -type f -o -type l \) | sort); }
expected=$( (list "$scratch/staged"; printf '%s\n' ./usr/share/doc/numa-alloc/copyright \
    ./usr/share/doc/numa-alloc/changelog.Debian.gz) | sort)
got=$(list "$root")
missing=$(comm -23 <(echo "$expected") <(echo "$got"))
extra=$(comm -13 <(echo "$expected") <(echo "$got"))
[ -z "$missing" ] || fail "installed by cmake --install but not in the package: $missing"
[ -z "$extra" ] || fail "in the package but not installed by cmake --install: $extra"
for f in usr/bin/numa-alloc "usr/$libdir/libnumapreload.so" usr/include/numa_alloc.h \
    "usr/$libdir/pkgconfig/numa-alloc.pc" usr/share/man/man1/numa-alloc.1.gz \
    usr/share/man/man3/numa_malloc.3.gz usr/share/man/man7/numa-alloc.7.gz \
    usr/share/doc/numa-alloc/copyright usr/share/doc/numa-alloc/changelog.Debian.gz; do
    [ -e "$root/$f" ] || fail "the package lacks /$f"
done
grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' \
    "$root/usr/share/doc/numa-alloc/copyright" || fail "copyright is not machine-readable (DEP-5)"
gzip -dc "$root/usr/share/doc/numa-alloc/changelog.Debian.gz" | head -n1 |
    grep -q "^numa-alloc ($version-1) " || fail "changelog.Debian.gz does not start with numa-alloc ($version-1)"

# Every function of the header has a page there.
for fn in $(grep -v '^#' "$root/usr/include/numa_alloc.h" | grep -oE 'NUMA_ALLOC_API\b.*' |
    grep -oE '\b[a-z_][a-z0-9_]*\(' | tr -d '('); do
    [ -n "$(man -M "$root/usr/share/man" -w 3 "$fn" 2>/dev/null)" ] ||
        fail "man -M <package>/usr/share/man 3 $fn finds nothing"
done
for page in 1:numa-alloc 7:numa-alloc; do
    [ -n "$(man -M "$root/usr/share/man" -w "${page%%:*}" "${page#*:}" 2>/dev/null)" ] ||
        fail "man ${page%%:*} ${page#*:} not found in the package"
done

# --- the launcher from the scratch root ---------------------------------------------
version_out=$("$root/usr/bin/numa-alloc" --version 2>&1)
echo "$version_out"
grep -q "numa-alloc.*$version" <<<"$version_out" || fail "numa-alloc --version does not say $version"
grep -q "$root/usr/$libdir/libnumapreload\.so" <<<"$version_out" ||
    fail "numa-alloc --version names no library in the scratch root $root/usr/$libdir"
maps=$("$root/usr/bin/numa-alloc" --stats=stderr --stats-format=json -- cat /proc/self/maps 2>"$scratch/stats")
mapped=$(grep -o '/[^ ]*libnumapreload[^ ]*' <<<"$maps" | sort -u)
[ -n "$mapped" ] || fail "a program run by the unpacked launcher does not map libnumapreload"
for m in $mapped; do
    case $m in "$root"/*) ;; *) fail "the unpacked launcher preloaded $m, outside $root" ;; esac
done
grep -q '"active": true' "$scratch/stats" || {
    cat "$scratch/stats"
    fail "numa-alloc --stats=stderr: no statistics with \"active\": true"
}

# numa-alloc prof runs the reader of the scratch root (libexec), not a configured path.
printf 'numa-alloc-profile 1\npid 7\nprogram /bin/true\nrate 524288\ncomplete 1\nnode 0 0\nstack 1 1000\nsite 1 node=0 thread_node=0 decision=local samples=1 objects=2 bytes=4096\nend\n' \
    >"$scratch/tiny.prof"
[ -x "$root/usr/libexec/numa-alloc/numa-alloc-prof" ] || fail "the package lacks /usr/libexec/numa-alloc/numa-alloc-prof"
prof_out=$("$root/usr/bin/numa-alloc" prof "$scratch/tiny.prof" --tsv 2>&1)
grep -q $'^1\t1\t0x1000\t' <<<"$prof_out" || fail "numa-alloc prof from the unpacked root: $prof_out"

# --- a program linked against the unpacked header and library --------------------
cat >"$scratch/example.c" <<'EOF'
#include <numa_alloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    double *v = numa_malloc(0, 1000 * sizeof *v);
    if (!v) {
        perror("numa_malloc");
        return 1;
    }
    printf("node %d\n", numa_ptr_node(v));
    free(v);
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[4096];
    while (maps && fgets(line, sizeof line, maps))
        if (strstr(line, "libnumapreload"))
            fputs(strchr(line, '/'), stdout);
    return 0;
}
EOF
libpath=$root/usr/$libdir
if cc -Wall -Werror -I"$root/usr/include" "$scratch/example.c" -L"$libpath" -lnumapreload \
    -Wl,-rpath,"$libpath" -o "$scratch/example" 2>"$scratch/cc.log"; then
    out=$(env -u LD_PRELOAD -u LD_LIBRARY_PATH "$scratch/example")
    echo "example: $out" | head -n 3
    grep -q '^node 0$' <<<"$out" || fail "the linked example: numa_malloc(0, ...) not on node 0: $out"
    lines=$(grep -c '^/' <<<"$out")
    [ "$lines" -gt 0 ] || fail "the linked example does not map libnumapreload"
    [ "$(grep -c "^$root/usr/$libdir/libnumapreload" <<<"$out")" = "$lines" ] ||
        fail "the linked example maps a libnumapreload outside $libpath: $out"
else
    cat "$scratch/cc.log"
    fail "the example does not compile or link against $root/usr"
fi

# pkg-config from the unpacked root: only a relocatable .pc (${pcfiledir}) can point there.
pc=$root/usr/$libdir/pkgconfig/numa-alloc.pc
if command -v pkg-config >/dev/null && grep -q 'pcfiledir' "$pc" 2>/dev/null; then
    flags=$(PKG_CONFIG_PATH=$root/usr/$libdir/pkgconfig pkg-config --cflags --libs numa-alloc)
    resolved=''
    for flag in $flags; do
        case $flag in -I* | -L*) resolved="$resolved ${flag:0:2}$(readlink -f -- "${flag:2}")" ;; esac
    done
    grep -q -- " -I$root/usr/include\( \|\$\)" <<<"$resolved" &&
        grep -q -- " -L$libpath\( \|\$\)" <<<"$resolved" ||
        fail "pkg-config numa-alloc from the unpacked root: $flags (not $root/usr/include, $libpath)"
else
    echo "note: $pc is not relocatable (no \${pcfiledir}): pkg-config not tried from the scratch root"
fi

# --- lintian -------------------------------------------------------------------------
lintian --tag-display-limit 0 "$deb" >"$scratch/lintian" 2>&1
echo "lintian says:"
sed 's/^/    /' "$scratch/lintian"
grep -q '^E:' "$scratch/lintian" && fail "lintian reports errors (E: above)"

if ((failures)); then
    echo "$failures failure(s)"
    exit 1
fi
echo "PASS: ${deb##*/}: contents, launcher and linked example from the unpacked root, lintian without errors"
