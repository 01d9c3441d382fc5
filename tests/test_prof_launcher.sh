#!/usr/bin/env bash
# test_prof_launcher.sh LAUNCHER FIXTURE [CMAKE BUILD_DIR] - 'numa-alloc prof' and
# the profile flags of the launcher (issue 18):
#  - prof FILE: the reader's report, --collapsed, --tsv, --svg with its value
#    as the next word, options before the file; one-line errors with exit 1;
#  - prof PID and prof NAME: the <pid>.prof a process publishes in the live
#    directory, faked here (a process holding <pid>.lock, as the library's
#    publisher does); several of one name, none, a process that publishes no
#    profile, and a stale one whose files are removed;
#  - --prof and --prof-rate reach the command's environment; bad rates refused;
#  - with CMAKE BUILD_DIR: cmake --install to a prefix, whose launcher runs the
#    reader installed beside it, also once the prefix is moved elsewhere.
# FIXTURE is tests/prof_fixture.c built with -g (tests/prof_fixture.py turns its
# stacks into a profile).
# shellcheck disable=SC2317 # helpers called through check
set -uo pipefail
launcher=$(readlink -f "$1") fixture=$2 cmake=${3:-} build_dir=${4:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/check.sh
. "$here/check.sh"

work=$(mktemp -d)
work=$(readlink -f "$work")
dir=/dev/shm/numa-alloc-$(id -u)
pids=()
cleanup() {
    for p in "${pids[@]}"; do
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
        rm -f "$dir/$p.lock" "$dir/$p.prof"
    done
    rm -rf "$work"
    # The live directory, when this test made it and nothing else uses it now.
    [ -z "${made_dir:-}" ] || rmdir "$dir" 2>/dev/null
}
trap cleanup EXIT

cp "$fixture" "$work/prof_fixture"
/usr/bin/python3 "$here/prof_fixture.py" "$work/prof_fixture" "$work/fixture.prof" || {
    echo "FAIL: tests/prof_fixture.py could not write the profile"
    exit 1
}
prof=$work/fixture.prof

# --- prof FILE -------------------------------------------------------------------
out=$("$launcher" prof "$prof" 2>&1)
check "prof FILE prints the report, producer first" grep -q '^#1 producer (prof_fixture.c:' <<<"$out"
check "prof FILE: the explicit site second" grep -q '^#2 explicit_inner' <<<"$out"
out=$("$launcher" prof "$prof" --collapsed)
check "prof FILE --collapsed" grep -qx 'main;run_producer;producer 10000000' <<<"$out"
out=$("$launcher" prof --weight remote --collapsed "$prof")
check "prof --weight remote (value as the next word) --collapsed FILE" \
    test "$out" = $'main;explicit_site;explicit_inner 1000000\nmain;run_producer;producer 9500000'
out=$("$launcher" prof --svg "$work/flame.svg" "$prof" --tsv 2>"$work/err")
check "prof --svg OUT FILE --tsv: the TSV" grep -q $'^1\t1\tproducer\t' <<<"$out"
check "prof --svg OUT FILE --tsv: the SVG written" grep -q '<svg' "$work/flame.svg"
check "prof --top 1 FILE: one site" test "$("$launcher" prof --top 1 "$prof" | grep -c '^#')" = 1
(cd "$work" && "$launcher" prof fixture.prof --tsv >"$work/rel" 2>&1)
check "prof with a relative FILE" grep -q $'^1\t1\tproducer' "$work/rel"
cp "$prof" "$work/1"
(cd "$work" && "$launcher" prof 1 --tsv >"$work/digits" 2>&1)
check "a FILE of digits that exists is a file, not a pid" grep -q $'^1\t1\tproducer' "$work/digits"

# one_line_error WHAT PATTERN ARGS...: exit 1, one line on stderr matching PATTERN, nothing on stdout.
one_line_error() {
    local pattern=$1 status=0
    shift
    "$launcher" "$@" >"$work/out" 2>"$work/err" || status=$?
    [ "$status" = 1 ] && [ ! -s "$work/out" ] && [ "$(wc -l <"$work/err")" = 1 ] &&
        grep -q -- "$pattern" "$work/err" || {
        echo "status $status, stdout: $(cat "$work/out"), stderr: $(cat "$work/err")"
        return 1
    }
}
check "prof without a target: one line, exit 1" one_line_error 'prof needs a profile file' prof
check "prof --tsv without a target: one line, exit 1" one_line_error 'prof needs a profile file' prof --tsv
check "prof of a missing path: one line, exit 1" one_line_error 'cannot read' prof "$work/none.prof"
printf 'not a profile\n' >"$work/bad.prof"
check "prof of a file that is no profile: one line, exit 1" \
    one_line_error 'not a numa-alloc profile' prof "$work/bad.prof"
check "prof of a process that does not exist: one line, exit 1" one_line_error 'no process 999999999' \
    prof 999999999
check "prof of a name nothing has: one line, exit 1" \
    one_line_error 'no process named no_such_program_x publishes a profile' prof no_such_program_x

# --- prof PID and NAME: a faked live directory -----------------------------------
if [ -e "$dir" ] || [ -L "$dir" ]; then
    [ -d "$dir" ] && [ ! -L "$dir" ] && [ "$(stat -c '%u %a' "$dir")" = "$(id -u) 700" ] || {
        echo "FAIL: $dir exists but is not a directory of mode 700 of this user"
        exit 1
    }
else
    mkdir -m 700 "$dir" && made_dir=1
fi
name=profprobe_$$
name=${name:0:15} # comm holds 15 characters
stale=profstale_$$
stale=${stale:0:15}
cp "$(command -v sleep)" "$work/$name"
cp "$(command -v sleep)" "$work/$stale"

# fake NAME PROFILE LOCK: a process called NAME whose pid is in $fake; PROFILE
# ('' for none) published as <pid>.prof; LOCK 1: it holds <pid>.lock as a
# publisher does, 0: the lock file is there but nobody holds it (stale).
fake() {
    (
        p=$BASHPID
        : >"$dir/$p.lock"
        [ "$3" = 1 ] && exec 9<"$dir/$p.lock" && flock -x 9
        [ -z "$2" ] || cp "$2" "$dir/$p.prof"
        exec "$work/$1" 60
    ) &
    fake=$!
    pids+=("$fake")
    held() { [ "$(cat "/proc/$fake/comm" 2>/dev/null)" = "$1" ] && [ -e "$dir/$fake.lock" ]; }
    wait_for held "$1"
    [ "$3" = 0 ] || wait_for eval "! flock -n '$dir/$fake.lock' true"
}

fake "$name" "$prof" 1
first=$fake
out=$("$launcher" prof "$first" --collapsed 2>&1)
check "prof PID reads <pid>.prof in the live directory" grep -qx 'main;run_producer;producer 10000000' <<<"$out"
out=$("$launcher" prof "$name" --tsv 2>&1)
check "prof NAME reads the one publisher of that name" grep -q $'^1\t1\tproducer\t' <<<"$out"
fake "$name" "$prof" 1
check "prof NAME with two publishers: one line naming both, exit 1" \
    one_line_error "several processes named $name publish a profile ($first $fake\|$fake $first)" prof "$name"
kill -9 "$fake" && wait "$fake" 2>/dev/null
rm -f "$dir/$fake.prof" "$dir/$fake.lock"
fake "$name" '' 1
check "prof PID of a publisher without a profile: says to start it with --prof" \
    one_line_error "process $fake publishes no profile (start it with numa-alloc --live --prof=FILE" prof "$fake"
check "prof NAME: a namesake without a profile does not count" \
    test "$("$launcher" prof "$name" --tsv 2>&1 | grep -c $'^1\t1\tproducer')" = 1
fake "$stale" "$prof" 0
check "prof PID of a stale publisher: one line, exit 1" one_line_error "no longer runs numa-alloc" prof "$fake"
check "the stale publisher's profile and lock are removed" \
    test ! -e "$dir/$fake.prof" -a ! -e "$dir/$fake.lock"

# --- the flags ---------------------------------------------------------------------
env_of() { timeout 20 "$launcher" "$@" -- sh -c 'env | grep "^NUMA_ALLOC_PROF" | sort'; }
check "--prof=FILE and --prof-rate=BYTES reach the command" \
    test "$(env_of --prof=p.%p --prof-rate=4096)" = $'NUMA_ALLOC_PROF=p.%p\nNUMA_ALLOC_PROF_RATE=4096'
check "--prof FILE and --prof-rate BYTES (values as the next word)" \
    test "$(env_of --prof p.%p --prof-rate 1099511627776)" = \
    $'NUMA_ALLOC_PROF=p.%p\nNUMA_ALLOC_PROF_RATE=1099511627776'
for bad in 0 -1 1k 1099511627777 99999999999999 ''; do
    check "--prof-rate=$bad is refused in one line" one_line_error 'invalid --prof-rate' --prof-rate="$bad" true
done
check "--prof= (empty) is refused" one_line_error '--prof needs a file name' --prof= true

# --- the real library: a live profile, then the one at exit --------------------------
# The launcher's own library publishes <pid>.prof while the program runs (--live) and
# writes --prof's file at exit: 'prof PID' reads the first, 'prof FILE' the second.
"$launcher" --live --prof="$work/real.%p" -- /usr/bin/python3 -c \
    'import sys, time
x = [bytearray(1000) for i in range(20000)]
sys.stdout.write("up\n"); sys.stdout.flush()
for i in range(600): y = bytearray(100000); time.sleep(0.05)' \
    >"$work/real.out" &
real=$! # the launcher execs the command
pids+=("$real")
# The library publishes on its own slow paths (no thread of its own): the
# program goes on allocating a little while it waits.
# Once the program has allocated (it says "up"), a publication (every 250 ms) has sites.
has_sites() {
    "$launcher" prof "$real" --tsv 2>&1 |
        awk -F'\t' 'NR == 1 && $3 == "top_function" { h = 1 } NR > 1 && $6 > 0 { n++ } END { exit !(h && n > 0) }'
}
for _ in $(seq 100); do
    grep -q up "$work/real.out" && [ -s "$dir/$real.prof" ] && has_sites && break
    sleep 0.1
done
check "prof PID of a real process: its live profile, sites with bytes" \
    awk -F'\t' 'NR == 1 && $3 == "top_function" { h = 1 } NR > 1 && $6 > 0 { n++ } END { exit !(h && n > 0) }' <<<"$out"
out=$("$launcher" prof "$real" 2>&1)
check "prof PID says it is a live snapshot" grep -q "live snapshot" <<<"$out"
kill "$real" 2>/dev/null
wait "$real" 2>/dev/null
"$launcher" --prof="$work/exit.%p" -- /usr/bin/python3 -c 'x = [bytearray(1000) for i in range(20000)]'
exit_files=("$work"/exit.*)
out=$("$launcher" prof "${exit_files[0]}" 2>&1)
check "prof FILE of a real program's exit profile: complete, sites" \
    grep -q 'complete (written at exit)' <<<"$out"

# --- installed: the reader beside the launcher -------------------------------------
if [ -n "$cmake" ]; then
    "$cmake" --install "$build_dir" --prefix "$work/prefix" >/dev/null
    reader=$(find "$work/prefix" -name numa-alloc-prof -type f)
    check "cmake --install puts the reader under libexec" test "$reader" = "$work/prefix/libexec/numa-alloc/numa-alloc-prof"
    out=$("$work/prefix/bin/numa-alloc" prof "$prof" --collapsed 2>&1)
    check "the installed launcher's prof works" grep -qx 'main;run_producer;producer 10000000' <<<"$out"
    # A stand-in reader proves which one runs.
    printf 'import sys\nprint("the prefix reader", *sys.argv[1:])\n' >"$reader"
    check "the installed launcher runs the reader of its prefix" \
        test "$("$work/prefix/bin/numa-alloc" prof "$prof" --tsv)" = "the prefix reader $prof --tsv"
    mv "$work/prefix" "$work/moved"
    check "a moved prefix runs its own reader" \
        test "$("$work/moved/bin/numa-alloc" prof "$prof")" = "the prefix reader $prof"
    ln -s "$work/moved/bin/numa-alloc" "$work/link"
    check "a link to the launcher runs the reader beside its target" \
        test "$("$work/link" prof "$prof")" = "the prefix reader $prof"
fi

exit "$fail"
