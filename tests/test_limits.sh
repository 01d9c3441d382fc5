#!/usr/bin/env bash
# test_limits.sh LAUNCHER LIBRARY PROBE SCHEMA DENY - start-up under resource limits
# (issue 10, findings 3, 5 and 10):
#   - under `ulimit -v` (RLIMIT_AS) programs that need well under the limit run
#     as they do on glibc: python3 -c pass and a 100 MB allocation under 300 MB,
#     through the launcher and with LD_PRELOAD, on numa-alloc (the statistics
#     say "active": true);
#   - what the limit leaves is shared by malloc and the program's own mappings
#     as they come (the heaps reserve address space as they grow), in either
#     order, as under glibc;
#   - a limit the program sets on itself after the start (setrlimit, prlimit,
#     Python's resource module) leaves it what glibc would: threads, mappings,
#     malloc, aligned and grown huge blocks (the heaps give back what they do
#     not use); a limit too large for that is set, and one line says so;
#   - at the limit malloc returns NULL with ENOMEM, never a signal; likewise
#     when the kernel refuses to commit (ulimit -d, as vm.overcommit_memory=2 does);
#   - a start that cannot succeed (too little address space left) prints one
#     line, and the program runs on glibc's malloc: every entry point works, a bad
#     variable's warning is printed once, the statistics say "active": false.
set -uo pipefail
launcher=$1 lib=$2 probe=$3 schema=$4 deny=$5 # deny: tests/seccomp_deny
python=/usr/bin/python3 # Debian's (has jsonschema), not a pyenv shim
export LC_ALL=C # no locale archive mapped into the limited address space
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# shellcheck source=tests/check.sh
source "$(dirname "$0")/check.sh"

# run KIB HOW CMD... - runs CMD under `ulimit -v KIB` (0: no limit; soft:KIB: the soft
# limit only, which the program may raise), HOW = glibc,
# preload or launcher; stdout to $out/stdout, stderr to $out/stderr, JSON
# statistics (with numa-alloc) to $out/stats.json. Returns CMD's status (and
# shows its output when that is not 0).
run() {
    local kib=$1 how=$2
    shift 2
    rm -f "$out/stats.json"
    (
        case $kib in
        soft:*) ulimit -Sv "${kib#soft:}" ;;
        0) ;;
        *) ulimit -v "$kib" ;;
        esac
        case $how in
        glibc) exec "$@" ;;
        preload) NUMA_ALLOC_STATS="$out/stats.json" LD_PRELOAD=$lib exec "$@" ;;
        launcher) exec "$launcher" --stats="$out/stats.json" -- "$@" ;;
        esac
    ) >"$out/stdout" 2>"$out/stderr"
    local status=$?
    ((status == 0)) || show
    return $status
}

active() { # the last run's statistics: numa-alloc was active and served allocations
    "$python" -c '
import json, sys
doc = json.load(open(sys.argv[1]))
sys.exit(not (doc.get("active") is True and
              sum(v["allocations"] for k, v in doc.items() if k.startswith("node")) > 0))
' "$out/stats.json" 2>/dev/null
}

one_line_of_ours() { # REGEX: the last run printed exactly one line of ours, matching it
    test "$(grep -c "^numa-alloc:" "$out/stderr")" -eq 1 && grep -Eq "^numa-alloc: $1" "$out/stderr" ||
        { show; false; }
}

no_messages() { # the last run printed nothing of ours
    ! grep -q "numa-alloc:" "$out/stderr"
}

show() { # the last run's output, after a failure
    sed 's/^/  | /' "$out/stdout" "$out/stderr" | head -n 20 >&2
}

limit=300000 # KiB (ulimit -v counts KiB): 300 MB

# The baseline: glibc runs all of it under the limit (else the test says nothing).
run $limit glibc "$python" -c pass
check "glibc: python3 -c pass under ulimit -v $limit" test $? -eq 0
run $limit glibc "$probe" fill 100
check "glibc: a 100 MB block under ulimit -v $limit" test $? -eq 0

