#!/usr/bin/env bash
# test_launcher_flags.sh LAUNCHER INSTALLED_LAUNCHER TEMPLATE LIBRARY VERSION [CMAKE BUILD_DIR] -
# the launcher's flags (numa-alloc issue 12): numactl's spellings and ours,
# --opt VALUE and --opt=VALUE, -m 0 and -m0, each reaching the command's
# environment; CPU binding (-N, -C); nodes that cannot serve refused before
# anything runs; one-line errors with exit 1; --version; -H; each installed
# copy preloading the library beside it; a relative --library.
#   LAUNCHER            the build tree's numa-alloc
#   INSTALLED_LAUNCHER  build/install/numa-alloc, as CMake configured it
#   TEMPLATE            tools/numa-alloc.in, configured here for a fake prefix
#   LIBRARY             libnumapreload.so
#   VERSION             CMake's PROJECT_VERSION
#   CMAKE BUILD_DIR     when given: cmake --install BUILD_DIR to two prefixes too
# shellcheck disable=SC2317,SC2016 # helpers called through check; the commands' own $vars
set -uo pipefail
launcher=$(readlink -f "$1") installed=$2 template=$3 library=$4 version=$5
cmake=${6:-} build_dir=${7:-}
# shellcheck source=tests/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/check.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tmp=$(readlink -f "$tmp")
marker=$tmp/ran
library=$(readlink -f "$library")
node_dir=/sys/devices/system/node

# A node no policy can use here: 5, unless this machine has a node 5.
missing=5
[[ ! -e $node_dir/node$missing ]] || missing=1023

# env_of ARGS...: the NUMA_ALLOC_* and LD_PRELOAD variables the command sees.
env_of() {
    timeout 20 "$launcher" "$@" -- sh -c 'env | grep -E "^(NUMA_ALLOC_|LD_PRELOAD=)" | sort'
}
# has VAR=VALUE ARGS...: ARGS give the command VAR=VALUE.
has() {
    local want=$1
    shift
    env_of "$@" | grep -qxF "$want"
}
lacks() { # VAR ARGS...: ARGS leave VAR out of the command's environment
    local var=$1
    shift
    local env
    env=$(env_of "$@") && ! grep -q "^$var=" <<<"$env"
}

# --- every flag, in every spelling, reaches the command ----------------------
for args in "--policy=interleave" "--policy interleave"; do
    # shellcheck disable=SC2086 # the words of $args are the flags
    check "$args sets NUMA_ALLOC_POLICY=interleave" has NUMA_ALLOC_POLICY=interleave $args
done
check "--policy=weighted-interleave is accepted" \
    has NUMA_ALLOC_POLICY=weighted-interleave --policy=weighted-interleave --weights=0:2
check "--policy weighted-interleave is accepted" \
    has NUMA_ALLOC_POLICY=weighted-interleave --policy weighted-interleave --weights 0:2
for args in "--nodes=0" "--nodes 0"; do
    # shellcheck disable=SC2086
    check "$args sets NUMA_ALLOC_NODES=0" has NUMA_ALLOC_NODES=0 --policy=bind $args
done
for args in "-m0" "-m 0" "--membind=0" "--membind 0"; do
    # shellcheck disable=SC2086
    out=$(env_of $args)
    check "$args: bind" grep -qxF NUMA_ALLOC_POLICY=bind <<<"$out"
    check "$args: nodes 0" grep -qxF NUMA_ALLOC_NODES=0 <<<"$out"
    check "$args: fallback none" grep -qxF NUMA_ALLOC_FALLBACK=none <<<"$out"
done
check "-m with --fallback keeps the fallback given" has NUMA_ALLOC_FALLBACK=any --fallback=any -m 0
for args in "-p0" "-p 0" "--preferred=0" "--preferred 0" "-P0" "-P 0" "--preferred-many=0" "--preferred-many 0"; do
    # shellcheck disable=SC2086
    out=$(env_of $args)
    check "$args: preferred" grep -qxF NUMA_ALLOC_POLICY=preferred <<<"$out"
    check "$args: nodes 0" grep -qxF NUMA_ALLOC_NODES=0 <<<"$out"
done
for args in "-i0" "-i 0" "--interleave=0" "--interleave 0"; do
    # shellcheck disable=SC2086
    out=$(env_of $args)
    check "$args: interleave" grep -qxF NUMA_ALLOC_POLICY=interleave <<<"$out"
    check "$args: nodes 0" grep -qxF NUMA_ALLOC_NODES=0 <<<"$out"
