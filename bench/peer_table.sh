# bench/peer_table.sh - sourced by bench/footprint.sh and bench/data_limit.sh.
#
# peer_table WIDTH MEASURE - prints a table: one row per entry of the caller's
# `commands` array (skipped when its program is missing), with what `MEASURE
# PRELOAD COMMAND...` prints (a number; PRELOAD empty for glibc) under glibc,
# each peer of `peers` ("name:libfile.so" in the multiarch directory; "-" when
# missing), $OLD when set, and $lib, with the excess of the last two over glibc.
# WIDTH is the command column's.
peer_table() {
    local width=$1 measure=$2 c g o n p so
    local arch=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
    printf "%-${width}s %8s" command glibc
    for p in "${peers[@]}"; do printf ' %8s' "${p%%:*}"; done
    [[ -n ${OLD:-} ]] && printf ' %10s %7s' before excess
    printf ' %10s %7s\n' numa-alloc excess
    for c in "${commands[@]}"; do
        read -ra argv <<<"$c"
        command -v "${argv[0]}" >/dev/null || continue
        g=$("$measure" "" "${argv[@]}")
        printf "%-${width}s %8s" "$c" "$g"
        for p in "${peers[@]}"; do
            so=$arch/${p#*:}
            if [[ -e $so ]]; then printf ' %8s' "$("$measure" "$so" "${argv[@]}")"; else printf ' %8s' -; fi
        done
        if [[ -n ${OLD:-} ]]; then
            o=$("$measure" "$OLD" "${argv[@]}")
            printf ' %10s %7s' "$o" "$((o - g))"
        fi
        n=$("$measure" "$lib" "${argv[@]}")
        printf ' %10s %7s\n' "$n" "$((n - g))"
    done
}