for how in preload launcher; do
    run $limit $how "$python" -c pass
    check "$how: python3 -c pass under ulimit -v $limit" test $? -eq 0
    check "$how: python3 ran on numa-alloc" active
    check "$how: python3 without messages" no_messages
    run $limit $how "$probe" fill 100
    check "$how: a 100 MB block, filled, under ulimit -v $limit" test $? -eq 0
    check "$how: the 100 MB block came from numa-alloc" active
    run $limit $how "$probe" exhaust 64
    check "$how: malloc until NULL under ulimit -v $limit: ENOMEM, exit 0" test $? -eq 0
    check "$how: the exhaustion was numa-alloc's" active
done

# glibc's other names for the malloc family (__libc_malloc, __libc_free, cfree...):
# numa-alloc's while it serves, so that a block crosses from one name to the other
# (under glibc they are glibc's, the test's baseline); after a failed start,
# glibc's heap serves both (below).
run 0 glibc "$probe" names
check "glibc: __libc_free(malloc()) and the other crossings" \
    grep -qx "names ok: __libc_malloc from libc.so.6, malloc(1) usable 24" "$out/stdout"
run $limit preload "$probe" names
check "preload: __libc_malloc & co are numa-alloc's, crossed with malloc & co" \
    grep -Eqx "names ok: __libc_malloc from libnumapreload\.so[.0-9]*, malloc\(1\) usable 16" "$out/stdout"

# mlockall under a RLIMIT_MEMLOCK below what the heaps use, without CAP_IPC_LOCK (dropped
# from the bounding set): the heaps give back what they do not use first, the kernel
# still refuses, and one line says why; the program goes on (the passing case, under a
# limit this machine's hard one may not allow, is tests/guest/limits_guest.sh's).
(ulimit -l 1024 && NUMA_ALLOC_STATS="$out/stats.json" LD_PRELOAD=$lib \
    exec setpriv --bounding-set=-ipc_lock --inh-caps=-ipc_lock "$probe" lock current) \
    >"$out/stdout" 2>"$out/stderr"
check "preload: mlockall under RLIMIT_MEMLOCK of 1024 KiB fails, as the kernel says" \
    grep -q "FAIL: mlockall(current): Cannot allocate memory" "$out/stderr"
check "... with one line of numa-alloc's" \
    grep -Eqx "numa-alloc: mlockall refused under RLIMIT_MEMLOCK of 1024 KiB \(ulimit -l\): the process maps [0-9]+ KiB, numa-alloc's heaps included \(what they use and no more\), and the kernel counts all of it" "$out/stderr"
check "... on numa-alloc" active

# What the limit leaves is shared as it comes, as under glibc: the heaps reserve
# address space as they grow, not a share of it at start-up. The probe maps 60 %
# (25 %) of what the limit leaves glibc by itself and takes 25 % (60 %) from malloc,
# in either order; the library's own mappings get 8 MiB of the rest.
share_limit=600000
share_base=$("$probe" vmsize)
for order in map malloc; do
    for pct in 60 25; do
        run $share_limit glibc "$probe" share $pct $order "$share_base"
        check "glibc: $pct % mapped and $((85 - pct)) % from malloc, $order first, under ulimit -v $share_limit" test $? -eq 0
        run $share_limit preload "$probe" share $pct $order "$share_base"
        check "preload: $pct % mapped and $((85 - pct)) % from malloc, $order first, under ulimit -v $share_limit" test $? -eq 0
        check "preload: ... the malloc share from numa-alloc" active
    done
done
run $share_limit preload "$probe" vmsize
check "preload: under ulimit -v the start reserves a node heap's segment, not a share (VmSize $(head -n1 "$out/stdout") KiB against $share_base)" \
    test "$(head -n1 "$out/stdout")" -lt $((share_base + 16384))

