#!/usr/bin/env bash
# test_output.sh LAUNCHER LIB PROBE - numa-alloc's messages and stderr statistics
# never change how a program ends and never land in a file of the program's:
#  - stderr a pipe whose reader has gone: no SIGPIPE kills the program, none reaches
#    its handler, none is left pending for it; its exit status comes back;
#  - a program that closes stderr before it exits (coreutils' close_stdout) still gets
#    its statistics (our own duplicate of the start-up stderr), and without statistics to
#    stderr the library keeps no descriptor at all;
#  - a program that closes descriptors and reuses the numbers for its own file: that
#    file gets none of our output;
#  - one "numa-alloc:" line per bad variable, naming it;
#  - output.failed_writes counts what could not be written.
# PROBE is tests/output_probe.c, run with LIB preloaded.
# shellcheck disable=SC2317 # the helpers below are called through check
set -uo pipefail
launcher=$1 lib=$2 probe=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# shellcheck source=tests/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/check.sh"

# A write end of a pipe with no reader at all (the read end is closed before anyone
# writes: no timing involved), as descriptor $broken.
mkfifo "$dir/fifo"
exec {reader}<>"$dir/fifo" # read-write: opening does not wait for a peer
exec {broken}>"$dir/fifo"
exec {reader}<&-

# preloaded [VAR=VALUE...] -- PROGRAM ARGS: runs with LIB preloaded and stderr the broken
# pipe; prints the exit status (141: killed by SIGPIPE).
preloaded() {
    local vars=()
    while [[ $1 != -- ]]; do
        vars+=("$1")
        shift
    done
    shift
    timeout 20 env LD_PRELOAD="$lib" "${vars[@]}" "$@" >/dev/null 2>&"$broken"
    echo $?
}
status_is() { # EXPECTED GOT
    test "$2" -eq "$1" || { echo "  exit status $2, expected $1"; false; }
}

check "negative control: the broken pipe kills a plain writer with SIGPIPE" \
    status_is 141 "$(sh -c 'echo x >&2' 2>&"$broken"; echo $?)"

# ---- a: the reader of stderr has gone -------------------------------------------------
check "stats=stderr at exit into a broken pipe: the program's status survives" \
    status_is 3 "$(preloaded NUMA_ALLOC_STATS=stderr -- "$probe" plain 3)"
check "a start-up warning into a broken pipe: the program's status survives" \
    status_is 3 "$(preloaded NUMA_ALLOC_POLICY=bogus -- "$probe" plain 3)"
check "the same with SIGPIPE ignored by the program" \
    status_is 3 "$(preloaded NUMA_ALLOC_POLICY=bogus NUMA_ALLOC_STATS=stderr -- "$probe" ignore 3)"
check "the program's SIGPIPE handler never runs for our writes" \
    status_is 3 "$(preloaded NUMA_ALLOC_POLICY=bogus NUMA_ALLOC_STATS=stderr -- "$probe" handler 3)"
check "a message while the program blocks SIGPIPE leaves no SIGPIPE pending for it" \
    status_is 3 "$(preloaded -- "$probe" blocked 3)"
# (negative controls for the two above: the probe's own write to the pipe does reach them)
check "negative control: the probe's handler runs for a write of its own" \
    status_is 99 "$(preloaded -- "$probe" handler self 3)"
check "negative control: a write of its own while blocked kills it at the unblock" \
    status_is 141 "$(preloaded -- "$probe" blocked self 3)"
check "stderr closed at start-up: statistics and warnings dropped, status survives" \
    status_is 3 "$(timeout 20 env LD_PRELOAD="$lib" NUMA_ALLOC_POLICY=bogus \
        NUMA_ALLOC_STATS=stderr "$probe" plain 3 2>&-; echo $?)"
check "stderr a file past ulimit -f: no SIGXFSZ from a warning or the statistics, status survives" \
    status_is 3 "$(ulimit -f 0; timeout 20 env LD_PRELOAD="$lib" NUMA_ALLOC_POLICY=bogus \
        NUMA_ALLOC_STATS=stderr "$probe" plain 3 2>"$dir/fsize.err"; echo $?)"
check "negative control: ulimit -f 0 kills a plain writer of that file with SIGXFSZ" \
    status_is 153 "$(ulimit -f 0; sh -c 'echo x >&2' 2>"$dir/fsize2.err"; echo $?)"

