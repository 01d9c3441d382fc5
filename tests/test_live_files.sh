#!/usr/bin/env bash
# test_live_files.sh LAUNCHER LIVE_PROBE - live statistics files that no other
# user can turn against us, and that a killed, aborted or exec'd program does
# not leave behind for good: the per-user directory and its checks, the modes,
# the reader's refusals (planted files, FIFOs), stale files after SIGKILL,
# SIGTERM, SIGINT, abort() and exec, and a fork child's own files.
# As root (the hostile user is nobody). The cases plant /dev/shm/numa-alloc-0
# as nobody's: in a private /dev/shm (a mount namespace) when we may make one;
# otherwise ctest runs this test alone (RUN_SERIAL).
set -uo pipefail
launcher=$1 probe=$2
if [ "$(id -u)" != 0 ]; then
    echo "skipped: needs root (to act as the user nobody)"
    exit 77
fi
if [ -z "${LIVE_FILES_NS:-}" ] && unshare -m true 2>/dev/null; then
    LIVE_FILES_NS=1 exec unshare -m "$BASH" "$0" "$@"
fi
if [ "${LIVE_FILES_NS:-}" = 1 ]; then
    mount -t tmpfs -o mode=1777 numa-alloc-test /dev/shm || exit 1
fi
# shellcheck source=tests/check.sh
. "$(dirname "$0")/check.sh"
ulimit -c 0 # abort() is one of the cases

dir=/dev/shm/numa-alloc-0
work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$work" /dev/shm/numa-alloc.*.* /dev/shm/numa-alloc-test-*
    # Only a directory of ours left as it should be stays (other tests' files may be in it).
    if [ -L "$dir" ] || { [ -e "$dir" ] && [ "$(stat -c '%u %a' "$dir")" != "0 700" ]; }; then
        rm -rf "$dir"
    fi
}
trap cleanup EXIT