# A limit the program puts on itself after the start (Python's resource.setrlimit, a
# harness, a sandbox): the region reserved whole at the start would count against it
# and the program could map nothing more, not even a thread's stack. The heaps give
# back what they do not use and grow under the limit from then on (core/alloc.c,
# give_back_region); blocks with mappings of their own (aligned, grown by realloc)
# stay outside the heaps' range (a mapping inside it was read as a segment).
for how in setrlimit prlimit; do
    run 0 glibc "$probe" lower 1024 $how
    check "glibc: RLIMIT_AS lowered to 1 GiB by $how, then a thread, a mapping, malloc" test $? -eq 0
    run 0 preload "$probe" lower 1024 $how
    check "preload: RLIMIT_AS lowered to 1 GiB by $how, then a thread, a mapping, malloc" test $? -eq 0
    check "preload: ... on numa-alloc, and no line" eval 'active && no_messages'
done
# The same while four threads allocate blocks of every size: the give-back meets heaps
# in use (their frontiers, aligned blocks' own mappings).
run 0 glibc "$probe" lower-busy 4096
check "glibc: RLIMIT_AS lowered to 4 GiB while threads allocate" test $? -eq 0
run 0 preload "$probe" lower-busy 4096
check "preload: RLIMIT_AS lowered to 4 GiB while threads allocate: every block intact" test $? -eq 0
# The same where a container refuses the NUMA calls: the ranges reserved as the heaps
# grow are left unbound, as their start is.
for err in EPERM ENOSYS; do
    run 0 preload "$deny" --errno=$err -- "$probe" lower 1024 setrlimit
    check "preload, NUMA calls refused ($err): RLIMIT_AS lowered to 1 GiB after the start" test $? -eq 0
    run 0 preload "$deny" --errno=$err -- "$probe" raise-fill 2048
    check "preload, NUMA calls refused ($err): lowered, removed, the address space filled" test $? -eq 0
done
lowered='import resource, threading, mmap
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, resource.RLIM_INFINITY))
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, resource.RLIM_INFINITY))
t = threading.Thread(target=lambda: None); t.start(); t.join()
m = mmap.mmap(-1, 64 << 20); m[0] = 1
x = [bytearray(1000) for _ in range(100000)]
resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
print("ok", len(x), len(bytearray(300 << 20)), resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY)'
run 0 glibc "$python" -c "$lowered"
check "glibc: python3 lowers its own RLIMIT_AS, then a thread, an mmap, 400 MB, raises it" grep -qx "ok 100000 314572800 True" "$out/stdout"
run 0 preload "$python" -c "$lowered"
check "preload: python3 lowers its own RLIMIT_AS, then a thread, an mmap, 400 MB, raises it" grep -qx "ok 100000 314572800 True" "$out/stdout"
check "preload: ... on numa-alloc, and no line" eval 'active && no_messages'
# A limit raised again, or removed: the region's unreserved ranges are reserved again
# (core/alloc.c, retake_region), else a program that then fills the address space sends
# the kernel into them, an aligned block's own mapping too (read as a segment: usable
# size 0). limits_probe raise-fill reserves 128 TiB of its own, piece by piece, asking
# for an aligned block after each. Under a soft limit present at the start (the heaps
# laid out in the middle of the largest gap), and one lowered after it.
run soft:3000000 glibc "$probe" raise-fill
check "glibc: a soft ulimit -v raised, then the address space filled: aligned blocks right" test $? -eq 0
run soft:3000000 preload "$probe" raise-fill
check "preload: a soft ulimit -v raised, then the address space filled: aligned blocks right" test $? -eq 0
run 0 preload "$probe" raise-fill 2048
check "preload: RLIMIT_AS lowered after the start, removed, the address space filled: aligned blocks right" test $? -eq 0
# Raised, then lowered again: what was reserved again is given back again.
again='import resource, threading, mmap
soft, hard = resource.getrlimit(resource.RLIMIT_AS)
resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
x = [bytearray(1000) for _ in range(10000)]
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, hard))
t = threading.Thread(target=lambda: None); t.start(); t.join()
m = mmap.mmap(-1, 64 << 20); m[0] = 1
y = [bytearray(1000) for _ in range(100000)]
print("ok", len(y), len(bytearray(300 << 20)))'
for start in soft:3000000 0; do
    what="no limit"
    [[ $start == 0 ]] || what="a soft ulimit -v"
    run $start glibc "$python" -c "$again"
    check "glibc: $what at the start, raised, lowered to 1 GiB: a thread, an mmap, 400 MB" grep -qx "ok 100000 314572800" "$out/stdout"
    run $start preload "$python" -c "$again"
    check "preload: $what at the start, raised, lowered to 1 GiB: a thread, an mmap, 400 MB" grep -qx "ok 100000 314572800" "$out/stdout"
    check "preload: ... on numa-alloc, and no line" eval 'active && no_messages'
