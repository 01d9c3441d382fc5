#!/usr/bin/env bash
# test_stat_watch.sh LAUNCHER LIVE_PROBE LIBRARY - watching running programs:
# 'numa-alloc stat NAME' (one match, several, none), timestamps in the json,
# text and openmetrics outputs, and the OpenMetrics exposition parsed by a
# real parser (prometheus_client's, strict) whose values match the JSON of
# the same snapshot, for one process and merged for --all; the library's
# own NUMA_ALLOC_STATS_FORMAT=openmetrics at exit too.
set -uo pipefail
launcher=$1 probe=$2 library=$3
python=/usr/bin/python3 # Debian's (python3-prometheus-client), not a pyenv shim
if ! "$python" -c 'import prometheus_client.openmetrics.parser' 2>/dev/null; then
    echo "skipped: python3-prometheus-client is not installed (tools/install-deps.sh)"
    exit 77
fi
# shellcheck source=tests/check.sh
. "$(dirname "$0")/check.sh"

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT
dir=/dev/shm/numa-alloc-$(id -u)
# The probe under a name of its own, so that other tests' probes never match it.
name=watch_probe_$$
name=${name:0:15} # comm holds 15 characters
cp "$probe" "$work/$name"

published() { [ -f "$dir/$1.json" ] && [ -f "$dir/$1.txt" ] && [ -f "$dir/$1.om" ]; }
start() { # sets pid
    "$launcher" --live -- "$work/$name" 30 2>>"$work/stderr" &
    pid=$!
    pids+=("$pid")
    wait_for published "$pid"
}

# Parses the OpenMetrics text on stdin strictly and compares every per-node
# family with the JSON documents (one per process, one after another) of
# FILE, for the processes in $running (stopped).
compare() { # JSON_FILE
    "$python" -c '
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
families = {f.name: f for f in text_string_to_metric_families(sys.stdin.read())}
docs, text, dec = [], open(sys.argv[1]).read(), json.JSONDecoder()
at = 0
while text[at:].strip():
    while text[at].isspace(): at += 1
    doc, at = dec.raw_decode(text, at)
    docs.append(doc)
fields = {"allocations": "allocations", "frees": "frees", "allocated_bytes": "bytes_allocated",
          "freed_bytes": "bytes_freed", "live_bytes": "bytes_live",
          "local_allocations": "local_allocations", "remote_allocations": "remote_allocations",
          "explicit_allocations": "explicit_allocations", "remote_frees": "remote_frees",
          "fallbacks_in": "fallbacks_in", "fallbacks_out": "fallbacks_out",
          "active_bytes": "active_bytes", "dirty_bytes": "dirty_bytes",
          "purged_bytes": "purged_bytes", "huge_objects": "huge_objects"}
compared = 0
mine = sys.argv[2].split()
for doc in docs:
    pid = str(doc["pid"])
    if pid not in mine:
        continue  # another test'"'"'s process, running on
    for family, field in fields.items():
        fam = families["numa_alloc_" + family]
        for key, node in doc.items():
            if not key.startswith("node"):
                continue
            got = [s.value for s in fam.samples
                   if s.labels.get("pid") == pid and s.labels.get("node") == key[4:]]
            if got != [node[field]]:
                sys.exit("%s node %s pid %s: openmetrics %s, json %s" % (family, key, pid, got, node[field]))
            compared += 1
    live = [s.value for s in families["numa_alloc_threads"].samples if s.labels["pid"] == pid]
    if live != [len(doc["threads"]) + doc["more_threads"]["count"]]:
        sys.exit("threads of %s: %s" % (pid, live))
pids = {s.labels["pid"] for s in families["numa_alloc_allocations"].samples}
if not set(mine) <= pids or not set(mine) <= {str(d["pid"]) for d in docs}:
    sys.exit("processes: openmetrics %s, json %s" % (sorted(pids), [d["pid"] for d in docs]))
if compared == 0:
    sys.exit("nothing compared")
print("compared", compared, "values")
' "$1" "${running[*]}"
}

# Reads both forms of stopped processes; a process stopped between writing its
# JSON and its OpenMetrics is let run a little and stopped again.
same_snapshot() { # OUT_PREFIX STAT_ARGS...
    local out=$1
    shift
    for _ in $(seq 20); do
        kill -STOP "${running[@]}"
        sleep 0.1
        "$launcher" stat "$@" --format=json >"$out.json" 2>"$out.err" &&
            "$launcher" stat "$@" --format=openmetrics >"$out.om" 2>>"$out.err" &&
            compare "$out.json" <"$out.om" >"$out.cmp" 2>&1 && return 0
        kill -CONT "${running[@]}"
        sleep 0.3
    done
    cat "$out.err" "$out.cmp"
    return 1
}

# ---- one process, by pid and by name ---------------------------------------------
start
one=$pid
running=("$one")
check "one process: the OpenMetrics parses (strict) and matches the JSON of the same snapshot" \
    same_snapshot "$work/one" "$one"
check "the exposition ends with # EOF" test "$(tail -n 1 "$work/one.om")" = "# EOF"
check "the counters are _total samples with node, pid and program labels" \
    grep -q "^numa_alloc_allocations_total{node=\"[0-9]*\",pid=\"$one\",program=\"$name\"} [0-9]" "$work/one.om"