as_nobody() { (cd / && setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"); }
published() { [ -f "$dir/$1.json" ] && [ -f "$dir/$1.txt" ] && [ -f "$dir/$1.om" ]; }
gone() { [ ! -e "$dir/$1.json" ] && [ ! -e "$dir/$1.txt" ] && [ ! -e "$dir/$1.om" ] && [ ! -e "$dir/$1.lock" ]; }
dead() { [ ! -d "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
start_live() { # PROBE ARGS...: sets pid
    "$launcher" --live -- "$probe" "$@" 2>>"$work/stderr" &
    pid=$!
    pids+=("$pid")
}
# Starts the probe only once `go` exists, so that its pid is known before it starts.
start_gated() { # STDERR_FILE LAUNCHER ARGS...: sets pid
    local err=$1
    shift
    rm -f "$work/go"
    sh -c 'while [ ! -e "$1" ]; do sleep 0.05; done; shift; exec "$@"' gate "$work/go" "$@" 2>"$err" &
    pid=$!
    pids+=("$pid")
}

# ---- a. another user's files and directories at our names -------------------
echo ROOT-ONLY >"$work/secret"
chmod 600 "$work/secret"
start_gated "$work/a1.err" "$launcher" --live -- "$probe" 1
as_nobody ln -s "$work/secret" "/dev/shm/numa-alloc.$pid.json.tmp"
as_nobody sh -c "umask 0; : >/dev/shm/numa-alloc.$pid.txt.tmp; ln /dev/shm/numa-alloc.$pid.txt.tmp /dev/shm/numa-alloc.keep.$pid"
touch "$work/go"
wait "$pid"
check "old names: a root-only file behind a planted symlink is untouched" \
    test "$(cat "$work/secret")" = ROOT-ONLY
check "old names: a temporary file planted by nobody receives nothing" \
    test ! -s "/dev/shm/numa-alloc.keep.$pid"

rm -rf "$dir"
as_nobody sh -c "umask 0; mkdir -m 777 $dir"
start_gated "$work/a2.err" "$launcher" --live -- "$probe" 1
touch "$work/go"
wait "$pid"
check "nobody's 0777 $dir: nothing written in it" test -z "$(ls -A "$dir")"
check "nobody's 0777 $dir: one warning line" test "$(wc -l <"$work/a2.err")" = 1
check "nobody's 0777 $dir: the warning explains" \
    grep -q "NUMA_ALLOC_STATS_LIVE=1: $dir is not a directory of this user with mode 0700 (owner $(id -u nobody), mode 0777); live statistics are off" "$work/a2.err"
rm -rf "$dir"

# Our own directory, but others may enter it (0755) or write in it (group 0770):
# refused too, since the mode is part of the trust (the checks of the owner alone
# would pass).
for mode in 770 755; do
    rm -rf "$dir"
    mkdir -m "$mode" "$dir"
    chmod "$mode" "$dir" # whatever the umask
    start_gated "$work/a4.$mode.err" "$launcher" --live -- "$probe" 1
    touch "$work/go"
    wait "$pid"
    check "our own $dir with mode 0$mode: nothing written in it" test -z "$(ls -A "$dir")"
    check "our own $dir with mode 0$mode: the warning explains" \
        grep -q "NUMA_ALLOC_STATS_LIVE=1: $dir is not a directory of this user with mode 0700 (owner 0, mode 0$mode); live statistics are off" "$work/a4.$mode.err"
done
rm -rf "$dir"

as_nobody mkdir -m 777 /dev/shm/numa-alloc-test-nobody
as_nobody ln -s /dev/shm/numa-alloc-test-nobody "$dir"
start_gated "$work/a3.err" "$launcher" --live -- "$probe" 1
touch "$work/go"
wait "$pid"
check "$dir a symlink to nobody's directory: nothing written there" \
    test -z "$(ls -A /dev/shm/numa-alloc-test-nobody)"
check "$dir a symlink: one warning line" test "$(wc -l <"$work/a3.err")" = 1
check "$dir a symlink: the warning says so" grep -q "(a symbolic link, owner" "$work/a3.err"
rm -rf "$dir" /dev/shm/numa-alloc-test-nobody

# ---- b. modes ---------------------------------------------------------------
start_live 3
wait_for published "$pid"
check "the directory is root's, 0700" test "$(stat -c '%u %a %F' "$dir" 2>&1)" = "0 700 directory"
for f in json txt om lock; do
    check "$pid.$f is root's, 0600, a regular file" \
        test "$(stat -c '%u %a' "$dir/$pid.$f" 2>&1)" = "0 600" -a -f "$dir/$pid.$f"
done
wait "$pid"
check "the files and the lock go away at exit" gone "$pid"
check "and nothing else is left" test -z "$(ls -A "$dir" 2>&1)"

# ---- c. the reader and planted files ----------------------------------------
"$launcher" -- "$probe" 3 &
pid=$!
pids+=("$pid")
echo PLANTED-OLD | as_nobody tee "/dev/shm/numa-alloc.$pid.txt" >/dev/null
rm -rf "$dir"
as_nobody mkdir -m 700 "$dir"
as_nobody touch "$dir/$pid.lock"
echo PLANTED-NEW | as_nobody tee "$dir/$pid.txt" "$dir/$pid.json" >/dev/null
out=$(timeout 10 "$launcher" stat "$pid" 2>&1)
rc=$?
check "a planted file (old name, or in nobody's $dir): refused" test "$rc" = 1
check "nothing planted is printed" test -n "$out" -a "${out/PLANTED/}" = "$out"
check "the refusal names the directory" grep -q "refusing to read $dir" <<<"$out"
out=$(timeout 10 "$launcher" stat --all 2>&1)
check "stat --all skips nobody's $dir and prints nothing of it" \
    test "${out/PLANTED/}" = "$out" -a "${out/$pid /}" = "$out"
rm -rf "$dir" "/dev/shm/numa-alloc.$pid.txt"
as_nobody mkfifo -m 666 "/dev/shm/numa-alloc.$pid.txt"
out=$(timeout 10 "$launcher" stat "$pid" 2>&1)
rc=$?
check "a FIFO planted at the old name: the reader returns with an error" test "$rc" = 1
check "a FIFO planted at the old name: it says why" grep -q "publishes no live statistics" <<<"$out"
mkdir -m 700 "$dir"
mkfifo "$dir/$pid.lock" "$dir/$pid.txt"
out=$(timeout 10 "$launcher" stat "$pid" 2>&1)
check "a FIFO as the lock: the reader returns with an error" test $? = 1
check "a FIFO as the lock: refused" grep -q "refusing $dir/$pid.lock: not a regular file" <<<"$out"
timeout 10 "$launcher" stat --all >/dev/null 2>&1
check "a FIFO in the directory: stat --all returns" test $? = 0
rm -f "$dir/$pid.lock" "$dir/$pid.txt"
wait "$pid"

# ---- d. what killed, aborted and exec'd programs leave, and who removes it ----
# All started (and published) before any dies: a live start sweeps the dead.
dead_pids=()
for _ in KILL TERM INT; do
    start_live 20
    dead_pids+=("$pid")
done
start_live 2 abort
dead_pids+=("$pid")
for p in "${dead_pids[@]}"; do
    wait_for published "$p"
done
kill -KILL "${dead_pids[0]}"
kill -TERM "${dead_pids[1]}"
kill -INT "${dead_pids[2]}"
for p in "${dead_pids[@]:0:3}"; do
    wait "$p"
done
wait "${dead_pids[3]}"
check "abort(): the probe aborted" test $? = 134
for p in "${dead_pids[@]}"; do
    check "dead $p: stat says there is no process" grep -q "no process $p" <<<"$("$launcher" stat "$p" 2>&1)"
done
locks=("$dir"/*.lock)
check "SIGKILL, SIGTERM, SIGINT, abort(): their lock files stay behind" test "${#locks[@]}" = 4
out=$("$launcher" stat --all 2>&1)
check "stat --all removes them" grep -q "removed the stale live statistics of 4 process" <<<"$out"
for p in "${dead_pids[@]}"; do
    check "dead $p: its files are gone" gone "$p"
done

start_live 20
wait_for published "$pid"
kill -KILL "$pid"
wait "$pid"
killed=$pid
start_live 2
wait_for published "$pid"
check "a new live process's start-up sweep removes a killed one's files" gone "$killed"
wait "$pid"

start_live 1 exec sleep 20
wait_for published "$pid"
wait_for grep -qx sleep "/proc/$pid/comm"
out=$("$launcher" stat "$pid" 2>&1)
check "exec'd without the preload: stat fails" test $? = 1
check "exec'd without the preload: stat says stale" \
    grep -q "process $pid no longer runs numa-alloc (it exited, was killed, or exec'd another program); removed its stale live statistics" <<<"$out"
check "exec'd without the preload: the files are gone" gone "$pid"
kill "$pid"
wait "$pid"

# ---- e. fork ---------------------------------------------------------------
start_live 4 fork
parent=$pid
# The launcher runs helpers (awk, readlink) before it execs the probe: only then are
# the children of $parent the probe's.
wait_for grep -qx live_probe "/proc/$parent/comm"
forked() { child=$(cat "/proc/$parent/task/$parent/children" 2>/dev/null) && [ -n "$child" ]; }
wait_for forked
child=${child%% *}
pids+=("$child")
wait_for published "$parent"
wait_for published "$child"
check "a fork child publishes under its own pid" grep -q "pid $child," <<<"$("$launcher" stat "$child" 2>&1)"
check "with a lock of its own" test -f "$dir/$child.lock"
check "the parent still publishes under its pid" grep -q "pid $parent," <<<"$("$launcher" stat "$parent" 2>&1)"
kill -KILL "$parent"
wait "$parent"
out=$("$launcher" stat --all 2>&1)
check "the child alive does not keep the killed parent's lock: stale, removed" \
    grep -q "removed the stale live statistics of 1 process" <<<"$out"
check "stat --all lists the child" grep -q "^$child root " <<<"$out"
check "the parent's files are gone" gone "$parent"
check "the child still publishes" grep -q "pid $child," <<<"$("$launcher" stat "$child" 2>&1)"
kill -KILL "$child"
wait_for dead "$child"
"$launcher" stat --all >/dev/null 2>&1

check "the live processes wrote no message" test ! -s "$work/stderr"

exit $fail