done
# A limit too large for that (more than half the address space the heaps hold
# above the last one's frontier, where the kernel is to put the program's
# mappings) leaves the region reserved: one line says so, once.
run 0 preload "$python" -c 'import resource
for gib in (768, 900):
    resource.prlimit(0, resource.RLIMIT_AS, (gib << 30, resource.RLIM_INFINITY))'
check "preload: RLIMIT_AS set after the start to more than the heaps can give back: one line" \
    one_line_of_ours "RLIMIT_AS set to 786432 MiB after the start: the heaps' reservation .* counts against it"
run $share_limit preload "$python" -c 'import resource
hard = resource.getrlimit(resource.RLIMIT_AS)[1]
resource.setrlimit(resource.RLIMIT_AS, (400 << 20, hard))
print("lowered")'
check "preload: lowered again under a limit present at the start: works" grep -qx lowered "$out/stdout"
check "preload: ... and no line (the heaps reserve as they grow)" no_messages

# Refused commits: RLIMIT_DATA makes mprotect(PROT_WRITE) fail with ENOMEM,
# as the commit charge does under vm.overcommit_memory=2.
(
    ulimit -d 200000
    NUMA_ALLOC_STATS="$out/stats.json" LD_PRELOAD=$lib exec "$probe" exhaust 32
) >"$out/stdout" 2>"$out/stderr"
check "preload: malloc until NULL under ulimit -d 200000: ENOMEM, exit 0" test $? -eq 0
check "preload: the refused commits were numa-alloc's" active

# Memory spent (RLIMIT_DATA lowered to what the program has, then 64 KiB blocks until NULL):
# the free blocks in another shard's slabs serve a refill, and the spare slabs of other
# shards and classes give their pages back for a new slab (core/node_heap.c,
# take_from_any_shard, release_other_spares). Before, the first malloc(64) failed with 18750
# blocks of 64 B free in another thread's shard; glibc fails too (the 52nd: the blocks lie in
# the other thread's arena, which the main thread does not allocate from). The
# long purge delay keeps the exited thread's shard's spares (sweep_idle_shards) for the test.
(
    NUMA_ALLOC_PURGE_DELAY_MS=60000 LD_PRELOAD=$lib exec "$probe" shard-reuse
) >"$out/stdout" 2>"$out/stderr"
check "preload: memory spent, another shard's free blocks and empty slabs serve malloc" \
    test $? -eq 0

# The same for a large block: out of memory, the heap's spare slabs give their pages back and
# the allocation is tried again (core/alloc.c, alloc_huge_or_large). Before, a malloc of 1 MiB
# failed beside 1.8 MiB of empty slabs an exited thread left; glibc's freed chunks coalesce.
(
    NUMA_ALLOC_PURGE_DELAY_MS=60000 LD_PRELOAD=$lib exec "$probe" large-reuse
) >"$out/stdout" 2>"$out/stderr"
check "preload: memory spent, the spare slabs' pages serve a large malloc" test $? -eq 0

# A thread's first free of another shard's block makes its away lists (a block of some
# 1.7 KiB, core/thread_cache.c: away_table_create); with no block of that class to be had,
# the freed block goes straight back to its slab, marked free, and the owner gets it again.
(
    NUMA_ALLOC_PURGE_DELAY_MS=60000 LD_PRELOAD=$lib exec "$probe" away-spent
) >"$out/stdout" 2>"$out/stderr"
check "preload: memory spent, a block freed without room for the away lists is reused" \
    test $? -eq 0

