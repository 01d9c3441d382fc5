#!/usr/bin/env bash
# tests/guest/check_topology.sh - compares `numactl -H` with an expected NUMA
# topology. Runs in the guest (guest-run); prints one line per check and exits 1
# if any check fails (2 on a usage error).
#
#   check_topology.sh --nodes=N [--cpus='0:0 1:1 2:'] [--mem-mb='0:1024 1:192']
#                     [--distances='10 21;21 10'] [--tiers='0-1;2'] [--slack=PCT]
#
#   --nodes      number of nodes ("available: N nodes")
#   --cpus       node:cpu-list pairs (cpu-list comma-separated, empty = no CPU)
#   --mem-mb     node:MiB pairs. The kernel reports less than it was given (its own
#                reservations): a size passes when it lies within [MiB*(100-PCT)/100, MiB]
#                (--slack, default 20)
#   --distances  the distance matrix, rows separated by ';'
#   --tiers      the memory tiers (kernel 6.1+, /sys/devices/virtual/memory_tiering),
#                fastest first: each tier's nodelist as sysfs writes it, separated
#                by ';' ('0-1;2': nodes 0 and 1 share a tier, node 2 is in a slower one)
set -uo pipefail

nodes=
cpus=
mem=
distances=
tiers=
slack=20
for a in "$@"; do
    case $a in
    --nodes=*) nodes=${a#*=} ;;
    --cpus=*) cpus=${a#*=} ;;
    --mem-mb=*) mem=${a#*=} ;;
    --distances=*) distances=${a#*=} ;;
    --tiers=*) tiers=${a#*=} ;;
    --slack=*) slack=${a#*=} ;;
    *)
        echo "check_topology: unknown argument $a" >&2
        exit 2
        ;;
    esac
done

out=$(numactl -H 2>&1) || {
    echo "check_topology: numactl -H failed: $out" >&2
    exit 1
}
echo "$out"
echo "----"

failed=0
check() { # description expected actual
    if [[ $2 == "$3" ]]; then
        echo "PASS: $1: $3"
    else
        echo "FAIL: $1: expected '$2', got '$3'"
        failed=1
    fi
}

# Parse with bash alone: every process started in the guest costs ~0.5 s under TCG.
declare -A node_cpus node_size
got_nodes=
matrix=
in_dist=0
while read -r line; do
    if [[ $line =~ ^available:\ ([0-9]+)\ nodes ]]; then
        got_nodes=${BASH_REMATCH[1]}
    elif [[ $line =~ ^node\ ([0-9]+)\ cpus:(.*)$ ]]; then
        read -r -a c <<<"${BASH_REMATCH[2]}"
        node_cpus[${BASH_REMATCH[1]}]="${c[*]}"
    elif [[ $line =~ ^node\ ([0-9]+)\ size:\ ([0-9]+)\ MB ]]; then
        node_size[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
    elif [[ $line == "node distances:" ]]; then
        in_dist=1
    elif ((in_dist)) && [[ $line =~ ^[0-9]+:(.*)$ ]]; then
        read -r -a row <<<"${BASH_REMATCH[1]}"
        matrix+="${matrix:+;}${row[*]}"
    fi
done <<<"$out"

if [[ -n $nodes ]]; then
    check "number of nodes" "$nodes" "$got_nodes"
    # Cross-check with sysfs.
    read -r online </sys/devices/system/node/online
    check "nodes online (sysfs)" "$( ((nodes == 1)) && echo 0 || echo "0-$((nodes - 1))")" "$online"
fi

for pair in $cpus; do
    n=${pair%%:*}
    want=${pair#*:}
    check "node $n cpus" "${want//,/ }" "${node_cpus[$n]-missing}"
done

for pair in $mem; do
    n=${pair%%:*}
    want=${pair#*:}
    got=${node_size[$n]-}
    lo=$((want * (100 - slack) / 100))
    if [[ $got =~ ^[0-9]+$ ]] && ((got >= lo && got <= want)); then
        echo "PASS: node $n size: $got MB (asked $want MiB, accepted $lo..$want)"
    else
        echo "FAIL: node $n size: '$got' MB, asked $want MiB (accepted $lo..$want)"
        failed=1
    fi
done

if [[ -n $distances ]]; then
    want=
    IFS=';' read -r -a rows <<<"$distances"
    for r in "${rows[@]}"; do
        read -r -a row <<<"$r"
        want+="${want:+;}${row[*]}"
    done
    check "distance matrix" "$want" "$matrix"
fi

if [[ -n $tiers ]]; then
    # A larger N in memory_tierN is a larger abstract distance: a slower tier.
    # Sorted by N with bash alone (no sort process, see above).
    tier_dir=/sys/devices/virtual/memory_tiering
    ids=()
    for t in "$tier_dir"/memory_tier*; do
        [[ -f $t/nodelist ]] || continue
        id=${t##*/memory_tier}
        for ((k = ${#ids[@]}; k > 0 && ids[k - 1] > id; k--)); do ids[k]=${ids[k - 1]}; done
        ids[k]=$id
    done
    got=
    for id in "${ids[@]}"; do
        read -r list <"$tier_dir/memory_tier$id/nodelist"
        echo "memory_tier$id: nodes $list"
        got+="${got:+;}$list"
    done
    check "memory tiers, fastest first" "$tiers" "${got:-none ($tier_dir: kernel < 6.1?)}"
fi

if ((failed)); then
    echo "check_topology: FAILED"
    exit 1
fi
echo "check_topology: OK"
