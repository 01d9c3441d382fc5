#!/usr/bin/env bash
# tools/mutate.sh - mutation testing: puts realistic bugs (tools/mutants.txt) into a scratch
# copy of the repository one at a time, rebuilds, runs the tests and reports which tests
# failed ("killed" the mutant) and which mutants no test noticed (SURVIVED).
#
#   tools/mutate.sh [options] [MUTANT ...]
#
# MUTANT: a mutant's id or a shell pattern over ids ('placement-*'); none: every mutant.
#
# Options:
#   --list            print the mutants (id, file, build, what bug) and exit
#   --check           check that each mutant's search text occurs exactly once (in the
#                     working tree; nothing is copied or built) and exit
#   --guest           run the guest (QEMU) tests too; default: every test except label guest
#   --tests REGEX     run only the tests whose names match REGEX (ctest -R); the guest
#                     label is still left out unless --guest is given
#   --jobs N          ctest -j N and build -j N (default 2)
#   --first-kill      stop a mutant's tests at its first failing test (ctest
#                     --stop-on-failure), with the tests in the order CMake defines them
#                     (the unit tests first): a killed mutant costs seconds, and the
#                     report names the test that killed it first, not all of them
#   --workdir DIR     scratch directory (default ${TMPDIR:-/tmp}/numa-alloc-mutate); it is
#                     kept afterwards (logs/, the builds); a later run with the same DIR
#                     reuses its builds (incremental) but always copies the tree afresh
#   --head            copy the committed tree (git archive HEAD); default: the working tree
#                     (tracked and untracked files that git does not ignore), so a test not
#                     yet committed already counts
#   --mutants FILE    the mutant list (default tools/mutants.txt)
#   --summary FILE    the machine-readable summary (default DIR/summary.tsv)
#   --build-only      only check that each mutant applies and compiles (library target);
#                     no tests
#   --no-baseline     skip the run of the unmutated tree (see below)
#   -h, --help        this text
#
# For each mutant: the file is copied aside, the search text (which must occur exactly
# once) replaced, the build updated incrementally (cmake --build), the selected tests run
# with ctest (each with its own TIMEOUT from CMake), the failed tests read from ctest's
# LastTestsFailed.log, and the file put back (with a new mtime, so the next build
# recompiles it). An interrupt (INT, TERM, HUP) or any exit puts the file back too; a run
# killed outright leaves DIR/current, which the next run with the same DIR undoes first.
#
# Before the mutants, the unmutated tree is built and the same tests run (the baseline): a
# test that fails there is left out of every mutant's run (it would "kill" them all) and
# named in the report. Mutants marked "build: debug" in the list use a second build
# configured as CI's debug build (NUMA_ALLOC_DEBUG=ON, UBSan): they mutate code that only
# exists there (core/heap_check.c, interpose/debug_api.c).
#
# Results: a table on stdout (mutant, killed by which tests, or SURVIVED / DID NOT BUILD /
# NOT APPLIED) and the score; DIR/summary.tsv (one line per mutant: id, file, status,
# killing tests, build and test seconds, description); DIR/logs/<id>.log (build and ctest
# output). Exit status: 0 when every mutant run was killed, 1 when one survived, 2 for a
# tool or list error (a mutant that does not apply or does not build is one: fix the list).
#
# It is long (docs/testing.md, "Mutation testing"): not part of CI. Run it with low
# priority on a shared machine: nice -n 10 tools/mutate.sh.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
self=${BASH_SOURCE[0]}

first_kill=0 list_only=0 check_only=0 guest=0 tests_regex='' jobs=2 workdir='' use_head=0 build_only=0 baseline=1
mutants_file=$root/tools/mutants.txt
summary=''
patterns=()

usage() {
    sed -n '2,/^set -uo/p' "$self" | sed -e '$d' -e 's/^# \{0,1\}//'
}
die() {
    echo "mutate: $*" >&2
    exit 2
}