# A start that fails after the reservation: the node heaps' first commit is
# refused (a data limit just above what the program and the library map at
# load). Swept, as that depends on the libraries: 32 KiB steps up to the first
# limit the loader passes, then a page at a time over the 128 KiB from the
# step before. No run may die of a signal
# (malloc may return NULL: exit 3, as numa-alloc commits 4 MiB segments and
# a failed start's glibc has the same limit). No run may hold more than one
# reservation (the old code reserved again on every call: +1 TiB each), and a
# failed start none (VmSize as under glibc). The start commits a page or two
# per node heap (their class_slabs wait for the first refill), which the slack
# the loader leaves may hold: a limit that fails the start exists only when
# that slack is smaller, so it is checked when met, not required.
plain=$("$probe" vmsize)
data=$("$probe" vmdata)
failed_starts=0 loaded=0
step=32
for ((kib = data; kib < data + 4096; kib += step)); do
    (
        ulimit -d $kib
        LD_PRELOAD=$lib exec "$probe" vmsize
    ) >"$out/stdout" 2>"$out/stderr"
    status=$?
    ((status == 127)) && continue # the loader could not even map libc
    if ((step > 4)); then
        kib=$((kib - step)) fine_end=$((kib + 128)) step=4
        continue
    fi
    loaded=$((loaded + 1))
    vm=$(head -n1 "$out/stdout")
    check "ulimit -d $kib: exit 0, or 3 for a NULL (exit $status)" test $status -eq 0 -o $status -eq 3
    check "ulimit -d $kib: at most one reservation (VmSize $vm KiB)" \
        test "${vm:-0}" -lt $((plain + (1 << 30) + 65536))
    if grep -q "^numa-alloc: not active: the kernel refused to commit" "$out/stderr"; then
        failed_starts=$((failed_starts + 1))
        check "ulimit -d $kib: a failed start released its reservation ($vm KiB)" \
            test "${vm:-0}" -lt $((plain + 16384))
    elif ((failed_starts > 0 || kib >= fine_end)); then
        break # past the limits at which the first commit fails
    fi
done
check "the data limit sweep reached limits that load the library ($failed_starts failed starts)" \
    test $loaded -gt 0

# Commit charge: the lowest `ulimit -d` (RLIMIT_DATA counts writable private
# memory, as vm.overcommit_memory=2 charges it) under which a small program's
# heap (limits_probe charge: 1 MiB of small blocks, 256 KiB of 64 KiB ones)
# runs, found to 16 KiB, under glibc and under numa-alloc. numa-alloc's young
# segments are committed as their pages are handed out (core/segment.c,
# commit_length); committed whole, 4 MiB at a time, it needed 3.6 MiB more
# than glibc. What it may need more: its .bss (870 KiB), class_slabs (146 KiB),
# a segment's header and 256 KiB steps.
lowest_data_limit() { # preload(or empty) command... -> KiB
    local preload=$1 lo=0 hi=262144 mid
    shift
    while ((hi - lo > 16)); do
        mid=$(((lo + hi) / 2))
        if (ulimit -d $mid && LD_PRELOAD=$preload exec "$@") >/dev/null 2>&1; then
            hi=$mid
        else
            lo=$mid
        fi
    done
    echo $hi
}
charge_glibc=$(lowest_data_limit "" "$probe" charge 1024)
charge_ours=$(lowest_data_limit "$lib" "$probe" charge 1024)
check "ulimit -d: a small heap needs at most 2 MiB more than under glibc ($charge_ours KiB against $charge_glibc)" \
    test $((charge_ours - charge_glibc)) -le 2048

# A huge object's run is writable up to the object's end, not to its last
# segment's (core/segment.c, commit_length): ten blocks of 4200 KiB (two
# segments each) are charged about what glibc charges (8 MiB each before), and
# so are they grown in place by realloc to 7000 KiB.
read -r _ glibc_alloc _ glibc_grown < <("$probe" huge-charge 10)
read -r _ ours_alloc _ ours_grown < <(LD_PRELOAD=$lib "$probe" huge-charge 10)
check "huge blocks: charged within 512 KiB each of glibc's ($ours_alloc KiB against $glibc_alloc)" \
    test $((${ours_alloc:-99999999} - ${glibc_alloc:-0})) -le 5120
