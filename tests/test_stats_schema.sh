#!/usr/bin/env bash
# test_stats_schema.sh PROBE SCHEMA - real statistics, written at exit by a
# program that allocates, validate against the JSON Schema
# in docs/; and a document that breaks the schema is rejected (the check can fail).
set -euo pipefail
probe=$1 schema=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
python=/usr/bin/python3 # Debian's, which has python3-jsonschema (not a pyenv shim)

NUMA_ALLOC_STATS="$out/stats.%p.json" "$probe" >/dev/null
stats=$(ls "$out"/stats.*.json)
# A command line of any bytes: quotes, a backslash, control characters, UTF-8 and
# bytes that are not UTF-8; and one longer than the 4096 bytes shown.
odd=$(printf 'q"b\\n\nt\tc\001 \303\251 \377\300\257 \355\240\200 \360\237\230\200')
before=$(date +%s)
NUMA_ALLOC_STATS="$out/odd.json" "$probe" "$odd" "" last >/dev/null
after=$(date +%s)
NUMA_ALLOC_STATS="$out/long.json" "$probe" "$(head -c 5000 /dev/zero | tr '\0' x)" >/dev/null

"$python" - "$schema" "$stats" "$out/odd.json" "$out/long.json" "$probe" "$before" "$after" <<'PY'
import calendar, copy, json, os, sys, time
import jsonschema
schema = json.load(open(sys.argv[1]))
doc = json.load(open(sys.argv[2]))
jsonschema.validate(doc, schema)
# Who, when, what: the format, the library's version, the time, the program and its arguments.
odd = json.load(open(sys.argv[3]))  # strict: control characters in strings would fail here
jsonschema.validate(odd, schema)
assert odd["format"] == 1 and odd["version"] not in ("", "unknown"), odd["version"]
assert odd["program"] == "options_probe", odd["program"]
expected = [sys.argv[5], 'q"b\\n\nt\tc\x01 \u00e9 \ufffd\ufffd\ufffd \ufffd\ufffd\ufffd \U0001f600', "", "last"]
assert odd["args"] == expected, (odd["args"], expected)
assert odd["args_truncated"] is False
stamp = calendar.timegm(time.strptime(odd["time"][:19], "%Y-%m-%dT%H:%M:%S")) + int(odd["time"][20:23]) / 1000
assert abs(stamp - odd["time_unix"]) < 0.0015, (odd["time"], odd["time_unix"])
assert int(sys.argv[6]) <= odd["time_unix"] < int(sys.argv[7]) + 1, (odd["time_unix"], sys.argv[6:8])
long = json.load(open(sys.argv[4]))
jsonschema.validate(long, schema)
assert long["args_truncated"] is True and long["args"][0] == sys.argv[5], long["args"][:1]
assert len(sys.argv[5]) + 1 + len(long["args"][1]) == 4096, len(long["args"][1])
def rejected(doc, path, value, what):
    """The schema must refuse doc with doc[path...] = value: the check can fail."""
    broken = copy.deepcopy(doc)
    at = broken
    for key in path[:-1]:
        at = at[key]
    at[path[-1]] = value
    try:
        jsonschema.validate(broken, schema)
    except jsonschema.ValidationError:
        return
    sys.exit(what + " passed the schema: the check cannot fail")
rejected(odd, ["format"], 2, "a format 2")
# The seed's own example must still be valid in its keys.
assert isinstance(doc["node0"]["allocated_mb"], (int, float)) and "local_pct" in doc["node0"]
assert isinstance(doc["remote_pct"], (int, float))
rejected(doc, ["node0", "local_pct"], 250, "a local_pct of 250")
print("1 passed, 0 failed: statistics validate against", sys.argv[1])
PY
