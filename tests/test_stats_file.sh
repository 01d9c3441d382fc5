#!/usr/bin/env bash
# test_stats_file.sh LIB PROBE [LAUNCHER] - NUMA_ALLOC_STATS=PATH, the statistics
# file written at exit (issue 11), by a process of root in a place another user
# (nobody) can write to. Each case runs PROBE (tests/stats_file_probe.c) with LIB
# preloaded:
#   a. nobody plants DIR/numa.<pid>.json as a symbolic link to a root-only file,
#      before the program starts (sh holds the pid, then execs the probe) or while
#      it runs (the probe waits on a FIFO): the file is untouched, one line says so;
#      nor when nobody swaps its own directory for a link to the file's directory;
#   b. nobody's own 0666 file there receives nothing;
#   c. a FIFO without a reader never blocks the exit; the exit status is the program's;
#   d. a directory that does not exist, is not writable or is not a directory:
#      one line at start-up naming the variable, the exit status unchanged;
#   e. a relative path is resolved at start-up: a chdir() later does not move the file;
#   f. a path too long once %p is expanded: one line, no truncated file;
#   g. the file is 0600 whatever the umask, NUMA_ALLOC_STATS_MODE changes that (a bad
#      value: one line), an existing file of our own is replaced (a new inode);
#   h. a forked child writes its own %p file;
#   i. /dev/stderr is the stderr keyword: never reopened (and so never truncated);
#   j. the launcher's --stats-mode (when LAUNCHER is given);
#   k. a write that fails (past ulimit -f) leaves nothing, says nothing, kills nothing;
#   l. %e (the program's name, made a safe file name) and %t (its start, in seconds):
#      files named with them, a fork child's own, an exec'd program's name, the name
#      of the program when a thread named otherwise ends it, the length check
#      counting %e as 15 characters and %t as 20 digits;
#   m. NUMA_ALLOC_STATS_SCOPE=top: a shell pipeline of several processes, a fork, a
#      subshell: statistics from the top process only (with the launcher's
#      --stats-scope=top, its NUMA_ALLOC_STATS_TOP_PID, and without it);
#   n. 1 and 0 are switches (mimalloc's MIMALLOC_SHOW_STATS=1): stderr and off, never
#      files named 1 or 0 in the working directory; an empty value is off.
# shellcheck disable=SC2317 # the helpers below are called through check and held_$when
# shellcheck disable=SC2016 # sh -c scripts take their arguments as $1, $2...
set -uo pipefail
lib=$(readlink -f "$1") probe=$(readlink -f "$2") launcher=${3:+$(readlink -f "$3")}
python=/usr/bin/python3 # Debian's, not a pyenv shim
out=$(mktemp -d)
trap 'exec 3>&- 2>/dev/null; rm -rf "$out"' EXIT
chmod 755 "$out" # nobody reaches the directories below, not the private one
mkdir -m 1777 "$out/sticky"
mkdir -m 700 "$out/private"
secret=$out/private/secret
printf 'root only\n' >"$secret"
chmod 600 "$secret"
cp -p "$secret" "$out/private/secret.orig"
sticky=$out/sticky
# shellcheck source=tests/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/check.sh"

group=nogroup
getent group nogroup >/dev/null || group=nobody
as_nobody() { setpriv --reuid=nobody --regid="$group" --clear-groups "$@"; }

