#!/usr/bin/env bash
# bench/startup_nodes.sh [BUILD] - start-up time and peak RSS against the node count: `true`
# without and with numa-alloc (LD_PRELOAD), and the demo (numa_alloc_demo --threads=2
# --total=8M --policy=local), each the median of RUNS runs, in QEMU guests
# (tests/guest/guest-run) of 2, 16, 64 and 128 nodes, one guest at a time.
#
#   bench/startup_nodes.sh                      # BUILD=build, RUNS=21, LABEL=the git branch
#   LABEL=after RUNS=41 bench/startup_nodes.sh build
#
# Writes docs/scaling-nodes-LABEL.tsv (label, nodes, case, median ms, median peak RSS KiB,
# min ms, max ms), then from every docs/scaling-nodes-*.tsv present the table between the
# markers in docs/scaling-nodes.md and the plot docs/scaling-nodes.png (gnuplot): a later
# LABEL adds its rows beside the earlier ones. The guest runs under TCG (emulated CPUs):
# its times compare with each other, not with a real machine.
# Topologies: 2 nodes is guest-run's 2node (1 GiB each, a CPU each); 16, 64 and 128 are
# nodesN (128 MiB each, CPUs on nodes 0 and 1).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
runs=${RUNS:-21}
label=${LABEL:-$(git -C "$root" rev-parse --abbrev-ref HEAD 2>/dev/null || echo run)}
docs=$root/docs
lib=$build/libnumapreload.so run=$build/bench/startup_run
demo=$build/tools/demo/numa_alloc_demo
for f in "$lib" "$run" "$demo"; do
    [[ -x $f || -f $f ]] || { echo "startup_nodes: $f missing: build $build first" >&2; exit 2; }
done

tsv=$docs/scaling-nodes-$label.tsv
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'label\tnodes\tcase\tmedian_ms\tmedian_rss_kib\tmin_ms\tmax_ms\n' >"$tmp/tsv"
for nodes in 2 16 64 128; do
    topology=nodes$nodes
    ((nodes == 2)) && topology=2node
    # Each case prints "CASE median rss min max"; numa-alloc's own lines go to stderr.
    "$root/tests/guest/guest-run" --topology="$topology" --timeout=500 -- "set -e
        a=\$($run $runs -- /bin/true)
        b=\$($run $runs --preload=$lib -- /bin/true)
        c=\$($run $runs -- $demo --threads=2 --total=8M --policy=local 2>/tmp/err) ||
            { cat /tmp/err >&2; exit 1; }
        printf '%s %s\\n' true-glibc \"\$a\" true-numa-alloc \"\$b\" demo \"\$c\"" >"$tmp/out" || {
        echo "startup_nodes: the $nodes-node guest failed" >&2
        exit 1
    }
    while read -r what med rss min max; do
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$nodes" "$what" "$med" "$rss" "$min" "$max"
    done <"$tmp/out" >>"$tmp/tsv"
    echo "startup_nodes: $nodes nodes: $(tr '\n' ';' <"$tmp/out")" >&2
done
mv "$tmp/tsv" "$tsv"

# The table: a row per label and node count.
all=$tmp/all.tsv
for f in "$docs"/scaling-nodes-*.tsv; do tail -n +2 "$f"; done >"$all"
table=$tmp/table.md
{
    echo '| run | nodes | `true` | `true` + numa-alloc | its peak RSS | demo | its peak RSS |'
    echo '|---|---:|---:|---:|---:|---:|---:|'
    awk -F'\t' '
        { key = $1 "\t" $2; if (!(key in seen)) { order[n++] = key; seen[key] = 1 }
          ms[key, $3] = $4; rss[key, $3] = $5 }
        END {
            for (i = 0; i < n; i++) {
                split(order[i], k, "\t")
                printf "| %s | %s | %.1f ms | %.1f ms | %.1f MiB | %.0f ms | %.1f MiB |\n", k[1], k[2],
                    ms[order[i], "true-glibc"], ms[order[i], "true-numa-alloc"],
                    rss[order[i], "true-numa-alloc"] / 1024, ms[order[i], "demo"],
                    rss[order[i], "demo"] / 1024
            }
        }' "$all"
} >"$table"
md=$docs/scaling-nodes.md
awk -v table="$table" '
    /^<!-- startup table: begin/ { print; while ((getline line < table) > 0) print line; skip = 1; next }
    /^<!-- startup table: end/ { skip = 0 }
    !skip' "$md" >"$tmp/md"
cp "$tmp/md" "$md"

# The plot: time and peak RSS against nodes, a line per case and label.
plot=$tmp/plot.gp
{
    echo "set terminal pngcairo size 900,380 font ',9'"
    echo "set output '$docs/scaling-nodes.png'"
    echo "set multiplot layout 1,2"
    echo "set logscale x 2; set xrange [1.6:160]; set xtics (2, 16, 64, 128); set xlabel 'nodes'"
    echo "set key top left"
    echo "set grid"
    for panel in "4:median start-up + run (ms, TCG)" "5:median peak RSS (KiB)"; do
        col=${panel%%:*}
        echo "set title '${panel#*:}'"
        if ((col == 4)); then echo "set logscale y"; else echo "unset logscale y; set yrange [0:*]"; fi
        printf 'plot '
        sep=''
        for f in "$docs"/scaling-nodes-*.tsv; do
            l=$(basename "$f" .tsv)
            l=${l#scaling-nodes-}
            for c in true-glibc true-numa-alloc demo; do
                [[ $col == 5 && $c == true-glibc ]] && continue
                grep -q "	$c	" "$f" || continue
                printf "%s\"< grep '\t%s\t' %s\" using 2:%s with linespoints title '%s %s'" \
                    "$sep" "$c" "$f" "$col" "$c" "$l"
                sep=', '
            done
        done
        echo
    done
    echo "unset multiplot"
} >"$plot"
gnuplot "$plot"
echo "startup_nodes: $tsv, $md, $docs/scaling-nodes.png" >&2
