#!/usr/bin/env bash
# test_inherited.sh LIBRARY - the memory policy a process inherits (numactl) is
# adopted when no NUMA_ALLOC_POLICY is set, a variable that overrides it says so
# in one line, and the statistics say where the policy came from. On this
# one-node machine node 0 is all there is; the placement itself is checked in
# the guest (tests/placement: placement_inherited_numactl).
set -uo pipefail
lib=$1
here=$(dirname "$0")
# shellcheck source=tests/check.sh
source "$here/check.sh"

# policy_of [VAR=VALUE...] -- [numactl args...]: the JSON "policy" line and our lines.
run() {
    local vars=()
    while [ "$1" != -- ]; do
        vars+=("$1")
        shift
    done
    shift
    env -i PATH="$PATH" "${vars[@]}" NUMA_ALLOC_STATS=stderr LD_PRELOAD="$lib" "$@" /bin/true 2>&1
}
policy() { grep '"policy"' <<<"$1"; }
lines() { grep -c '^numa-alloc:' <<<"$1"; }

out=$(run -- env)
check "no numactl: local, from the default" grep -q '"name": "local", "source": "default", "fallback"' <<<"$(policy "$out")"

out=$(run -- numactl --membind=0)
check "--membind: bind over its nodes, fallback none" \
    grep -q '"name": "bind", "source": "inherited", "inherited": "bind:0", "fallback": "none", "nodes": \[0\]' <<<"$(policy "$out")"
check "--membind: nothing said" test "$(lines "$out")" -eq 0

out=$(run -- numactl --preferred=0)
check "--preferred: preferred" grep -q '"name": "preferred", "source": "inherited", "inherited": "preferred:0"' <<<"$(policy "$out")"

out=$(run -- numactl --preferred-many=0)
check "--preferred-many: preferred" grep -q '"name": "preferred", "source": "inherited", "inherited": "preferred-many:0"' <<<"$(policy "$out")"

out=$(run -- numactl --interleave=all)
check "--interleave: interleave" grep -q '"name": "interleave", "source": "inherited", "inherited": "interleave:0"' <<<"$(policy "$out")"

out=$(run -- numactl --localalloc)
check "--localalloc: local, nothing inherited to report" grep -q '"name": "local", "source": "default", "fallback"' <<<"$(policy "$out")"

out=$(run NUMA_ALLOC_FALLBACK=nearest -- numactl --membind=0)
check "--membind with NUMA_ALLOC_FALLBACK: the variable's fallback" grep -q '"name": "bind", "source": "inherited", "inherited": "bind:0", "fallback": "nearest"' <<<"$(policy "$out")"

out=$(run NUMA_ALLOC_POLICY=local -- numactl --interleave=all)
check "NUMA_ALLOC_POLICY wins over the inherited policy" grep -q '"name": "local", "source": "environment", "inherited": "interleave:0"' <<<"$(policy "$out")"
check "... and one line says what it overrides" test "$(lines "$out")" -eq 1
check "... naming both" grep -q '^numa-alloc: NUMA_ALLOC_POLICY=local overrides the memory policy this process inherited (numactl?): interleave:0$' <<<"$out"

out=$(run NUMA_ALLOC_NODES=0 -- numactl --preferred=0)
check "NUMA_ALLOC_NODES alone keeps the inherited mode" grep -q '"name": "preferred", "source": "inherited"' <<<"$(policy "$out")"
check "... and says it overrides the nodes" grep -q '^numa-alloc: NUMA_ALLOC_NODES=0 overrides the nodes of the memory policy this process inherited (numactl?): preferred:0$' <<<"$out"

out=$(run NUMA_ALLOC_POLICY=local -- env)
check "NUMA_ALLOC_POLICY without numactl: no override line" test "$(lines "$out")" -eq 0

out=$(run NUMA_ALLOC_POLICY=weighted-interleave -- env)
check "weighted-interleave without NUMA_ALLOC_WEIGHTS: the kernel's or equal weights, no longer local" \
    grep -Eq '"name": "weighted-interleave", "source": "environment", "weights": "(kernel|equal)"' <<<"$(policy "$out")"
check "... and nothing said" test "$(lines "$out")" -eq 0
out=$(run NUMA_ALLOC_POLICY=weighted-interleave NUMA_ALLOC_WEIGHTS=0:2 -- env)
check "weights from the variable" grep -q '"weights": "environment"' <<<"$(policy "$out")"

# The program's children inherit numactl's policy, not one of ours: we never set the task policy.
out=$(numactl --interleave=all env LD_PRELOAD="$lib" numactl --show 2>&1)
check "the task policy passes through us to children" grep -q '^policy: interleave' <<<"$out"

exit $fail