while (($#)); do
    case $1 in
    --list) list_only=1 ;;
    --check) check_only=1 ;;
    --guest) guest=1 ;;
    --first-kill) first_kill=1 ;;
    --tests)
        (($# >= 2)) || die "--tests needs a regular expression"
        tests_regex=$2
        shift
        ;;
    --jobs)
        if (($# < 2)) || [[ ! $2 =~ ^[1-9][0-9]*$ ]]; then
            die "--jobs needs a number"
        fi
        jobs=$2
        shift
        ;;
    --workdir)
        (($# >= 2)) || die "--workdir needs a directory"
        workdir=$2
        shift
        ;;
    --head) use_head=1 ;;
    --mutants)
        (($# >= 2)) || die "--mutants needs a file"
        mutants_file=$2
        shift
        ;;
    --summary)
        (($# >= 2)) || die "--summary needs a file"
        summary=$2
        shift
        ;;
    --build-only) build_only=1 ;;
    --no-baseline) baseline=0 ;;
    -h | --help)
        usage
        exit 0
        ;;
    -*) die "unknown option: $1 (see --help)" ;;
    *) patterns+=("$1") ;;
    esac
    shift
done

# ---- the mutant list ------------------------------------------------------------------
#
# Entries start with "[id]"; then "key: value" lines: file, find, replace, why, and
# optionally build (release, the default, or debug). "find+:" and "replace+:" add a line
# (a newline, then the value) to the text so far. The value is everything after "key: "
# (leading spaces included); "replace:" alone is an empty replacement (a deletion). Lines
# starting with # and blank lines are ignored.

ids=() files=() finds=() replaces=() whys=() builds=()