done
check "-i all: all nodes" has NUMA_ALLOC_NODES=all -i all
kernel_weight=$(cat /sys/kernel/mm/mempolicy/weighted_interleave/node0 2>/dev/null || echo 1)
for args in "-w0" "-w 0" "--weighted-interleave=0" "--weighted-interleave 0"; do
    # shellcheck disable=SC2086
    out=$(env_of $args)
    check "$args: weighted-interleave" grep -qxF NUMA_ALLOC_POLICY=weighted-interleave <<<"$out"
    check "$args: the kernel's weight" grep -qxF "NUMA_ALLOC_WEIGHTS=0:$kernel_weight" <<<"$out"
done
check "-w 0 with --weights: that weight" has NUMA_ALLOC_WEIGHTS=0:7 -w 0 --weights=0:7
for args in "--weights=0:3" "--weights 0:3"; do
    # shellcheck disable=SC2086
    check "$args sets NUMA_ALLOC_WEIGHTS" has NUMA_ALLOC_WEIGHTS=0:3 $args
done
check "--weights naming another node, with a fallback" \
    has NUMA_ALLOC_WEIGHTS=0:3,$missing:1 --fallback=nearest --weights=0:3,$missing:1
for args in "-l" "--localalloc"; do
    out=$(env_of -m 0 "$args")
    check "$args after -m 0: local" grep -qxF NUMA_ALLOC_POLICY=local <<<"$out"
    check "$args after -m 0: no nodes" test "$(grep -c ^NUMA_ALLOC_NODES= <<<"$out")" -eq 0
done
check "the last policy flag wins (-m 0 -i 0)" has NUMA_ALLOC_POLICY=interleave -m 0 -i 0
check "-m's fallback none goes with it (-m 0 -i 0)" lacks NUMA_ALLOC_FALLBACK -m 0 -i 0
check "the last policy flag wins (-i 0 -m 0)" has NUMA_ALLOC_POLICY=bind -i 0 -m 0
for args in "--fallback=any" "--fallback any"; do
    # shellcheck disable=SC2086
    check "$args sets NUMA_ALLOC_FALLBACK" has NUMA_ALLOC_FALLBACK=any $args
done
for args in "--purge-delay=250" "--purge-delay 250"; do
    # shellcheck disable=SC2086
    check "$args sets NUMA_ALLOC_PURGE_DELAY_MS" has NUMA_ALLOC_PURGE_DELAY_MS=250 $args
done
for args in "--hugepages=thp" "--hugepages thp"; do
    # shellcheck disable=SC2086
    check "$args sets NUMA_ALLOC_HUGEPAGES" has NUMA_ALLOC_HUGEPAGES=thp $args
done
for args in "--hugetlb=64m" "--hugetlb 64m"; do
    # shellcheck disable=SC2086
    check "$args sets NUMA_ALLOC_HUGETLB" has NUMA_ALLOC_HUGETLB=64m $args
done
check "--hugetlb=1024g is the largest" has NUMA_ALLOC_HUGETLB=1024g --hugetlb=1024g
for args in "--stats=$tmp/s.%p" "--stats $tmp/s.%p"; do
    # shellcheck disable=SC2086
    check "$args sets NUMA_ALLOC_STATS" has "NUMA_ALLOC_STATS=$tmp/s.%p" $args
done
for args in "--stats-format=text" "--stats-format text"; do
    # shellcheck disable=SC2086
    check "$args sets NUMA_ALLOC_STATS_FORMAT" has NUMA_ALLOC_STATS_FORMAT=text $args
done
check "--live sets NUMA_ALLOC_STATS_LIVE=1" has NUMA_ALLOC_STATS_LIVE=1 --live
for args in "--library=$library" "--library $library"; do
    # shellcheck disable=SC2086
    check "$args preloads that library" has "LD_PRELOAD=$library" $args
done