check "bytes carry their unit" grep -qx "# UNIT numa_alloc_allocated_bytes bytes" "$work/one.om"
now=$(date +%s)
ts=$(sed -n "s/^numa_alloc_snapshot_timestamp_seconds{pid=\"$one\",program=\"$name\"} \\([0-9]*\\)\\..*/\\1/p" "$work/one.om")
check "openmetrics: a snapshot timestamp within a minute ($ts, now $now)" test "${ts:-0}" -le "$now" -a "${ts:-0}" -ge $((now - 60))
t=$(grep -o '"time_unix": [0-9]*' "$work/one.json" | head -n 1)
t=${t##* }
check "json: a time ($t, now $now)" test "${t:-0}" -le "$now" -a "${t:-0}" -ge $((now - 60))
check "json: and as RFC 3339" grep -q "\"time\": \"$(date -u +%Y-%m-%d)T" "$work/one.json"
"$launcher" stat "$one" >"$work/one.txt"
check "text: the time, first" grep -q "$(date -u +%Y-%m-%d)T" <(head -n 1 "$work/one.txt")
check "text: then the table" grep -q "^numa-alloc statistics: pid $one," "$work/one.txt"
check "--format=text is the table" test "$("$launcher" stat "$one" --format text | sed 1d | head -n 3)" = "$(sed 1d "$work/one.txt" | head -n 3)"
"$launcher" stat "$name" --format=json >"$work/byname.json"
check "stat NAME, one match: its JSON" grep -q "\"pid\": $one," "$work/byname.json"
check "stat NAME, one match: one document" test "$(grep -c '"pid"' "$work/byname.json")" = 1
kill -CONT "$one"

# ---- two processes: stat NAME shows each, --all merges the families ------------------
start
two=$pid
running=("$one" "$two")
"$launcher" stat "$name" >"$work/both.txt"
check "stat NAME, two matches: both tables" \
    test "$(grep -c "^numa-alloc statistics: pid \\($one\\|$two\\)," "$work/both.txt")" = 2
check "stat NAME, two matches: each with its time" test "$(grep -c "$(date -u +%Y-%m-%d)T" "$work/both.txt")" = 2
# shellcheck disable=SC2207 # pids: digits
mine=($(pgrep -x "$name"))
check "the name matches as pidof's (pgrep -x) does" test "${#mine[@]}" = 2
check "--all: one exposition of every process, families merged, matching the JSON" \
    same_snapshot "$work/all" --all
check "--all: each family's metadata once" \
    test "$(grep -c '^# TYPE numa_alloc_allocations counter$' "$work/all.om")" = 1
check "--all: samples of both" test "$(grep -c "^numa_alloc_allocations_total{.*pid=\"\\($one\\|$two\\)\"" "$work/all.om")" -ge 2
check "--all: one # EOF, at the end" test "$(grep -c '^# EOF' "$work/all.om")-$(tail -n 1 "$work/all.om")" = "1-# EOF"
check "stat NAME --format=openmetrics merges as --all does" \
    "$python" -c 'import sys; from prometheus_client.openmetrics.parser import text_string_to_metric_families as p; list(p(sys.stdin.read()))' \
    < <("$launcher" stat "$name" --format=openmetrics)
kill -CONT "$one" "$two"
kill "$one" "$two"
wait "$one" "$two" 2>/dev/null

# ---- no match ------------------------------------------------------------------------
err=$("$launcher" stat "$name" 2>&1)
check "stat NAME, no match: exit status 1" test $? = 1
check "stat NAME, no match: says so" grep -q "no process named $name publishes live statistics" <<<"$err"
check "--all --format=openmetrics with nobody publishing: an empty exposition" \
    test "$("$launcher" stat --all --format=openmetrics | grep -v "^numa_alloc\|^# [HTU]")" = "# EOF"
err=$("$launcher" stat "$one" --format=yaml 2>&1)
check "an unknown format is refused" grep -q "invalid --format=yaml (accepted: json text openmetrics)" <<<"$err"

# ---- at exit, from the library itself ----------------------------------------------
NUMA_ALLOC_STATS="$work/exit.om" NUMA_ALLOC_STATS_FORMAT=openmetrics LD_PRELOAD=$library "$probe" 1
check "NUMA_ALLOC_STATS_FORMAT=openmetrics: the exit file parses (strict)" \
    "$python" -c 'import sys; from prometheus_client.openmetrics.parser import text_string_to_metric_families as p; f = {x.name for x in p(open(sys.argv[1]).read())}; sys.exit("numa_alloc_verified_pages" not in f)' "$work/exit.om"
NUMA_ALLOC_POLICY=bind NUMA_ALLOC_NODES=999 NUMA_ALLOC_FALLBACK=none NUMA_ALLOC_STATS="$work/failed.om" \
    NUMA_ALLOC_STATS_FORMAT=openmetrics LD_PRELOAD=$library "$probe" 0 2>/dev/null
check "a failed start: the exit file parses and says numa-alloc was not active" \
    "$python" -c 'import sys; from prometheus_client.openmetrics.parser import text_string_to_metric_families as p; f = {x.name: x for x in p(open(sys.argv[1]).read())}; sys.exit(f["numa_alloc_active"].samples[0].value != 0)' "$work/failed.om"
"$launcher" --stats="$work/launcher.om" --stats-format=openmetrics -- "$probe" 1
check "numa-alloc --stats-format=openmetrics: the same form" grep -qx "# TYPE numa_alloc_allocations counter" "$work/launcher.om"
check "the live processes wrote no message" test ! -s "$work/stderr"
exit $fail