# ---- b: programs that close stderr at exit still get their statistics ---------------
printf 'b\na\nc\n' >"$dir/input"
for cmd in "/usr/bin/sort $dir/input" "/usr/bin/cat $dir/input" "/usr/bin/ls $dir"; do
    # shellcheck disable=SC2086 # the command's words
    timeout 20 "$launcher" --stats=stderr -- $cmd >"$dir/out" 2>"$dir/err"
    check "numa-alloc --stats=stderr -- ${cmd%% *}: runs" test $? -eq 0
    check "numa-alloc --stats=stderr -- ${cmd%% *}: the statistics reach stderr" \
        grep -q '"failed_writes": 0' "$dir/err"
done
check "sort's own output is intact" test "$(tr -d '\n' <"$dir/out" | head -c 3)" != ""

# A forked child that closes its stderr: its statistics still come (it keeps our duplicate).
timeout 20 env LD_PRELOAD="$lib" NUMA_ALLOC_STATS=stderr "$probe" forkclose 0 2>"$dir/err"
check "fork: the program ends normally" test $? -eq 0
check "fork: parent and child (stderr closed) both print their statistics" \
    test "$(grep -c '"failed_writes": 0' "$dir/err")" -eq 2
# Few descriptors (ulimit -n 8): our duplicate goes lower, or we write to fd 2 itself.
out=$( (ulimit -n 8 && timeout 20 env LD_PRELOAD="$lib" NUMA_ALLOC_POLICY=bogus \
    NUMA_ALLOC_STATS=stderr "$probe" plain 0) 2>&1)
check "ulimit -n 8: the warning still comes" \
    grep -q "invalid NUMA_ALLOC_POLICY" <<<"$out"
check "ulimit -n 8: ... and the statistics" grep -q '"failed_writes": 0' <<<"$out"

# exec closes our duplicate: a program started without the library inherits nothing more.
baseline=$(env -u LD_PRELOAD /usr/bin/ls /proc/self/fd 2>/dev/null | tr '\n' ' ')
inherited=$(env LD_PRELOAD="$lib" /bin/sh -c 'exec env -u LD_PRELOAD /usr/bin/ls /proc/self/fd' \
    2>/dev/null | tr '\n' ' ')
check "exec closes our descriptor (close-on-exec): $inherited" test "$inherited" = "$baseline"

# Without statistics or a profile to stderr the library keeps no descriptor (a program that
# lists its own, as Python's test_subprocess does, sees what it would see under glibc);
# with them, one: the duplicate.
fds() { env "$@" /usr/bin/ls /proc/self/fd 2>/dev/null | grep -c .; }
plain_fds=$(fds -u LD_PRELOAD)
check "no statistics to stderr: no descriptor of ours ($(fds LD_PRELOAD="$lib") against $plain_fds)" \
    test "$(fds LD_PRELOAD="$lib")" -eq "$plain_fds"
check "statistics to a file: none either" \
    test "$(fds LD_PRELOAD="$lib" NUMA_ALLOC_STATS="$dir/stats.json")" -eq "$plain_fds"
check "statistics to stderr: our duplicate, one more" \
    test "$(fds LD_PRELOAD="$lib" NUMA_ALLOC_STATS=stderr)" -eq $((plain_fds + 1))

# ---- c: a number the program reuses for its own file gets none of our output --------
# (a file of the program's: opened close-on-exec; a stderr never is, or its programs
# would lose it)
only_mine() { test "$(cat "$1")" = mine || { echo "  $1 holds:"; head -n3 "$1"; false; }; }
timeout 20 env LD_PRELOAD="$lib" NUMA_ALLOC_STATS=stderr "$probe" reuse "$dir/log" 0 \
    2>"$dir/err"
check "reuse: the program ends normally" test $? -eq 0
check "reuse: fd 2 closed and reopened as the program's log: the log is only the program's" \
    only_mine "$dir/log"
check "reuse: the statistics went to the stderr of the start" grep -q '"failed_writes"' "$dir/err"
timeout 20 env LD_PRELOAD="$lib" NUMA_ALLOC_STATS=stderr "$probe" closeall "$dir/log" 0 \
    2>"$dir/err"
check "closeall: the program ends normally" test $? -eq 0
check "closeall: its file at fd 2 and at our descriptor's number is only the program's" \
    only_mine "$dir/log"
# A stderr the program redirected itself (a test harness, a daemon's log) gets our messages,
# as it gets the program's own and glibc's.
timeout 20 env LD_PRELOAD="$lib" NUMA_ALLOC_STATS=stderr "$probe" redirect "$dir/log" 0 \
    2>"$dir/err"