check "... and grown in place ($ours_grown KiB against $glibc_grown)" \
    test $((${ours_grown:-99999999} - ${glibc_grown:-0})) -le 5120

# Each huge object writable in part adds two mappings, and vm.max_map_count
# (65530) bounds them for the process: past 1024 such objects at once
# (PARTIAL_HUGE_MAX, core/node_heap.h) runs are committed whole. 1200 blocks
# of 3 MiB, not written, may add at most 2048 mappings and a few more.
read -r _ huge_maps < <(LD_PRELOAD=$lib "$probe" huge-maps 1200)
check "1200 huge blocks add at most 2048 + 64 mappings (${huge_maps:-none})" \
    test "${huge_maps:-99999}" -le 2112

# A freed huge object's run, once purged, is decommitted (core/purge.c,
# purge_run_pages): its charge goes back, as glibc's munmap gives it back. Ten
# blocks grown out of place to 9000 KiB and freed, the purge delay past: VmData
# at most 2 MiB above where it started (124656 KiB above it when purging kept
# the pages writable), and the slot's mappings few.
read -r _ _ _ _ _ freed_purged _ freed_maps < <(LD_PRELOAD=$lib "$probe" freed-charge 10)
check "freed huge blocks: their charge given back (${freed_purged:-none} KiB left)" \
    test "${freed_purged:-99999999}" -le 2048
check "... with at most 64 more mappings (${freed_maps:-none})" test "${freed_maps:-99999}" -le 64

# A decommitted run splits its slot's mapping in three: past 1024 free runs
# marked uncommitted (UNCOMMITTED_RUNS_MAX, core/node_heap.h) a purge keeps
# the pages writable. 3000 blocks of 3 MiB, every other one freed and purged:
# at most 2048 mappings for the live ones (PARTIAL_HUGE_MAX) and 1024 for the
# free runs, a few more (4026 without the bound).
read -r _ freed_runs_maps < <(LD_PRELOAD=$lib "$probe" freed-maps 3000)
check "1500 free runs purged add at most 3072 + 64 mappings (${freed_runs_maps:-none})" \
    test "${freed_runs_maps:-99999}" -le 3136

# Address space: freed blocks at the bump frontier go back whole under an
# address-space limit (core/segment.c, segment_run_trim), as glibc unmaps
# them, and so does a block when the program lowers the limit after its free
# (give_back_region). Before, the blocks' runs were kept: the program could
# map no more after the free than while it held them. A block of 32 MiB or
# more made under the limit has a mapping of its own, unmapped at its free
# (core/alloc.c, alloc_own_mapping): its space goes back where its run would
# not have ended the heap (`inside`).
(ulimit -v 3000000 && LD_PRELOAD=$lib exec "$probe" freed-space 1800 held) >"$out/stdout" 2>&1
check "ulimit -v: 1800 MiB of freed 24 MiB blocks, their address space given back ($(tail -n1 "$out/stdout"))" \
    grep -q 'mapped 1800 MiB after the free' "$out/stdout"
(ulimit -v 3000000 && LD_PRELOAD=$lib exec "$probe" freed-space 1800 inside) >"$out/stdout" 2>&1
check "ulimit -v: a freed 1800 MiB block before a live one, its space given back ($(tail -n1 "$out/stdout"))" \
    grep -q 'mapped 1800 MiB after the free' "$out/stdout"
LD_PRELOAD=$lib "$probe" freed-space 4096 lower >"$out/stdout" 2>&1
check "RLIMIT_AS lowered after a 4 GiB block's free: its space given back ($(tail -n1 "$out/stdout"))" \
    grep -q 'mapped 4096 MiB after the free' "$out/stdout"