warnings() { grep -c '^numa-alloc:' "$1"; }
# one_line FILE REGEX: exactly one line of ours in FILE, and it matches REGEX.
one_line() {
    if test "$(warnings "$1")" -eq 1 && grep -Eq "^numa-alloc: $2" "$1"; then
        return 0
    fi
    sed 's/^/  | /' "$1" | cut -c1-300
    false
}
no_line() { test "$(warnings "$1")" -eq 0 || { sed 's/^/  | /' "$1"; false; }; }
# first_line FILE: our line came at start-up, before the program's last words.
at_start() { head -n 1 "$1" | grep -q '^numa-alloc:'; }
# listing DIR NAMES...: DIR holds exactly NAMES (no temporary file left behind).
listing() {
    local dir=$1 expected=""
    shift
    (($# == 0)) || expected=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
    test "$(find "$dir" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort | tr '\n' ' ')" = "$expected" ||
        { find "$dir" -mindepth 1 -maxdepth 1 -printf '  | %M %u %f\n'; false; }
}
valid_json() { "$python" -c 'import json, sys; json.load(open(sys.argv[1]))' "$1"; }
json_pid() { "$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["pid"])' "$1"; }
unchanged_secret() {
    cmp -s "$secret" "$out/private/secret.orig" && test "$(stat -c %U:%a "$secret")" = root:600
}

# run STATS CMD...: the probe with LIB and NUMA_ALLOC_STATS=STATS; $status, $out/stderr.
run() {
    local stats=$1
    shift
    timeout 20 env LD_PRELOAD="$lib" NUMA_ALLOC_STATS="$stats" "$@" >"$out/stdout" 2>"$out/stderr"
    status=$?
}

wait_for_pid() { # the file the held process writes its pid to
    for _ in $(seq 300); do
        [ -s "$1" ] && break
        sleep 0.1
    done
    pid=$(cat "$1")
}

# held_start STATS: the probe (exit 0) with NUMA_ALLOC_STATS=STATS, held in sh
# before it starts: exec keeps the pid (sh's own destructors do not run). Sets $pid.
held_start() {
    rm -f "$out/pid" "$out/go" && mkfifo "$out/go"
    exec 3<>"$out/go" # never blocks; the held process waits for a line on it
    timeout 20 env LD_PRELOAD="$lib" NUMA_ALLOC_STATS="$1" \
        sh -c 'echo $$ >"$1"; read -r x <"$2"; exec "$3" exit 0' sh "$out/pid" "$out/go" "$probe" \
        >"$out/stdout" 2>"$out/stderr" &
    job=$!
    wait_for_pid "$out/pid"
}

# held_exit STATS: the same, but the probe has started (its start-up checks are
# done) and waits before it exits.
held_exit() {
    # The last run's output must go first: its stdout would pass for this probe's start
    # before the background job truncates it (a race seen under load).
    rm -f "$out/go" "$out/stdout" && mkfifo "$out/go"
    exec 3<>"$out/go"
    timeout 20 env LD_PRELOAD="$lib" NUMA_ALLOC_STATS="$1" "$probe" wait "$out/go" \
        >"$out/stdout" 2>"$out/stderr" &
    job=$!
    wait_for_pid "$out/stdout"
}

release() {
    echo go >&3
    exec 3>&-
    wait "$job"
    status=$?
}

# ---- a. a symbolic link planted by another user ----------------------------------
for when in start exit; do
    rm -rf "${sticky:?}"/*
    held_$when "$sticky/numa.%p.json"
    as_nobody ln -s "$secret" "$sticky/numa.$pid.json"
    release
    check "a/$when: exit status 0" test "$status" -eq 0
    check "a/$when: the root-only file behind nobody's link is unchanged" unchanged_secret
    check "a/$when: one line says the statistics were not written" \
        one_line "$out/stderr" ".*numa\.$pid\.json is a symbolic link; statistics (will )?not (be )?written"
    check "a/$when: the link is left, no temporary file" listing "$sticky" "numa.$pid.json"
    check "a/$when: it is still nobody's link" test -L "$sticky/numa.$pid.json"
done

# A directory of nobody's, swapped for a link to the root-only file's directory
# while the program runs: the file must not land (or replace anything) there.
rm -rf "${sticky:?}"/*
as_nobody mkdir "$sticky/nobodys"
held_exit "$sticky/nobodys/secret"
as_nobody sh -c 'mv "$1" "$1.old" && ln -s "$2" "$1"' sh "$sticky/nobodys" "$out/private"
release
check "a/dir: exit status 0" test "$status" -eq 0
check "a/dir: the root-only file in the directory linked to is unchanged" unchanged_secret
check "a/dir: nothing else there" listing "$out/private" secret secret.orig
check "a/dir: one line says why" \
    one_line "$out/stderr" ".*cannot write into .*nobodys \(not the directory it was at start-up\); statistics not written"

# ---- b. another user's own file ------------------------------------------------------
for when in start exit; do
    rm -rf "${sticky:?}"/*
    held_$when "$sticky/numa.%p.json"
    as_nobody sh -c 'umask 0 && : >"$1" && chmod 666 "$1"' sh "$sticky/numa.$pid.json"
    release
    check "b/$when: exit status 0" test "$status" -eq 0
    check "b/$when: nobody's 0666 file receives nothing" \
        test ! -s "$sticky/numa.$pid.json" -a "$(stat -c %U "$sticky/numa.$pid.json")" = nobody
    check "b/$when: one line says why" \
        one_line "$out/stderr" ".*numa\.$pid\.json belongs to another user; statistics (will )?not"
    check "b/$when: no temporary file" listing "$sticky" "numa.$pid.json"
done

# ---- c. a FIFO without a reader ----------------------------------------------------
mkfifo "$out/fifo"
run "$out/fifo" "$probe" exit 7
check "c: a FIFO never blocks the exit, the status is the program's (7)" test "$status" -eq 7
check "c: one line says why" one_line "$out/stderr" ".*fifo is a FIFO; statistics will not be written"

# ---- d. a directory that cannot be written into ----------------------------------
run /nonexistent/dir/x.json "$probe" exit 5
check "d: exit status unchanged (5)" test "$status" -eq 5
check "d: one line naming the variable and the reason" one_line "$out/stderr" \
    "NUMA_ALLOC_STATS=/nonexistent/dir/x.json: cannot write into /nonexistent/dir \(no such directory\); statistics are off"
check "d: said at start-up" at_start "$out/stderr"
run "$secret/x.json" "$probe" exit 0
check "d: a file as the directory: one line" \
    one_line "$out/stderr" "NUMA_ALLOC_STATS=.*: cannot write into .* \(not a directory\); statistics are off"
run "$out/private/x.json" setpriv --reuid=nobody --regid="$group" --clear-groups "$probe" exit 0
check "d: a directory nobody cannot write into, for nobody: one line" \
    one_line "$out/stderr" "NUMA_ALLOC_STATS=.*: cannot write into .*private \(permission denied\); statistics are off"
check "d: and no file" test ! -e "$out/private/x.json"

# ---- e. a relative path, then chdir() ----------------------------------------------
mkdir "$out/e-start" "$out/e-later"
(cd "$out/e-start" && run e.json "$probe" chdir ../e-later && exit "$status")
check "e: exit status 0" test $? -eq 0
check "e: the file is where the program started" valid_json "$out/e-start/e.json"
check "e: not where it went" test ! -e "$out/e-later/e.json"

# ---- f. too long once %p is expanded -------------------------------------------------
mkdir "$out/f"
long=$out/f/
long=$long$(head -c $((4090 - ${#long} - 2)) /dev/zero | tr '\0' a)%p
run "$long" "$probe" exit 0
check "f: a path of ${#long} bytes with %p: exit status 0" test "$status" -eq 0
check "f: one line says it is too long" one_line "$out/stderr" "NUMA_ALLOC_STATS=.*too long.*statistics are off"
check "f: no file at all" listing "$out/f"
# A short value whose %p make a file name longer than NAME_MAX (once cut to fit a buffer).
mkdir "$out/f/a-directory-name-long-enough-to-leave-no-room"
many=$out/f/a-directory-name-long-enough-to-leave-no-room/
while ((${#many} < 250)); do many=$many%p; done
run "$many" "$probe" exit 0
check "f: a name that %p make too long: one line" one_line "$out/stderr" "NUMA_ALLOC_STATS=.*too long.*statistics are off"
check "f: no truncated file" listing "$out/f" a-directory-name-long-enough-to-leave-no-room
check "f: nothing in the directory either" listing "$out/f/a-directory-name-long-enough-to-leave-no-room"

# ---- g. the mode, and replacing our own file ------------------------------------------
mkdir "$out/g"
(umask 000 && run "$out/g/default.json" "$probe" exit 0 && exit "$status")
check "g: umask 000: exit status 0" test $? -eq 0
check "g: umask 000: the file is 0600, root's" test "$(stat -c %a:%U "$out/g/default.json")" = 600:root
NUMA_ALLOC_STATS_MODE=0644 run "$out/g/shared.json" "$probe" exit 0
check "g: NUMA_ALLOC_STATS_MODE=0644 gives 0644" test "$(stat -c %a "$out/g/shared.json")" = 644
check "g: and no line" no_line "$out/stderr"
NUMA_ALLOC_STATS_MODE=0755 run "$out/g/bad.json" "$probe" exit 0
check "g: NUMA_ALLOC_STATS_MODE=0755 (execute bits): one line naming it" \
    one_line "$out/stderr" "invalid NUMA_ALLOC_STATS_MODE=\"0755\""
check "g: and the default mode" test "$(stat -c %a "$out/g/bad.json")" = 600
printf 'old\n' >"$out/g/existing.json"
chmod 600 "$out/g/existing.json"
inode=$(stat -c %i "$out/g/existing.json")
run "$out/g/existing.json" "$probe" exit 0
check "g: an existing file of our own: no line" no_line "$out/stderr"
check "g: it is replaced (a new inode)" test "$(stat -c %i "$out/g/existing.json")" != "$inode"
check "g: with valid JSON" valid_json "$out/g/existing.json"
check "g: no temporary file" listing "$out/g" default.json shared.json bad.json existing.json

# ---- h. a forked child writes its own file -------------------------------------------
mkdir "$out/h"
run "$out/h/numa.%p.json" "$probe" fork
check "h: exit status 0" test "$status" -eq 0
read -r parent child <"$out/stdout"
check "h: the parent's file has its pid" test "$(json_pid "$out/h/numa.$parent.json")" = "$parent"
check "h: the child's file has its pid" test "$(json_pid "$out/h/numa.$child.json")" = "$child"
check "h: no other file" listing "$out/h" "numa.$parent.json" "numa.$child.json"

# ---- i. /dev/stderr is the keyword -------------------------------------------------
run /dev/stderr "$probe" exit 0
check "i: /dev/stderr: the program's own output is kept" grep -q '^stats_file_probe: exiting' "$out/stderr"
check "i: and the statistics follow it" grep -q '"remote_pct"' "$out/stderr"
check "i: no line of ours" no_line "$out/stderr"

# ---- n. 1 and 0 are switches, not file names ----------------------------------------
mkdir "$out/n"
(cd "$out/n" && run 1 "$probe" exit 0 && exit "$status")
check "n: NUMA_ALLOC_STATS=1: exit status 0" test $? -eq 0
check "n: NUMA_ALLOC_STATS=1: the statistics on stderr" grep -q '"remote_pct"' "$out/stderr"
(cd "$out/n" && run 0 "$probe" exit 0 && exit "$status")
check "n: NUMA_ALLOC_STATS=0: exit status 0" test $? -eq 0
check "n: NUMA_ALLOC_STATS=0: no statistics" test "$(grep -c remote_pct "$out/stderr")" -eq 0
check "n: NUMA_ALLOC_STATS=0: no line of ours" no_line "$out/stderr"
check "n: no file named 1 or 0" listing "$out/n"
# An empty value is unset (policy/options.c, copy_path: na_options.stats stays NULL), the
# profile's too: nothing written, no line, whatever the working directory holds.
(cd "$out/n" && NUMA_ALLOC_PROF= run "" "$probe" exit 0 && exit "$status")
check "n: NUMA_ALLOC_STATS= and NUMA_ALLOC_PROF= (empty): exit status 0" test $? -eq 0
check "n: empty values: no statistics" test "$(grep -c remote_pct "$out/stderr")" -eq 0
check "n: empty values: no line of ours" no_line "$out/stderr"
check "n: empty values: no file" listing "$out/n"

# ---- k. a write that fails (RLIMIT_FSIZE: EFBIG, and SIGXFSZ, as a full disk would fail) --
mkdir "$out/k"
(ulimit -f 1 && run "$out/k/k.json" "$probe" exit 0 && exit "$status") # 1 KiB: less than the JSON
status=$?
check "k: a write past ulimit -f: exit status 0, not SIGXFSZ" test "$status" -eq 0
check "k: no file, no temporary file" listing "$out/k"
check "k: no line" no_line "$out/stderr"

# ---- l. %e and %t -------------------------------------------------------------------
mkdir "$out/l" "$out/l/fork" "$out/l/exec" "$out/l/names" "$out/l/long"
before=$(date +%s)
run "$out/l/%e.%t.%p.json" "$probe" exit 0
after=$(date +%s)
check "l: exit status 0" test "$status" -eq 0
name=$(find "$out/l" -maxdepth 1 -type f -printf '%f\n')
# comm keeps 15 bytes of "stats_file_probe"
started=$(echo "$name" | sed -n 's/^stats_file_prob\.\([0-9]*\)\.[0-9]*\.json$/\1/p')
check "l: %e.%t.%p: one file named after the program ($name)" test -n "$started"
check "l: %t is the start, in seconds since the epoch" \
    test "${started:-0}" -ge "$before" -a "${started:-0}" -le "$after"
check "l: %p is the pid" test "$(json_pid "$out/l/$name")" = "$(echo "$name" | cut -d. -f3)"
run "$out/l/fork/%e.%p.json" "$probe" fork
read -r parent child <"$out/stdout"
check "l: a fork child with %e.%p writes its own file" \
    listing "$out/l/fork" "stats_file_prob.$parent.json" "stats_file_prob.$child.json"
check "l: the child's file is the child's" \
    test "$(json_pid "$out/l/fork/stats_file_prob.$child.json")" = "$child"
cp "$probe" "$out/other+name"
run "$out/l/exec/%e.%p.json" "$probe" exec "$out/other+name" exit 0
read -r pid <"$out/stdout"
check "l: exec into another program: that program's name" listing "$out/l/exec" "other+name.$pid.json"
run "$out/l/names/%e.json" "$probe" name 'a/b c*'
check "l: a '/', a space, a '*' in the name become '_'" listing "$out/l/names" "a_b_c_.json"
run "$out/l/names/%e" "$probe" name ..
check "l: a name of dots only becomes '_'s" listing "$out/l/names" "a_b_c_.json" __
mkdir "$out/l/thread"
run "$out/l/thread/%e.json" "$probe" thread-exit 'worker one'
check "l: a thread named otherwise ends the program: exit status 0" test "$status" -eq 0
check "l: ... the file is named after the program, not the thread" \
    listing "$out/l/thread" stats_file_prob.json
check "l: ... and so is its \"program\"" test "$("$python" -c \
    'import json, sys; print(json.load(open(sys.argv[1]))["program"])' \
    "$out/l/thread/stats_file_prob.json" 2>/dev/null)" = stats_file_prob
check "l: no line" no_line "$out/stderr"
# The file name's limit: NAME_MAX (255) less the temporary suffix (32), with %e as 15, %t as 20.
fits=$(head -c 188 /dev/zero | tr '\0' a)
run "$out/l/long/$fits%e%t" "$probe" exit 0
check "l: a name that fits with %e as 15 and %t as 20: written" test "$(find "$out/l/long" -type f | wc -l)" -eq 1
check "l: and no line" no_line "$out/stderr"
run "$out/l/long/b$fits%e%t" "$probe" exit 0
check "l: one byte more: one line" one_line "$out/stderr" "NUMA_ALLOC_STATS=.*file name too long.*%e as 15.*%t as 20.*statistics are off"
check "l: and no file" test "$(find "$out/l/long" -type f | wc -l)" -eq 1

# ---- m. statistics from the top process only ------------------------------------------
# A shell running a pipeline of three probes, a fork, a command substitution, then one
# more probe, which bash execs (as a shim execs the real program: the same process):
# seven processes and more with the library. SCRIPT leaves bash's pid in $out/pid.
script='echo $$ >"$1/pid"; "$2" exit 0 | cat | "$2" fork >/dev/null; x=$(ls "$1"); "$2" fork >/dev/null; "$2" exit 0'
scope() { # DIR [VAR=VALUE...] [--launcher FLAGS...]: the script with NUMA_ALLOC_STATS=DIR/%e.%p.json
    local dir=$1
    shift
    mkdir -p "$dir"
    local env=() via=()
    while [ $# -gt 0 ] && [ "$1" != --launcher ]; do env+=("$1"); shift; done
    if [ "${1:-}" = --launcher ]; then
        shift
        via=("$launcher" --library="$lib" --stats="$dir/%e.%p.json" "$@" --)
        env+=(LD_PRELOAD=)
    else
        env+=(LD_PRELOAD="$lib" NUMA_ALLOC_STATS="$dir/%e.%p.json")
    fi
    timeout 20 env "${env[@]}" "${via[@]}" bash -c "$script" sh "$out" "$probe" >"$out/stdout" 2>"$out/stderr"
    status=$?
}
scope "$out/m/all"
check "m: scope all (the default): every process writes its own" \
    test "$(find "$out/m/all" -type f | wc -l)" -ge 7
scope "$out/m/top" NUMA_ALLOC_STATS_SCOPE=top
check "m: NUMA_ALLOC_STATS_SCOPE=top: exit status 0" test "$status" -eq 0
check "m: only the top process writes (the shell, become the last probe)" \
    listing "$out/m/top" "stats_file_prob.$(cat "$out/pid").json"
check "m: and no line" no_line "$out/stderr"
scope "$out/m/pid" NUMA_ALLOC_STATS_SCOPE=top NUMA_ALLOC_STATS_TOP_PID=1
check "m: NUMA_ALLOC_STATS_TOP_PID names another process: nothing is written" listing "$out/m/pid"
mkdir "$out/m/exec"
run "$out/m/exec/%e.%p.json" env NUMA_ALLOC_STATS_SCOPE=top "$probe" exec "$out/other+name" fork
read -r pid <"$out/stdout"
check "m: the top process stays the top once it execs another program; its fork child does not write" \
    listing "$out/m/exec" "other+name.$pid.json"
run "$out/m/bad.json" env NUMA_ALLOC_STATS_SCOPE=some "$probe" exit 0
check "m: a bad NUMA_ALLOC_STATS_SCOPE: one line, and scope all" \
    one_line "$out/stderr" 'invalid NUMA_ALLOC_STATS_SCOPE="some" \(accepted: all, top\); using all'
if [ -n "$launcher" ]; then
    scope "$out/m/launcher" --launcher --stats-scope=top
    check "m: the launcher's --stats-scope=top: only COMMAND's process writes" \
        listing "$out/m/launcher" "stats_file_prob.$(cat "$out/pid").json"
    # An outer top, a pid no longer ours, would silence everything: --stats-scope=all undoes it.
    scope "$out/m/undone" NUMA_ALLOC_STATS_SCOPE=top NUMA_ALLOC_STATS_TOP_PID=1 --launcher --stats-scope=all
    check "m: --stats-scope=all: every process again" test "$(find "$out/m/undone" -type f | wc -l)" -ge 7
    "$launcher" --stats-scope=first -- true 2>/dev/null
    check "m: --stats-scope=first is refused" test $? -eq 1
    check "m: --help names --stats-scope=" sh -c '"$1" --help | grep -q -- --stats-scope=' sh "$launcher"
fi

# ---- j. the launcher ----------------------------------------------------------------
if [ -n "$launcher" ]; then
    "$launcher" --library="$lib" --stats="$out/j.json" --stats-mode=0640 -- "$probe" exit 0 2>/dev/null
    check "j: --stats-mode=0640 gives 0640" test "$(stat -c %a "$out/j.json")" = 640
    "$launcher" --stats-mode=0755 -- true 2>/dev/null
    check "j: --stats-mode=0755 is refused" test $? -eq 1
    check "j: --help names --stats-mode" sh -c '"$1" --help | grep -q -- --stats-mode=' sh "$launcher"
fi

exit "$fail"