check "redirect: the program ends normally" test $? -eq 0
check "redirect: our message follows the program's dup2 onto fd 2" \
    grep -q "^numa-alloc: realloc(): pointer not from numa-alloc" "$dir/log"
check "redirect: so do the statistics at exit" grep -q '"failed_writes"' "$dir/log"

# ---- d: one line per bad variable --------------------------------------------------------
long=$(printf 'x%.0s' {1..300})
# lines VAR=VALUE...: the "numa-alloc:" lines of a run with these variables
lines() { timeout 20 env LD_PRELOAD="$lib" "$@" "$probe" plain 0 2>&1 >/dev/null | grep '^numa-alloc:'; }
one_line_naming() { # VARIABLE VAR=VALUE...
    local name=$1 out
    shift
    out=$(lines "$@")
    if test "$(grep -c . <<<"$out")" -ne 1 || ! grep -q "$name" <<<"$out"; then
        echo "  $*:"
        echo "$out"
        return 1
    fi
}
for bad in NUMA_ALLOC_POLICY=bogus NUMA_ALLOC_NODES=bogus NUMA_ALLOC_WEIGHTS=bogus \
    NUMA_ALLOC_FALLBACK=bogus "NUMA_ALLOC_STATS=$long" NUMA_ALLOC_STATS_FORMAT=bogus \
    NUMA_ALLOC_STATS_LIVE=bogus NUMA_ALLOC_PURGE_DELAY_MS=bogus; do
    check "${bad%%=*}=bad: one line naming it" one_line_naming "${bad%%=*}" "$bad"
done
check "NODES=bogus under the default policy: one line" \
    one_line_naming NUMA_ALLOC_NODES NUMA_ALLOC_NODES=bogus
check "POLICY=bind NODES=99: one line" \
    one_line_naming NUMA_ALLOC_NODES NUMA_ALLOC_POLICY=bind NUMA_ALLOC_NODES=99
check "POLICY=interleave NODES=99: one line" \
    one_line_naming NUMA_ALLOC_NODES NUMA_ALLOC_POLICY=interleave NUMA_ALLOC_NODES=99
check "POLICY=preferred NODES=bogus: one line" \
    one_line_naming NUMA_ALLOC_NODES NUMA_ALLOC_POLICY=preferred NUMA_ALLOC_NODES=bogus
check "POLICY=weighted-interleave WEIGHTS=bogus: one line" \
    one_line_naming NUMA_ALLOC_WEIGHTS NUMA_ALLOC_POLICY=weighted-interleave NUMA_ALLOC_WEIGHTS=bogus
check "POLICY=weighted-interleave WEIGHTS=99:1: one line" \
    one_line_naming NUMA_ALLOC_WEIGHTS NUMA_ALLOC_POLICY=weighted-interleave NUMA_ALLOC_WEIGHTS=99:1
check "POLICY=weighted-interleave without WEIGHTS: no line (the kernel's or equal weights)" \
    test -z "$(lines NUMA_ALLOC_POLICY=weighted-interleave)"
check "POLICY=bind without NODES: one line" \
    one_line_naming NUMA_ALLOC_NODES NUMA_ALLOC_POLICY=bind
two=$(lines NUMA_ALLOC_POLICY=bogus NUMA_ALLOC_NODES=bogus)
check "POLICY=bogus NODES=bogus: two lines, one per variable" \
    test "$(grep -c . <<<"$two")" -eq 2 -a "$(grep -c 'NUMA_ALLOC_POLICY="bogus"' <<<"$two")" -eq 1 \
    -a "$(grep -c 'NUMA_ALLOC_NODES="bogus"' <<<"$two")" -eq 1
check "the line says what was used instead" \
    grep -q 'invalid NUMA_ALLOC_NODES="bogus" .*; ignored under NUMA_ALLOC_POLICY=local' \
    <<<"$(lines NUMA_ALLOC_NODES=bogus)"

# ---- e: failed writes are counted ----------------------------------------------------------
check "statsto with stderr a broken pipe: the program ends normally" \
    status_is 0 "$(preloaded NUMA_ALLOC_POLICY=bogus -- "$probe" statsto "$dir/stats.json" 0)"
failed=$(grep -o '"failed_writes": [0-9]*' "$dir/stats.json" | grep -o '[0-9]*$')
check "output.failed_writes counts the warning lost in the broken pipe (${failed:-none})" \
    test "${failed:-0}" -ge 1

exec {broken}>&-
exit $fail