# The statistics are built in memory mapped at their first write (core/stats.h,
# stats_workspace), some 320 KiB, or at start-up when the process is to write
# them (NUMA_ALLOC_STATS). A program that lowers its own data limit to just
# above what it uses, then asks for them (numa_alloc_stats_write) is refused
# that memory: -1 with ENOMEM and one line, nothing else harmed; with the limit
# raised they are written. Asked for at exit, they were mapped at the start and
# the limit costs nothing.
lower_data='import ctypes, resource, sys
lib = ctypes.CDLL(None, use_errno=True)
vmdata = int([l for l in open("/proc/self/status") if l.startswith("VmData")][0].split()[1])
hard = resource.getrlimit(resource.RLIMIT_DATA)[1]
resource.setrlimit(resource.RLIMIT_DATA, ((vmdata + 128) * 1024, hard))
if sys.argv[1] == "write":
    rc, err = lib.numa_alloc_stats_write(2, 1), ctypes.get_errno()
    resource.setrlimit(resource.RLIMIT_DATA, (hard, hard))
    print(rc, err, lib.numa_alloc_stats_write(2, 1))'
LD_PRELOAD=$lib "$python" -c "$lower_data" write >"$out/stdout" 2>"$out/stderr"
check "RLIMIT_DATA lowered, statistics asked for: refused, ENOMEM; with it raised, written" \
    grep -qx -- "-1 12 0" "$out/stdout"
check "... and one line says so" \
    test "$(grep -c "^numa-alloc: statistics not written: the kernel refused the memory" "$out/stderr")" -eq 1
check "... and the second write is whole" grep -q '"active": true' "$out/stderr"
run 0 preload "$python" -c "$lower_data" exit
check "RLIMIT_DATA lowered, statistics at exit: written (mapped at the start)" active
check "... and nothing is said" no_messages

# A start that cannot succeed: the limit leaves 24 MiB beyond what the probe maps
# by itself, too little for the heaps' share (numa-alloc takes half of what is
# left, and a node heap needs at least 16 MiB) but plenty for glibc.
base=$("$probe" vmsize)
tight=$((base + 24 * 1024))
run $tight glibc "$probe" basic
check "glibc: the probe runs under ulimit -v $tight" test $? -eq 0
run $tight glibc "$python" -c pass
check "glibc: python3 -c pass under ulimit -v $tight" test $? -eq 0
export NUMA_ALLOC_POLICY=bogus NUMA_ALLOC_STATS_FORMAT=text
run $tight preload "$probe" basic
check "failed start: the program runs on glibc's malloc" test $? -eq 0
check "failed start: every entry point works" grep -qx "basic ok (numa_malloc too)" "$out/stdout"
check "failed start: one line says why" \
    test "$(grep -c "^numa-alloc: not active: ulimit -v leaves .* too little" "$out/stderr")" -eq 1
check "failed start: a bad variable's warning, once" \
    test "$(grep -c "invalid NUMA_ALLOC_POLICY" "$out/stderr")" -eq 1
check "failed start: nothing else from numa-alloc" \
    test "$(grep -c "numa-alloc:" "$out/stderr")" -eq 2
check "failed start: the statistics say numa-alloc was not active" \
    grep -q "^numa-alloc was not active: ulimit -v leaves" "$out/stats.json"
check "failed start: the statistics claim no placement" \
    grep -qx "placement: none (nothing bound, nothing verified)" "$out/stats.json"
unset NUMA_ALLOC_POLICY NUMA_ALLOC_STATS_FORMAT
run $tight preload "$probe" names
check "failed start: __libc_malloc & co reach glibc's heap through numa-alloc's names" \
    grep -Eqx "names ok: __libc_malloc from libnumapreload\.so[.0-9]*, malloc\(1\) usable 24" "$out/stdout"
run $tight preload "$python" -c pass
check "failed start: python3 -c pass runs" test $? -eq 0
"$python" - "$schema" "$out/stats.json" <<'PY'
import json, sys
import jsonschema
doc = json.load(open(sys.argv[2]))
jsonschema.validate(doc, json.load(open(sys.argv[1])))
assert doc["active"] is False and "ulimit -v" in doc["inactive_reason"], doc
assert not any(k.startswith("node") for k in doc), doc
assert doc["placement"]["binding"] == "unbound" and doc["placement"]["verification"] == "unverified", doc
PY
check "failed start: the JSON says active false and validates" test $? -eq 0
run $tight launcher "$probe" basic
check "failed start, launcher: the program runs" test $? -eq 0

exit $fail