# --- CPU binding: the command runs on those CPUs, with the library -----------
allowed=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status)
last_cpu=$(tr ',' '\n' <<<"$allowed" | tail -n1)
last_cpu=${last_cpu##*-}
cpus_of() { # ARGS...: the command's Cpus_allowed_list, and whether it maps the library
    timeout 20 "$launcher" "$@" -- sh -c \
        'sed -n "s/^Cpus_allowed_list:[[:space:]]*//p" /proc/self/status; grep -c libnumapreload /proc/self/maps'
}
for args in "-C$last_cpu" "-C $last_cpu" "--physcpubind=$last_cpu" "--physcpubind $last_cpu"; do
    # shellcheck disable=SC2086
    out=$(cpus_of $args)
    check "$args: the command runs on CPU $last_cpu only" test "$(head -n1 <<<"$out")" = "$last_cpu"
    check "$args: the library is still preloaded" test "$(tail -n1 <<<"$out")" -gt 0
done
if [[ -r $node_dir/node0/cpulist ]]; then
    # Node 0's CPUs that we may use, as Linux writes the list.
    node0_cpus=$(taskset -c "$(cat $node_dir/node0/cpulist)" \
        sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status)
    for args in "-N0" "-N 0" "--cpunodebind=0" "--cpunodebind 0"; do
        # shellcheck disable=SC2086
        out=$(taskset -c "$last_cpu" "$launcher" $args -- sh -c \
            'sed -n "s/^Cpus_allowed_list:[[:space:]]*//p" /proc/self/status')
        check "$args: the command runs on node 0's CPUs ($node0_cpus)" test "$out" = "$node0_cpus"
    done
else
    echo "skipped: -N (no NUMA node 0 in sysfs)"
fi

# --- errors: one line, exit 1, nothing run -----------------------------------
# refused DESCRIPTION WORDS ARGS...: exit 1, one line naming WORDS, the command not run.
refused() {
    local what=$1 words=$2
    shift 2
    rm -f "$marker"
    local err status=0
    err=$(timeout 20 "$launcher" "$@" -- sh -c "touch '$marker'" 2>&1 >/dev/null) || status=$?
    check "$what: exit 1 (was $status)" test "$status" -eq 1
    check "$what: one line (was: $err)" test "$(wc -l <<<"$err")" -eq 1
    check "$what: starts with 'numa-alloc: '" grep -q '^numa-alloc: ' <<<"$err"
    check "$what: says '$words'" grep -qF -- "$words" <<<"$err"
    check "$what: the command did not run" test ! -e "$marker"
}
for args in "-m $missing" "-m$missing" "--membind=$missing" "-p $missing" "-P 0,$missing" \
    "-i $missing" "-w $missing" "--policy=bind --nodes=$missing" "--nodes=$missing" \
    "--weights=$missing:1" "-m $missing --fallback=none"; do
    # shellcheck disable=SC2086
    refused "$args" "node argument $missing is out of range" $args
done
# shellcheck disable=SC2086
NUMA_ALLOC_FALLBACK=none refused "-i $missing under NUMA_ALLOC_FALLBACK=none" \
    "node argument $missing" -i $missing
runs() { # ARGS...: the command runs
    rm -f "$marker"
    timeout 20 "$launcher" "$@" -- sh -c "touch '$marker'" 2>/dev/null && test -e "$marker"
}
check "--fallback=nearest lets a bind to node $missing run" runs -m "$missing" --fallback=nearest
check "--fallback any lets an interleave over node $missing run" runs --fallback any -i "$missing"
check "NUMA_ALLOC_FALLBACK=nearest lets it run" env NUMA_ALLOC_FALLBACK=nearest \
    "$launcher" -i "$missing" -- sh -c "touch '$marker'"
check "a node list with an unusable node and a fallback runs" runs --fallback=nearest -P "0,$missing"
refused "-C with a CPU we may not use" "cpu argument 9999 is out of range" -C 9999
refused "-N $missing" "node argument $missing is out of range" -N "$missing"
refused "a bad policy" "invalid --policy=bnid (accepted: local bind preferred interleave weighted-interleave)" --policy=bnid
refused "a bad policy, separate value" "invalid --policy=membind" --policy membind
refused "a bad node list" "invalid --nodes=1-x" --nodes=1-x
refused "a descending range" "invalid --nodes=3-1" --nodes=3-1
refused "a bad -m" "invalid -m x" -m x
refused "a bad -m0" "invalid -m 0-" -m0-
refused "-p with a list" "invalid -p 0,1" -p 0,1
refused "a bad fallback" "invalid --fallback=far" --fallback=far
refused "a purge delay too long" "invalid --purge-delay=3600001" --purge-delay=3600001
refused "a negative purge delay" "invalid --purge-delay=-1" --purge-delay=-1
refused "a purge delay that is no number" "invalid --purge-delay=1s" --purge-delay 1s
refused "a bad huge-page mode" "invalid --hugepages=always (accepted: auto thp never)" --hugepages=always
refused "a hugetlb size with a unit" "invalid --hugetlb=64mb (accepted: bytes per node" --hugetlb=64mb
refused "a hugetlb size too big" "invalid --hugetlb=1025g" --hugetlb=1025g
refused "a bad stats format" "invalid --stats-format=xml" --stats-format=xml
refused "a zero weight" "invalid --weights=0:0" --weights=0:0
refused "a weight too big" "invalid --weights=0:256" --weights=0:256
refused "a weight without node" "invalid --weights=3" --weights=3
refused "a bad CPU list" "invalid -C 1-x" -C 1-x
refused "an unknown flag" "unknown option '--frobnicate'" --frobnicate
refused "an unknown short flag" "unknown option '-Z'" -Z
refused "a value given to --live" "option '--live' takes no value" --live=1
refused "a missing library" "library not found: $tmp/nothing.so" --library="$tmp/nothing.so"
for flag in --policy -m --stats; do
    err=$("$launcher" "$flag" 2>&1)
    check "$flag without a value: exit 1" test $? -eq 1
    check "$flag without a value: one line" test "$(wc -l <<<"$err")" -eq 1
    check "$flag without a value: says so" grep -qF "option '$flag' needs a value" <<<"$err"
done
err=$("$launcher" 2>&1)
check "no command: exit 1" test $? -eq 1
check "no command: one line" test "$(wc -l <<<"$err")" -eq 1

# --- --version and -H ---------------------------------------------------------
out=$("$launcher" --version)
check "--version exits 0" test $? -eq 0
check "--version names the version" test "$(head -n1 <<<"$out")" = "numa-alloc $version"
check "--version names the library" grep -qxF "library: $library" <<<"$out"
check "--version: the library's own version" grep -qxF "library version: $version" <<<"$out"
# The library's version is asked of the library: one of another version says so.
mkdir -p "$tmp/other"
LC_ALL=C sed "s/numa-alloc library $version/numa-alloc library 9.8.7/" "$library" >"$tmp/other/lib.so"
out=$("$launcher" --library="$tmp/other/lib.so" --version)
check "--version --library=(another version): exit 0" test $? -eq 0
check "--version --library=(another version): says which, and that it differs" \
    grep -qxF "library version: 9.8.7 (not this launcher's $version)" <<<"$out"
chmod -x "$tmp/other/lib.so"
check "--version: the library needs no execute bit" \
    grep -qxF "library version: 9.8.7 (not this launcher's $version)" \
    <<<"$("$launcher" --library="$tmp/other/lib.so" --version)"
echo 'not a library' >"$tmp/other/junk.so"
check "--version --library=(not numa-alloc): unknown" \
    grep -qx "library version: unknown (the library does not say: .*)" \
    <<<"$("$launcher" --library="$tmp/other/junk.so" --version)"
out=$("$launcher" --library="$tmp/other/missing.so" --version)
check "--version --library=(missing): exit 0" test $? -eq 0
check "--version --library=(missing): not found" grep -qxF "library: $tmp/other/missing.so (not found)" <<<"$out"
check "--version --library=(missing): no version" grep -qxF "library version: unknown (no library)" <<<"$out"
if [[ -r $node_dir/node0/cpulist ]]; then
    for flag in -H --hardware; do
        out=$("$launcher" "$flag")
        check "$flag exits 0" test $? -eq 0
        cpus=$(awk -v RS=, -F- '{ if (NF == 2) for (c = $1; c <= $2; c++) printf "%s ", c; else if ($1 != "") printf "%s ", $1 + 0 }' \
            "$node_dir/node0/cpulist" | sed 's/ $//')
        check "$flag: node 0's CPUs ($cpus)" grep -qxF "node 0 cpus: $cpus" <<<"$out"
        mb=$(awk '/MemTotal:/ {printf "%d", $4 / 1024}' "$node_dir/node0/meminfo")
        check "$flag: node 0's memory ($mb MB)" grep -qxF "node 0 size: $mb MB" <<<"$out"
        check "$flag: node 0's free memory" grep -qE "^node 0 free: [0-9]+ MB$" <<<"$out"
        check "$flag: the distances" grep -qE "^ *0: +$(awk '{print $1}' "$node_dir/node0/distance")( |$)" <<<"$out"
        for tier in /sys/devices/virtual/memory_tiering/memory_tier*; do
            [[ -r $tier/nodelist ]] || continue
            check "$flag: ${tier##*/}" grep -qF "memory tier ${tier##*memory_tier}: nodes" <<<"$out"
        done
        mems=$(sed -n 's/^Mems_allowed_list:[[:space:]]*//p' /proc/self/status)
        check "$flag: the usable nodes" grep -qE "^usable here .*Mems_allowed_list $mems\): " <<<"$out"
    done
else
    echo "skipped: -H (no NUMA node 0 in sysfs)"
fi

# --- each prefix preloads its own library -------------------------------------
# maps_of LAUNCHER: the libnumapreload.so mapped into its command.
maps_of() {
    timeout 20 "$1" -- sh -c 'grep -o "/[^ ]*libnumapreload[^ ]*" /proc/self/maps | sort -u'
}
check "the build tree's launcher preloads the build's library" test "$(maps_of "$launcher")" = "$library"
# Two prefixes as CMake's install layout has them, and a configured prefix
# (p0) whose library exists: each copy must still take the one beside it.
mkdir -p "$tmp/p0/lib"
cp "$library" "$tmp/p0/lib/libnumapreload.so"
for p in p1 p2; do
    mkdir -p "$tmp/$p/bin" "$tmp/$p/lib" "$tmp/$p/cmake/bin" "$tmp/$p/cmake/lib"
    sed -e "s|@NUMA_ALLOC_LIB@|$tmp/p0/lib/libnumapreload.so|" \
        -e "s|@NUMA_ALLOC_LIB_BESIDE@|../lib/libnumapreload.so|" \
        -e "s|@CMAKE_INSTALL_LIBDIR@|lib|" -e "s|@PROJECT_VERSION@|$version|" \
        -e "s|@NUMA_ALLOC_INTERP@||" \
        "$template" >"$tmp/$p/bin/numa-alloc"
    chmod +x "$tmp/$p/bin/numa-alloc"
    cp "$library" "$tmp/$p/lib/libnumapreload.so"
    cp "$installed" "$tmp/$p/cmake/bin/numa-alloc"
    chmod +x "$tmp/$p/cmake/bin/numa-alloc"
    cp "$library" "$tmp/$p/cmake/lib/libnumapreload.so"
    check "prefix $p preloads its own library" \
        test "$(maps_of "$tmp/$p/bin/numa-alloc")" = "$tmp/$p/lib/libnumapreload.so"
    check "prefix $p (CMake's install script) preloads its own library" \
        test "$(maps_of "$tmp/$p/cmake/bin/numa-alloc")" = "$tmp/$p/cmake/lib/libnumapreload.so"
    check "prefix $p: --version names its library" \
        grep -qxF "library: $tmp/$p/lib/libnumapreload.so" <<<"$("$tmp/$p/bin/numa-alloc" --version)"
    check "prefix $p: --version runs its library without a known loader" \
        grep -qxF "library version: $version" <<<"$("$tmp/$p/bin/numa-alloc" --version)"
done
if [[ -n $cmake ]]; then
    for p in i1 i2; do
        "$cmake" --install "$build_dir" --prefix "$tmp/$p" >/dev/null
        libdir=$(dirname "$(find "$tmp/$p" -name libnumapreload.so | head -n1)")
        check "cmake --install --prefix $p: its launcher preloads its own library" \
            test "$(maps_of "$tmp/$p/bin/numa-alloc")" = "$(readlink -f "$libdir/libnumapreload.so")"
    done
fi
ln -s "$tmp/p2/bin/numa-alloc" "$tmp/link"
check "a symbolic link to prefix p2's launcher preloads p2's library" \
    test "$(maps_of "$tmp/link")" = "$tmp/p2/lib/libnumapreload.so"

# --- a relative --library survives the command's chdir -------------------------
out=$(cd "$tmp/p1" && timeout 20 "$launcher" --library=lib/libnumapreload.so -- sh -c \
    'echo "$LD_PRELOAD"; cd / && sh -c "grep -c libnumapreload /proc/self/maps"')
check "a relative --library is made absolute" test "$(head -n1 <<<"$out")" = "$tmp/p1/lib/libnumapreload.so"
check "a program started after cd / still gets it" test "$(tail -n1 <<<"$out")" -gt 0
out=$(cd "$tmp/p1" && timeout 20 "$launcher" --library lib/libnumapreload.so -- sh -c 'echo "$LD_PRELOAD"')
check "--library PATH, relative, too" test "$out" = "$tmp/p1/lib/libnumapreload.so"

exit "$fail"
