#!/usr/bin/env bash
# run-compress.sh <libnumapreload.so> - coreutils sort (2 threads, external
# merge through temporary files), gzip -9 and xz -T2 (multithreaded: 1 MiB
# blocks) round trips on ~8 MB of generated lines. The checksums of the
# sorted, compressed and decompressed data must be the same with and without
# LD_PRELOAD, and each round trip must give back its input.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
na_setup compress "$@"
na_need sort gzip xz awk sha256sum

# The input, the same for both runs: 120000 lines of pseudo-random words.
awk 'BEGIN {
    x = 12345
    for (i = 0; i < 120000; i++) {
        line = ""
        for (w = 0; w < 1 + i % 9; w++) {
            x = (x * 1103515245 + 12345) % 2147483648
            line = line sprintf("%s%x", w ? " " : "", x % 1000003)
        }
        printf "%s\t%d\t%s\n", line, (x / 7) % 100000, substr("alpha beta gamma delta epsilon zeta eta theta", 1 + i % 30)
    }
}' >"$NA_WORK/input.txt"
na_log "input: $(wc -l <"$NA_WORK/input.txt") lines, $(($(stat -c %s "$NA_WORK/input.txt") / 1024)) KiB"

sum() { sha256sum | cut -d' ' -f1; }

workload() {
    local in=$NA_WORK/input.txt
    mkdir tmp
    # sort: text order, numeric on field 2, unique; small buffer => temporary files.
    na_prog_watched sort --parallel=2 -S 1M -T tmp "$in" -o sorted.txt
    echo "sort: $(sum <sorted.txt)"
    na_prog_watched sort --parallel=2 -S 4M -T tmp -t $'\t' -k2,2n -k1,1 -s "$in" -o by-num.txt
    echo "sort -k2n: $(sum <by-num.txt)"
    na_prog_watched sort --parallel=2 -u -r "$in" -o uniq.txt
    echo "sort -u -r: $(sum <uniq.txt) $(wc -l <uniq.txt)"
    sort -c sorted.txt # sorted indeed (checked by the plain sort)

    na_prog_watched gzip -9 -n -c "$in" >in.gz
    echo "gzip -9: $(sum <in.gz)"
    # (the decompressions are too short for the maps polling: LD_DEBUG proves them)
    na_prog gzip -d -c in.gz >in.gunzip
    cmp "$in" in.gunzip
    echo "gunzip: $(sum <in.gunzip)"

    na_prog_watched xz -6 -T2 --block-size=1MiB -c "$in" >in.xz
    echo "xz -T2: $(sum <in.xz) blocks $(xz --robot -lv in.xz | awk '$1 == "totals" { print $3 }')"
    na_prog xz -d -T2 -c in.xz >in.unxz
    cmp "$in" in.unxz
    echo "unxz: $(sum <in.unxz)"
    # A pipeline: sort | gzip | gunzip | xz | unxz, all preloaded at once.
    na_prog sort --parallel=2 -S 2M -T tmp -k3 "$in" | na_prog gzip -1 | na_prog gzip -d |
        na_prog xz -T2 -3 --block-size=512KiB | na_prog xz -d | sum | sed 's/^/pipeline: /'
}

na_run_both workload
na_compare
na_prove_loaded
na_pass
