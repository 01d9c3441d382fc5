# tests/programs/lib.sh - shared helpers of the real-program tests (run-*.sh).
# Sourced, not executed. Each run-<name>.sh:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   na_setup <name> "$@"          # $1: path to libnumapreload.so
#   workload() { ... }            # runs the program(s) under test through
#                                 # na_prog / na_prog_watched; prints only
#                                 # deterministic results on stdout
#   na_run_both workload          # once without, once with LD_PRELOAD
#   na_compare                    # same exit status (0) and same stdout
#   na_prove_loaded               # the preloaded run really ran on numa-alloc
#   na_pass
#
# How "loaded" is proven, for every preloaded command (na_prog):
#   - LD_DEBUG=bindings, written per process to <work>/preload/lddebug/ld.<pid>
#     (LD_DEBUG_OUTPUT, so the program's own output is untouched): every
#     process that resolved `malloc' must have bound it to libnumapreload.so
#     (and to no other shared object), and at least one must have;
#   - for the commands run with na_prog_watched: /proc/<pid>/maps of the
#     process (or of one of its descendants) is polled while it runs and must
#     contain libnumapreload.so, or (for a process too short to be seen) the
#     library must have written its statistics at exit - and neither may
#     happen in the run without the preload (a negative control: the check
#     is able to say "no").
#
# Environment: NA_KEEP=1 keeps the work directory even when the test passes.

# --- setup and reporting -----------------------------------------------------

na_setup() {
    NA_NAME=$1
    local lib=${2:-}
    if [[ -z $lib ]]; then
        echo "run-$NA_NAME: usage: run-$NA_NAME.sh <path to libnumapreload.so>" >&2
        exit 2
    fi
    if [[ ! -f $lib ]]; then
        echo "run-$NA_NAME: FAIL: library not found: $lib" >&2
        exit 1
    fi
    NA_LIB=$(realpath "$lib")
    # shellcheck disable=SC2034 # for the run-*.sh scripts: their own files
    NA_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    NA_WORK=$(mktemp -d "${TMPDIR:-/tmp}/numa-alloc-$NA_NAME.XXXXXX")
    NA_START=$SECONDS
    trap na_on_exit EXIT
    # The same locale and time zone for both runs.
    export LC_ALL=C TZ=UTC
}

na_on_exit() {
    local rc=$?
    if ((rc == 0)) && [[ ${NA_KEEP:-0} != 1 ]]; then
        rm -rf "$NA_WORK"
    else
        echo "run-$NA_NAME: work directory kept: $NA_WORK" >&2
    fi
}

na_log() {
    echo "run-$NA_NAME: $*"
}

na_fail() {
    echo "run-$NA_NAME: FAIL: $*" >&2
    exit 1
}

# na_shared_work : for a workload that drops privileges (run-postgres.sh, as
# root): the work directory and every directory made below it from now on are
# open to all (umask 0), so that another user's processes can write the
# LD_DEBUG traces, the statistics and their own files there.
na_shared_work() {
    NA_SHARED=1
    chmod 755 "$NA_WORK"
    umask 000
}

na_pass() {
    na_log "PASS ($((SECONDS - NA_START)) s)"
}

# na_need <command>... : each must be installed.
na_need() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 ||
            na_fail "'$c' is not installed (run tools/install-deps.sh; see tools/packages.txt)"
    done
}

# --- running the program under test ------------------------------------------

# na_prog <command> [args...] : runs the command; in the preloaded run with
# LD_PRELOAD=libnumapreload.so and the LD_DEBUG=bindings trace.
na_prog() {
    if [[ $NA_MODE == preload ]]; then
        LD_PRELOAD=$NA_LIB LD_DEBUG=bindings LD_DEBUG_OUTPUT=$NA_OUT/lddebug/ld "$@"
    else
        "$@"
    fi
}

# na_maps_of_tree <pid> : prints the lines of /proc/*/maps of pid and of all
# its descendants that name libnumapreload.so (nothing when none).
na_maps_of_tree() {
    local pid=$1 kid
    grep -F "$NA_LIB" "/proc/$pid/maps" 2>/dev/null || true
    # shellcheck disable=SC2013 # the files hold space-separated pids
    for kid in $(cat /proc/"$pid"/task/*/children 2>/dev/null || true); do
        na_maps_of_tree "$kid"
    done
}

# na_prog_watched <command> [args...] : like na_prog, and polls /proc/<pid>/maps
# of the command's process tree while it runs; a sighting is recorded in
# $NA_OUT/maps. Returns the command's exit status. Stdin is inherited (a
# background job would otherwise read /dev/null). The polling can miss a
# process that ends within a few milliseconds under load, so the command also
# runs with NUMA_ALLOC_STATS=<dir>/%p.json: a statistics file written at exit
# by any process of the tree is the witness then (in both runs, so the run
# without the preload, which writes none, stays the negative control).
na_prog_watched() {
    local pid rc=0 seen="" witness file
    witness=$(mktemp -d "$NA_OUT/witness.XXXXXX")
    [[ -z ${NA_SHARED:-} ]] || chmod 1777 "$witness"
    NUMA_ALLOC_STATS="$witness/%p.json" na_prog "$@" <&0 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        seen=$(na_maps_of_tree "$pid" | head -n 1)
        [[ -n $seen ]] && break
        sleep 0.02
    done
    wait "$pid" || rc=$?
    if [[ -z $seen ]]; then
        for file in "$witness"/*.json; do
            grep -q '"remote_pct"' "$file" 2>/dev/null && seen="statistics written at exit: ${file##*/}" && break
        done
    fi
    printf '%s\t%s\n' "${seen:-NOT-MAPPED}" "$*" >>"$NA_OUT/maps"
    return "$rc"
}

