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

"$python" - "$schema" "$stats" <<'PY'
import copy, json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
doc = json.load(open(sys.argv[2]))
jsonschema.validate(doc, schema)
# The seed's own example must still be valid in its keys.
assert isinstance(doc["node0"]["allocated_mb"], (int, float)) and "local_pct" in doc["node0"]
assert isinstance(doc["remote_pct"], (int, float))
broken = copy.deepcopy(doc)
broken["node0"]["local_pct"] = 250
try:
    jsonschema.validate(broken, schema)
except jsonschema.ValidationError:
    pass
else:
    sys.exit("a local_pct of 250 passed the schema: the check cannot fail")
print("1 passed, 0 failed: statistics validate against", sys.argv[1])
PY