parse_list() {
    local line lineno=0 key value n=-1
    [[ -r $mutants_file ]] || die "cannot read $mutants_file"
    while IFS= read -r line || [[ -n $line ]]; do
        lineno=$((lineno + 1))
        [[ -z ${line//[[:space:]]/} || $line == '#'* ]] && continue
        if [[ $line =~ ^\[([A-Za-z0-9._-]+)\][[:space:]]*$ ]]; then
            n=$((n + 1))
            ids[n]=${BASH_REMATCH[1]}
            files[n]='' finds[n]='' replaces[n]='' whys[n]='' builds[n]=release
            continue
        fi
        ((n >= 0)) || die "$mutants_file:$lineno: text before the first [id]"
        if [[ $line =~ ^([a-z+]+):(.*)$ ]]; then
            key=${BASH_REMATCH[1]}
            value=${BASH_REMATCH[2]}
            value=${value# } # one space after the colon belongs to the syntax
        else
            die "$mutants_file:$lineno: expected 'key: value', got: $line"
        fi
        case $key in
        file) files[n]=$value ;;
        find) finds[n]=$value ;;
        find+) finds[n]+=$'\n'$value ;;
        replace) replaces[n]=$value ;;
        replace+) replaces[n]+=$'\n'$value ;;
        why) whys[n]=$value ;;
        build)
            [[ $value == release || $value == debug ]] ||
                die "$mutants_file:$lineno: build is release or debug, not '$value'"
            builds[n]=$value
            ;;
        *) die "$mutants_file:$lineno: unknown key '$key'" ;;
        esac
    done <"$mutants_file"
    local i seen=' '
    for i in "${!ids[@]}"; do
        [[ $seen == *" ${ids[i]} "* ]] && die "$mutants_file: mutant ${ids[i]} listed twice"
        seen+="${ids[i]} "
        [[ -n ${files[i]} && -n ${finds[i]} && -n ${whys[i]} ]] ||
            die "$mutants_file: mutant ${ids[i]} needs file, find and why"
        [[ ${finds[i]} != "${replaces[i]}" ]] ||
            die "$mutants_file: mutant ${ids[i]}: the replacement is the search text"
    done
    ((${#ids[@]} > 0)) || die "$mutants_file: no mutants"
}

parse_list

# The mutants to run, in list order.
selected=()
if ((${#patterns[@]} == 0)); then
    selected=("${!ids[@]}")
else
    for p in "${patterns[@]}"; do
        matched=0
        for i in "${!ids[@]}"; do
            # shellcheck disable=SC2053 # a pattern on purpose
            if [[ ${ids[i]} == $p ]]; then
                matched=1
                [[ " ${selected[*]} " == *" $i "* ]] || selected+=("$i")
            fi
        done
        ((matched)) || die "no mutant matches '$p' (see --list)"
    done
    mapfile -t selected < <(printf '%s\n' "${selected[@]}" | sort -n)
fi

if ((list_only)); then
    for i in "${selected[@]}"; do
        printf '%-34s %-26s %-7s %s\n' "${ids[i]}" "${files[i]}" "${builds[i]}" "${whys[i]}"
    done
    printf '%d mutants\n' "${#selected[@]}"
    exit 0
fi

# Occurrences of the search text of mutant $1 in $2 (a file's text): 0, 1 or 2 (= more).
occurrences() {
    local rest=${2#*"${finds[$1]}"}
    [[ $rest != "$2" ]] || { echo 0; return; }
    [[ $rest != *"${finds[$1]}"* ]] || { echo 2; return; }
    echo 1
}

if ((check_only)); then
    bad=0
    for i in "${selected[@]}"; do
        if [[ ! -f $root/${files[i]} ]]; then
            echo "mutate: ${ids[i]}: no file ${files[i]}" >&2
            bad=1
            continue
        fi
        text=$(
            cat "$root/${files[i]}"
            printf x
        )
        case $(occurrences "$i" "${text%x}") in
        0) echo "mutate: ${ids[i]}: search text not found in ${files[i]}" >&2 && bad=1 ;;
        2) echo "mutate: ${ids[i]}: search text occurs more than once in ${files[i]}" >&2 && bad=1 ;;
        esac
    done
    # Every library source needs a mutant.
    for f in "$root"/base/*.c "$root"/core/*.c "$root"/policy/*.c "$root"/interpose/*.c; do
        f=${f#"$root"/}
        [[ " ${files[*]} " == *" $f "* ]] || { echo "mutate: no mutant in $f" >&2 && bad=1; }
    done
    ((bad)) && exit 2
    echo "mutate: ${#selected[@]} mutants apply; every file of base/, core/, policy/, interpose/ has one"
    exit 0
fi

# ---- the scratch copy -----------------------------------------------------------------

for tool in cmake ctest git tar; do
    command -v "$tool" >/dev/null || die "$tool is needed"
done
workdir=${workdir:-${TMPDIR:-/tmp}/numa-alloc-mutate}
mkdir -p "$workdir/logs" || die "cannot create $workdir"
workdir=$(cd "$workdir" && pwd)
src=$workdir/src
summary=${summary:-$workdir/summary.tsv}
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)

# Builds and test runs go to the background in a process group of their own (set -m), so
# that a signal to this script is handled at once (bash runs a trap only after the
# foreground command ends) and takes down the whole run (ctest and its tests) with it.
set -m
child=0
run_child() {
    "$@" 3>&- 4>&- &
    child=$!
    wait "$child"
    local rc=$?
    child=0
    return "$rc"
}

# State of the mutant being run: DIR/current names the file, DIR/original holds its text.
current_file=''
restore() {
    [[ -n $current_file ]] || return 0
    # cp, not cp -p: the restored file must be newer than the objects built from the mutant.
    cp "$workdir/original" "$src/$current_file" && rm -f "$workdir/current"
    current_file=''
}
# The trap may fire inside a command whose output goes to a log: it writes to these.
exec 3>&1 4>&2
# shellcheck disable=SC2317 # reached through the trap
on_signal() {
    exec 1>&3 2>&4
    ((child)) && kill -TERM -- "-$child" 2>/dev/null
    restore
    echo "mutate: interrupted; $src restored" >&2
    [[ -n ${started:-} ]] && report
    exit 130
}
trap restore EXIT
trap on_signal INT TERM HUP

# A run killed outright (SIGKILL, power loss) left a mutant in place: undo it first.
if [[ -f $workdir/current && -d $src ]]; then
    current_file=$(<"$workdir/current")
    echo "mutate: undoing the mutant a killed run left in $current_file" >&2
    restore
fi

copy_tree() {
    local fresh=$workdir/src.new f
    rm -rf "$fresh"
    mkdir -p "$fresh" || die "cannot create $fresh"
    copy_into "$fresh"
    # A file whose content differs from the last copy's is given the time of now: the
    # reused builds were made from the last copy, perhaps after this file's own time
    # (a merge or a checkout keeps no order with them), and must not keep its old object.
    if [[ -d $src ]]; then
        while IFS= read -r -d '' f; do
            cmp -s "$fresh/$f" "$src/$f" || touch "$fresh/$f"
        done < <(cd "$fresh" && find . -type f -print0)
    fi
    rm -rf "$src"
    mv "$fresh" "$src" || die "cannot move $fresh to $src"
}

copy_into() { # dir
    local src=$1
    if ((use_head)); then
        git -C "$root" archive --format=tar HEAD | tar -C "$src" -xf - ||
            die "git archive HEAD failed"
        source_desc="HEAD $(git -C "$root" rev-parse --short HEAD)"
    else
        # Tracked and untracked files git does not ignore; a tracked file deleted in the
        # working tree is skipped (--ignore-failed-read). Times are kept (and changed
        # files touched, above), so a reused build recompiles only what changed.
        (cd "$root" && git ls-files -z -co --exclude-standard |
            tar --null -T - --ignore-failed-read -cf - 2>/dev/null) |
            tar -C "$src" -xf - || die "copying the working tree failed"
        local dirty=''
        [[ -n $(git -C "$root" status --porcelain 2>/dev/null) ]] && dirty=' + uncommitted changes'
        source_desc="working tree of $(git -C "$root" rev-parse --short HEAD)$dirty"
    fi
}

build_dir() { # flavor
    echo "$workdir/build-$1"
}

configured=' '
configure() { # flavor
    local flavor=$1 dir
    dir=$(build_dir "$flavor")
    [[ $configured == *" $flavor "* ]] && return 0
    local args=(-DCMAKE_BUILD_TYPE=Release)
    [[ $flavor == debug ]] &&
        args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DNUMA_ALLOC_DEBUG=ON -DNUMA_ALLOC_SANITIZE=undefined)
    # A reused build directory made by another generator cannot be reconfigured.
    if [[ -f $dir/CMakeCache.txt ]] && ! grep -q "^CMAKE_GENERATOR:INTERNAL=${generator[1]:-Unix Makefiles}$" "$dir/CMakeCache.txt"; then
        rm -rf "$dir"
    fi
    echo "mutate: configuring $flavor build in $dir"
    cmake -S "$src" -B "$dir" "${generator[@]}" "${args[@]}" >"$workdir/logs/configure-$flavor.log" 2>&1 ||
        die "configure failed (see $workdir/logs/configure-$flavor.log)"
    configured+="$flavor "
}

build() { # flavor log -> status of the build
    local dir
    dir=$(build_dir "$1")
    if ((build_only)); then
        run_child cmake --build "$dir" -j "$jobs" --target numapreload >>"$2" 2>&1
    else
        run_child cmake --build "$dir" -j "$jobs" >>"$2" 2>&1
    fi
}

# The ctest arguments every run uses (the selection), less the baseline's failures.
ctest_selection=()
((guest)) || ctest_selection+=(-LE guest)
[[ -n $tests_regex ]] && ctest_selection+=(-R "$tests_regex")
declare -A baseline_failed=()

run_tests() { # flavor log [stop] -> sets failed_tests; returns 0 (ran) or 1 (ctest error)
    local dir exclude=() rc
    dir=$(build_dir "$1")
    local failed_log=$dir/Testing/Temporary/LastTestsFailed.log
    rm -f "$failed_log"
    if [[ ${3:-} == stop ]]; then
        # Without the cost data ctest runs the tests in CMake's order, the unit tests first.
        rm -f "$dir/Testing/Temporary/CTestCostData.txt"
        exclude+=(--stop-on-failure)
    fi
    if [[ -n ${baseline_failed[$1]:-} ]]; then
        exclude+=(-E "^(${baseline_failed[$1]})\$")
    fi
    run_child ctest --test-dir "$dir" --output-on-failure --no-tests=error -j "$jobs" \
        "${ctest_selection[@]}" "${exclude[@]}" >>"$2" 2>&1
    rc=$?
    failed_tests=''
    if [[ -f $failed_log ]]; then
        # Lines "N:name".
        failed_tests=$(sed -n 's/^[0-9]*://p' "$failed_log" | sort | tr '\n' ' ')
        failed_tests=${failed_tests% }
    fi
    ((rc == 0)) || [[ -n $failed_tests ]]
}

baseline_done=' '
run_baseline() { # flavor
    local flavor=$1 log began=$SECONDS
    [[ $baseline_done == *" $flavor "* ]] && return 0
    baseline_done+="$flavor "
    log=$workdir/logs/baseline-$flavor.log
    : >"$log"
    echo "mutate: building the unmutated tree ($flavor)"
    build "$flavor" "$log" || die "the unmutated tree does not build (see $log)"
    rm -f "$workdir/stale-$flavor"
    echo "mutate: build took $((SECONDS - began)) s"
    ((build_only || !baseline)) && return 0
    began=$SECONDS
    echo "mutate: baseline: running the selected tests on the unmutated tree ($flavor)"
    run_tests "$flavor" "$log" || die "ctest failed on the unmutated tree (see $log)"
    echo "mutate: baseline tests took $((SECONDS - began)) s"
    if [[ -n $failed_tests ]]; then
        echo "mutate: WARNING: failing without any mutant, left out of the mutant runs: $failed_tests" >&2
        baseline_failed[$flavor]=${failed_tests// /|}
        baseline_note+=" $flavor: $failed_tests;"
    fi
}

# Files mutated since their flavor's last clean build (DIR/stale-FLAVOR). The copy keeps
# the sources' times, older than objects built from a mutant: touched, they are rebuilt.
touch_stale() {
    local list f
    for list in "$workdir"/stale-*; do
        [[ -f $list ]] || continue
        while IFS= read -r f; do
            [[ -f $src/$f ]] && touch "$src/$f"
        done <"$list"
    done
}

copy_tree
touch_stale
baseline_note=''

# ---- one mutant -----------------------------------------------------------------------

# Results, by index.
status=() killers=() build_s=() test_s=()

apply() { # index -> 0, or 1 when the search text does not occur exactly once
    local i=$1 path=$src/${files[$1]} content rest
    [[ -f $path ]] || return 1
    content=$(
        cat "$path"
        printf x
    )
    content=${content%x}
    [[ $(occurrences "$i" "$content") == 1 ]] || return 1
    rest=${content#*"${finds[i]}"}
    cp "$path" "$workdir/original" || return 1
    printf '%s\n' "${files[i]}" >"$workdir/current"
    printf '%s\n' "${files[i]}" >>"$workdir/stale-${builds[i]}"
    current_file=${files[i]}
    printf '%s%s%s' "${content%%"${finds[i]}"*}" "${replaces[i]}" "$rest" >"$path"
}

run_mutant() { # index
    local i=$1 flavor=${builds[$1]} log=$workdir/logs/${ids[$1]}.log began
    configure "$flavor"
    run_baseline "$flavor"
    : >"$log"
    printf 'mutate: %-34s ' "${ids[i]}"
    if ! apply "$i"; then
        status[i]='NOT APPLIED'
        echo "NOT APPLIED: the search text does not occur exactly once in ${files[i]}" | tee -a "$log"
        return
    fi
    began=$SECONDS
    if ! build "$flavor" "$log"; then
        build_s[i]=$((SECONDS - began))
        status[i]='DID NOT BUILD'
        restore
        echo "DID NOT BUILD (see $log)"
        return
    fi
    build_s[i]=$((SECONDS - began))
    if ((build_only)); then
        status[i]=BUILT
        restore
        echo "builds (${build_s[i]} s)"
        return
    fi
    began=$SECONDS
    local stop=''
    ((first_kill)) && stop=stop
    if ! run_tests "$flavor" "$log" "$stop"; then
        test_s[i]=$((SECONDS - began))
        status[i]=ERROR
        restore
        echo "ERROR: ctest failed to run (see $log)"
        return
    fi
    test_s[i]=$((SECONDS - began))
    restore
    if [[ -n $failed_tests ]]; then
        status[i]=KILLED
        killers[i]=$failed_tests
        echo "killed by $failed_tests (build ${build_s[i]} s, tests ${test_s[i]} s)"
    else
        status[i]=SURVIVED
        echo "SURVIVED (build ${build_s[i]} s, tests ${test_s[i]} s)"
    fi
}

# ---- report ---------------------------------------------------------------------------

# The table, the score and the summary file (also after an interrupt: the mutants not run
# are NOT RUN there). Sets killed, survived, broken.
report() {
    killed=0 survived=0 broken=0 not_run=0
    {
        printf '# tools/mutate.sh %s; source: %s; started %s; tests: ctest %s\n' \
            "${patterns[*]:-(all mutants)}" "$source_desc" "$started" "${ctest_selection[*]:-(all)}"
        [[ -n $baseline_note ]] && printf '# failing on the unmutated tree, left out:%s\n' "$baseline_note"
        printf 'id\tfile\tstatus\tkilled_by\tbuild_s\ttest_s\twhy\n'
        for i in "${selected[@]}"; do
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${ids[i]}" "${files[i]}" "${status[$i]:-NOT RUN}" \
                "${killers[$i]:-}" "${build_s[$i]:-}" "${test_s[$i]:-}" "${whys[i]}"
        done
    } >"$summary"

    echo
    printf '%-34s %s\n' mutant 'killed by'
    printf '%-34s %s\n' ------ ---------
    for i in "${selected[@]}"; do
        case ${status[$i]:-NOT RUN} in
        KILLED)
            killed=$((killed + 1))
            printf '%-34s %s\n' "${ids[i]}" "${killers[$i]}"
            ;;
        SURVIVED)
            survived=$((survived + 1))
            printf '%-34s %s\n' "${ids[i]}" SURVIVED
            ;;
        BUILT) printf '%-34s %s\n' "${ids[i]}" 'builds (not tested: --build-only)' ;;
        'NOT RUN')
            not_run=$((not_run + 1))
            printf '%-34s %s\n' "${ids[i]}" 'NOT RUN (interrupted)'
            ;;
        *)
            broken=$((broken + 1))
            printf '%-34s %s\n' "${ids[i]}" "${status[$i]:-NOT RUN}"
            ;;
        esac
    done
    echo
    [[ -n $baseline_note ]] && echo "failing on the unmutated tree, left out of every run:$baseline_note"
    if ((build_only)); then
        echo "mutate: $((${#selected[@]} - broken)) of ${#selected[@]} mutants apply and build; took $((SECONDS - began_all)) s"
    else
        line="mutate: score: $killed killed of $((killed + survived)) ($survived survived)"
        ((broken)) && line+="; $broken did not apply, build or run (tool or list errors)"
        ((not_run)) && line+="; $not_run not run"
        echo "$line"
        echo "mutate: took $((SECONDS - began_all)) s; summary: $summary; logs: $workdir/logs/"
    fi
}

started=$(date -u '+%Y-%m-%d %H:%M UTC')
began_all=$SECONDS
echo "mutate: ${#selected[@]} mutants from ${mutants_file#"$root"/}; source: $source_desc; scratch: $workdir"
echo "mutate: tests: ctest -j $jobs ${ctest_selection[*]:-(all)}"
for i in "${selected[@]}"; do
    run_mutant "$i"
done
restore
report

((broken)) && exit 2
((survived)) && exit 1
exit 0
