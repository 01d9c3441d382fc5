#!/usr/bin/env bash
# Static checks for numa-alloc:
#   1. cppcheck (warning, performance, portability) over base/ core/ policy/ interpose/ include/
#   2. clang-format --dry-run --Werror over every .c/.h in base core policy interpose include tests bench tools
#   3. the include order of the library's layers (docs/architecture.md, "Layers"): a file of
#      base/ policy/ core/ interpose/ includes headers of its own layer and of those below it
#   4. every mutant of tools/mutants.txt still finds its text (tools/mutate.sh --check, some
#      60 s): a change that rewrites a mutated line says so here, not at the next mutation run
# All run even when one fails; exits non-zero when any reports anything.
# Suppress a cppcheck finding inline (// cppcheck-suppress <id>) or, if it must be
# global, in .cppcheck-suppressions at the repository root.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1

failed=0

# Lists .c/.h files (sorted, NUL-separated) under the given directories that exist.
list_sources() {
    local dirs=()
    local d
    for d in "$@"; do
        [[ -d $d ]] && dirs+=("$d")
    done
    ((${#dirs[@]} > 0)) || return 0
    find "${dirs[@]}" -type f \( -name '*.c' -o -name '*.h' \) -print0 | sort -z
}

for tool in cppcheck clang-format; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "lint: $tool not found; run tools/install-deps.sh" >&2
        exit 1
    fi
done

# --- cppcheck -----------------------------------------------------------------
check_dirs=(base core policy interpose include tools/demo)
mapfile -d '' -t cc_files < <(list_sources "${check_dirs[@]}")
if ((${#cc_files[@]} == 0)); then
    echo "lint: cppcheck: no C sources in ${check_dirs[*]} - skipped"
else
    targets=()
    if printf '%s\n' "${cc_files[@]}" | grep -q '\.c$'; then
        # Directories: cppcheck checks each .c file and the headers it includes.
        for d in "${check_dirs[@]}"; do [[ -d $d ]] && targets+=("$d"); done
    else
        # Headers only so far: check them directly.
        targets=("${cc_files[@]}")
    fi
    cc_opts=('--enable=warning,performance,portability' --error-exitcode=1 --inline-suppr -q
             -j 2 -I include -I .)
    if [[ -s .cppcheck-suppressions ]]; then
        cc_opts+=(--suppressions-list=.cppcheck-suppressions)
    fi
    echo "lint: cppcheck ${targets[*]}"
    if cppcheck "${cc_opts[@]}" "${targets[@]}"; then
        echo "lint: cppcheck: OK"
    else
        echo "lint: cppcheck: FAILED (findings above)" >&2
        failed=1
    fi
fi

# --- clang-format ---------------------------------------------------------------
fmt_dirs=(base core policy interpose include tests bench tools)
mapfile -d '' -t fmt_files < <(list_sources "${fmt_dirs[@]}")
if ((${#fmt_files[@]} == 0)); then
    echo "lint: clang-format: no .c/.h files in ${fmt_dirs[*]} - skipped"
else
    echo "lint: clang-format --dry-run --Werror on ${#fmt_files[@]} file(s)"
    bad=()
    for f in "${fmt_files[@]}"; do
        clang-format --dry-run --Werror "$f" || bad+=("$f")
    done
    if ((${#bad[@]} == 0)); then
        echo "lint: clang-format: OK"
    else
        echo "lint: clang-format: FAILED, ${#bad[@]} file(s) not formatted: ${bad[*]}" >&2
        echo "lint: fix with: clang-format -i ${bad[*]}" >&2
        failed=1
    fi
fi

# --- layers -------------------------------------------------------------------
# Bottom first. A quoted include (or an angle one naming a layer) must name a layer at or
# below the including file's own; the public header ("numa_alloc.h", include/) belongs to
# the top layer. Anything else in quotes is no layer's, and refused too.
layers=(base policy core interpose)
layer_rank() { # layer -> its index in layers, or nothing
    local i
    for i in "${!layers[@]}"; do
        [[ ${layers[i]} == "$1" ]] && echo "$i" && return
    done
}
top=$((${#layers[@]} - 1))
mapfile -d '' -t layer_files < <(list_sources "${layers[@]}")
include_re='^[[:space:]]*#[[:space:]]*include[[:space:]]*([<"])([^">]*)[">]'
violations=0
for f in "${layer_files[@]}"; do
    own=${f%%/*}
    own_rank=$(layer_rank "$own")
    lineno=0
    while IFS= read -r line || [[ -n $line ]]; do
        lineno=$((lineno + 1))
        [[ $line =~ $include_re ]] || continue
        quote=${BASH_REMATCH[1]} target=${BASH_REMATCH[2]}
        rank=''
        if [[ $target == */* ]]; then
            rank=$(layer_rank "${target%%/*}")
        elif [[ $target == numa_alloc.h ]]; then
            rank=$top
        fi
        if [[ -z $rank ]]; then
            [[ $quote == '<' ]] && continue # a system header
            echo "lint: $f:$lineno: includes \"$target\", which is in no layer (${layers[*]})" >&2
            violations=$((violations + 1))
        elif ((rank > own_rank)); then
            echo "lint: $f:$lineno: includes $target: $own/ may include only ${layers[*]:0:own_rank+1} (layers, bottom first: ${layers[*]})" >&2
            violations=$((violations + 1))
        fi
    done <"$f"
done
if ((violations == 0)); then
    echo "lint: layers: OK (${#layer_files[@]} files include only their own layer and those below)"
else
    echo "lint: layers: FAILED, $violations include(s) against the layer order (docs/architecture.md, \"Layers\")" >&2
    failed=1
fi

if "$root/tools/mutate.sh" --check >/dev/null; then
    echo "lint: mutants: OK (tools/mutate.sh --check)"
else
    echo "lint: mutants: FAILED, tools/mutate.sh --check: a mutant's text is gone (tools/mutants.txt)" >&2
    failed=1
fi

if ((failed)); then
    echo "lint: FAILED" >&2
    exit 1
fi
echo "lint: OK"