# na_run <plain|preload> <function> : runs the workload function in a subshell
# (set -e, cwd $NA_OUT/work), stdout to $NA_OUT/stdout, stderr to $NA_OUT/stderr,
# exit status to $NA_OUT/status.
na_run() {
    NA_MODE=$1
    NA_OUT=$NA_WORK/$1
    local fn=$2 rc t0=$SECONDS
    mkdir -p "$NA_OUT/work" "$NA_OUT/lddebug"
    : >"$NA_OUT/maps"
    set +e
    (
        set -eE
        trap 'echo "run-$NA_NAME: [$NA_MODE] command failed (status $?): $BASH_COMMAND" >&2' ERR
        cd "$NA_OUT/work"
        "$fn"
    ) >"$NA_OUT/stdout" 2>"$NA_OUT/stderr"
    rc=$?
    set -e
    echo "$rc" >"$NA_OUT/status"
    na_log "$NA_MODE run: exit status $rc, $((SECONDS - t0)) s"
}

# na_run_both <function> : the run without the preload, then the one with it.
na_run_both() {
    na_run plain "$1"
    na_run preload "$1"
}

na_show() {
    local f=$1 n=${2:-40}
    echo "---- $f (last $n lines) ----" >&2
    tail -n "$n" "$f" >&2 || true
}

# na_compare : both runs exited 0 and printed the same stdout.
na_compare() {
    local p=$NA_WORK/plain q=$NA_WORK/preload
    local sp sq
    sp=$(<"$p/status")
    sq=$(<"$q/status")
    if [[ $sp != 0 ]]; then
        na_show "$p/stderr"
        na_fail "the run WITHOUT the preload failed (exit status $sp): the test or its environment is broken, not the allocator"
    fi
    if [[ $sq != 0 ]]; then
        na_show "$q/stderr"
        na_show "$q/stdout" 20
        na_fail "the run WITH LD_PRELOAD=$NA_LIB failed: exit status $sq (without the preload: 0)"
    fi
    if ! cmp -s "$p/stdout" "$q/stdout"; then
        echo "---- diff of the results, without (-) and with (+) the preload ----" >&2
        diff -u "$p/stdout" "$q/stdout" | head -n 60 >&2 || true
        na_fail "the results differ with LD_PRELOAD=$NA_LIB"
    fi
    if [[ ! -s $p/stdout ]]; then
        na_fail "the workload printed no result to compare"
    fi
    na_log "same exit status (0) and same results ($(wc -l <"$p/stdout") lines, sha256 $(sha256sum <"$p/stdout" | cut -c1-16)) with and without the preload"
}

# na_prove_loaded : the preloaded run bound malloc to libnumapreload.so in its
# processes, and the watched commands had it mapped (and the plain ones not).
# A process "ran on numa-alloc" when some object of it (the program, libc, ...)
# bound `malloc' to libnumapreload.so. No process may bind malloc to another
# shared object (libc's malloc, another allocator). A binding to the program
# itself is allowed: a non-PIE program (Debian's python3.11) that takes
# malloc's address exports a canonical PLT entry, which jumps to whatever its
# own PLT slot was bound to - shown by its own binding line.
na_prove_loaded() {
    local dir=$NA_WORK/preload/lddebug procs ours foreign f without=()
    procs=$(find "$dir" -name 'ld.*' | wc -l)
    ((procs > 0)) || na_fail "no LD_DEBUG trace: no program was started with the preload"
    ours=0
    for f in "$dir"/ld.*; do
        if grep -qF "to $NA_LIB [0]: normal symbol \`malloc'" "$f"; then
            ours=$((ours + 1))
        elif grep -q "normal symbol \`malloc'" "$f"; then
            without+=("$(grep -m1 "normal symbol \`malloc'" "$f")")
        fi
    done
    if ((${#without[@]} > 0)); then
        printf '%s\n' "${without[@]}" | head -n 5 >&2
        na_fail "${#without[@]} process(es) of the preloaded run resolved malloc without $NA_LIB"
    fi
    foreign=$(grep -hE "to [^ ]+\.so(\.[0-9.]+)? \[[0-9]+\]: normal symbol \`malloc'" "$dir"/ld.* |
        grep -vF "to $NA_LIB [" || true)
    if [[ -n $foreign ]]; then
        echo "$foreign" | head -n 5 >&2
        na_fail "with LD_PRELOAD, malloc was bound to another shared object than $NA_LIB"
    fi
    ((ours > 0)) || na_fail "no process of the preloaded run bound malloc to $NA_LIB"
    na_log "LD_DEBUG=bindings: all $ours processes that resolved malloc bound it to libnumapreload.so ($procs traced)"

    if [[ -s $NA_WORK/preload/maps ]]; then
        local missing present
        missing=$(grep -P '^NOT-MAPPED\t' "$NA_WORK/preload/maps" || true)
        if [[ -n $missing ]]; then
            na_fail "libnumapreload.so was not seen (neither in /proc/<pid>/maps nor by its statistics at exit) in: $(cut -f2 <<<"$missing" | head -n 3)"
        fi
        present=$(grep -vP '^NOT-MAPPED\t' "$NA_WORK/plain/maps" || true)
        if [[ -n $present ]]; then
            na_fail "negative control failed: libnumapreload.so mapped WITHOUT the preload in: $(cut -f2 <<<"$present" | head -n 3)"
        fi
        na_log "libnumapreload.so seen (mapped in /proc/<pid>/maps, or its statistics written at exit) in all $(wc -l <"$NA_WORK/preload/maps") watched commands with the preload, in none without; e.g."
        na_log "  $(head -n 1 "$NA_WORK/preload/maps" | cut -f1 | tr -s ' ')"
    fi
}
