#!/usr/bin/env bash
# test_man_pages.sh SOURCE_DIR LIBRARY LAUNCHER BUILT_MAN_DIR
#
# The manual pages (man/) against the sources, not against a list kept by hand:
#  - every option the launcher parses (the case patterns and comparisons of
#    tools/numa-alloc.in, and what its --help lists) has an entry (a .TP
#    heading) in numa-alloc(1), and each subcommand a section there; the words
#    an option accepts (check_word) are named in its entry;
#  - every NUMA_ALLOC_* variable the library reads (a string in base/ core/
#    policy/ interpose/) or the launcher uses has an entry in the ENVIRONMENT
#    section of numa-alloc(7), and those of the launcher are named in
#    numa-alloc(1); the words a variable accepts (parse_keyword's list) are
#    named in its entry;
#  - every function the library exports (nm -D), less the malloc family that
#    the C library documents, and every NUMA_ALLOC_API function of
#    include/numa_alloc.h is named in NAME of a section 3 page, and
#    `man -M BUILT_MAN_DIR 3 NAME` finds and renders it (the link pages);
#  - every counter name that interpose/counters_api.c accepts (its prefixes,
#    field tables and compared words) is named in the page of
#    numa_alloc_counter(3), and every OpenMetrics family that
#    core/stats_openmetrics.c writes in numa-alloc(7);
#  - every page renders without a warning:
#    man --warnings -E UTF-8 -l -Tutf8 -Z PAGE, and groff -ww -man -z PAGE.
# Prints each thing missing and exits 1 if any.
set -u

src=${1:?source dir} lib=${2:?library} launcher=${3:?launcher} built=${4:?built man dir}
pages=$src/man
launcher_in=$src/tools/numa-alloc.in
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# The malloc family: exported, documented by the C library (and numa_malloc(3)
# names them); so are setrlimit, prlimit, mlockall and munlockall (numa-alloc(7) says why they are
# exported: interpose/rlimit.c), and glibc's __libc_ names and cfree for the same
# functions (numa-alloc(7), LIMITS: interpose/malloc.c), and dlopen (numa-alloc(7)
# says why: interpose/dlopen.c). numa_alloc_debug_*:
# NUMA_ALLOC_DEBUG builds only, for the tests (interpose/debug_api.c).
libc_documented=" malloc free calloc realloc reallocarray aligned_alloc posix_memalign memalign \
valloc pvalloc malloc_usable_size malloc_trim mallopt mallinfo mallinfo2 malloc_stats \
malloc_info free_sized free_aligned_sized setrlimit setrlimit64 prlimit prlimit64 \
mlockall munlockall \
__libc_malloc __libc_calloc __libc_realloc __libc_memalign __libc_valloc __libc_pvalloc \
__libc_free __libc_mallopt __libc_mallinfo cfree dlopen \
numa_alloc_debug_check numa_alloc_debug_on_race numa_alloc_debug_hand_back \
numa_alloc_debug_clock_reads numa_alloc_debug_young_reopen "

# The text after each .TP (the item's heading), with escapes removed:
# "\-" -> "-", font changes and \c dropped.
tp_headings() { # page [section]: only inside .SH section when given
    awk -v want="${2:-}" '
        /^\.SH/ { sh = $0; sub(/^\.SH +"?/, "", sh); sub(/"$/, "", sh) }
        want != "" && sh != want { next }
        take { print; take = 0; next }
        /^\.TP/ { take = 1 }' "$1" |
        sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\c//g' -e 's/\\&//g' -e 's/"//g'
}

# The heading and text of the .TP entries whose heading holds `word`, de-escaped.
entry_text() { # page word
    sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\c//g' -e 's/\\&//g' -e 's/"//g' "$1" |
        awk -v word="$2" '
        function holds(line,    i, rest) {
            rest = line
            while ((i = index(rest, word)) > 0) {
                before = i == 1 ? " " : substr(rest, i - 1, 1)
                after = substr(rest, i + length(word), 1)
                if (before !~ /[A-Za-z0-9_-]/ && after !~ /[A-Za-z0-9_-]/) return 1
                rest = substr(rest, i + length(word))
            }
            return 0
        }
        /^\.(TP|SH|SS|PP|IP|P|LP)( |$)/ { on = 0 }
        heading { heading = 0; if (holds($0)) on = 1 }
        /^\.TP/ { heading = 1 }
        on'
}

has_word() { # text word: word stands alone (not inside a longer option or name)
    grep -Eq -- "(^|[^A-Za-z0-9_-])$2([^A-Za-z0-9_-]|\$)" <<<"$1"
}

# --- lint ---------------------------------------------------------------------
if ! command -v man >/dev/null || ! command -v groff >/dev/null; then
    echo "SKIP: man (man-db) or groff missing (tools/install-deps.sh)"
    exit 77
fi
shopt -s nullglob
sources=("$pages"/*.[1-8])
for page in numa-alloc.1 numa-alloc.7; do
    [ -r "$pages/$page" ] || { echo "FAIL: no $pages/$page"; exit 1; }
done
for page in "${sources[@]}"; do
    out=$(man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)
    [ -z "$out" ] || fail "man warns about ${page##*/}: $out"
    out=$(groff -ww -man -z "$page" 2>&1)
    [ -z "$out" ] || fail "groff warns about ${page##*/}: $out"
done

# --- launcher options: numa-alloc(1) -------------------------------------------
page1=$pages/numa-alloc.1
# Case patterns (a line starting with an option, up to its ')', or a whole
# continued line ending in '\') and comparisons with an option ('= --all ]'),
# outside the --help text (the here-document).
options=$(awk '
    /<<.USAGE.$/ { here = 1; next }
    here { if ($0 == "USAGE") here = 0; next }
    {
        line = $0
        sub(/^[ \t]+/, "", line)
        if (line ~ /^-/) {
            pat = line
            if (pat ~ /\)/) sub(/\).*/, "", pat)
            else if (pat !~ /\\$/) pat = ""
            print pat
        }
        while (match(line, /= --?[A-Za-z][A-Za-z0-9-]* \]/)) {
            print substr(line, RSTART + 2, RLENGTH - 4)
            line = substr(line, RSTART + RLENGTH)
        }
    }' "$launcher_in" | grep -oE -- '(^|[ |])--?[A-Za-z][A-Za-z0-9-]*' | tr -d ' |' | sort -u)
# What --help lists: the options that start its indented lines ("  -m, --membind=NODES").
help_options=$("$launcher" --help | sed -nE 's/^ +(-[A-Za-z]), (--[A-Za-z][A-Za-z0-9-]*).*/\1\n\2/p
    s/^ +(--?[A-Za-z][A-Za-z0-9-]*).*/\1/p' | sort -u)
all_options=$(printf '%s\n%s\n' "$options" "$help_options" | sort -u | grep -v '^$')
[ "$(wc -l <<<"$all_options")" -ge 20 ] ||
    fail "found only $(wc -l <<<"$all_options") launcher options: the parsing of $launcher_in is broken"
headings1=$(tp_headings "$page1")
for opt in $all_options; do
    has_word "$headings1" "$opt" || fail "numa-alloc(1) has no entry (.TP) for the launcher option $opt"
done
# The words an option accepts (check_word NAME "$val" WORD...): each in its entry.
while read -r name words; do
    text=$(entry_text "$page1" "--$name")
    for word in $words; do
        has_word "$text" "$word" || fail "numa-alloc(1): the entry of --$name does not name its value '$word'"
    done
done < <(sed -nE 's/.*check_word ([a-z-]+) "\$val" ([^;]*).*/\1 \2/p' "$launcher_in")
# Subcommands: the launcher's first argument compared with a word.
for sub in $(grep -oE '"\$\{1:-\}" = [a-z]+' "$launcher_in" | awk '{print $3}' | sort -u); do
    grep -Eiq "^\.S[HS] .*\b$sub\b" "$page1" || fail "numa-alloc(1) has no section on the subcommand '$sub'"
    grep -Eq "^\.SY \"?numa-alloc $sub" "$page1" || fail "numa-alloc(1)'s SYNOPSIS lacks 'numa-alloc $sub'"
done

# --- environment variables: numa-alloc(7) ----------------------------------------
page7=$pages/numa-alloc.7
# The library: any NUMA_ALLOC_* inside a string literal (env_lookup("NUMA_ALLOC_X"),
# messages naming it). Header guards, NUMA_ALLOC_API and build options are not strings.
lib_vars=$(cat "$src"/base/*.[ch] "$src"/core/*.[ch] "$src"/policy/*.[ch] "$src"/interpose/*.[ch] |
    grep -oE '"([^"\\]|\\.)*"' | grep -oE 'NUMA_ALLOC_[A-Z0-9_]*[A-Z0-9]' | sort -u)
# The launcher: every NUMA_ALLOC_* but the @CMAKE@ substitutions.
launcher_vars=$(sed -e 's/@NUMA_ALLOC_[A-Z_]*@//g' "$launcher_in" | grep -oE 'NUMA_ALLOC_[A-Z0-9_]*[A-Z0-9]' |
    sort -u)
[ "$(wc -w <<<"$lib_vars")" -ge 5 ] || fail "found only: $lib_vars: the search of the library's variables is broken"
env7=$(tp_headings "$page7" ENVIRONMENT)
for var in $(printf '%s\n%s\n' "$lib_vars" "$launcher_vars" | sort -u); do
    has_word "$env7" "$var" || fail "numa-alloc(7) has no entry (.TP in ENVIRONMENT) for $var"
done
# The words a variable accepts, as the library's warning lists them:
# parse_keyword(OPTION_X, "NUMA_ALLOC_X", value, table, "word, word, ...").
while IFS='|' read -r var words; do
    text=$(entry_text "$page7" "$var")
    for word in ${words//,/ }; do
        has_word "$text" "$word" || fail "numa-alloc(7): the entry of $var does not name its value '$word'"
    done
done < <(cat "$src"/policy/*.c "$src"/core/*.c | tr '\n' ' ' | grep -oE 'parse_keyword\([^;]*;' |
    sed -nE 's/.*"(NUMA_ALLOC_[A-Z0-9_]+)".*"([^"]*)"\)[^"]*;$/\1|\2/p')
for var in $launcher_vars; do
    grep -q -- "$var" "$page1" || fail "numa-alloc(1) does not name $var, which the launcher uses"
done

# --- functions: section 3 --------------------------------------------------------
names3=$(for page in "$pages"/*.3; do
    awk '/^\.SH +"?NAME/ { on = 1; next } on && /^\.S[HS]/ { exit } on { print; if (/\\-/) exit }' "$page"
done | sed 's/\\-.*//' | tr ', ' '\n\n' | grep -v '^$' | sort -u)
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TWi]$/ { print $3 }' | sed 's/@.*//' | sort -u)
[ -n "$exported" ] || fail "nm -D found no functions in $lib"
declared=$(grep -v '^#' "$src/include/numa_alloc.h" | grep -oE 'NUMA_ALLOC_API\b.*' |
    grep -oE '\b[a-z_][a-z0-9_]*\(' | tr -d '(' | sort -u)
[ -n "$declared" ] || fail "no NUMA_ALLOC_API declaration found in include/numa_alloc.h"
for fn in $(printf '%s\n%s\n' "$exported" "$declared" | sort -u); do
    case $libc_documented in *" $fn "*) continue ;; esac
    grep -qx -- "$fn" <<<"$names3" || { fail "$fn: exported or declared, but in NAME of no section 3 page in man/"; continue; }
    found=$(man -M "$built" -w 3 "$fn" 2>/dev/null)
    [ -n "$found" ] || { fail "man -M $built 3 $fn finds no page (link page not built?)"; continue; }
    out=$(man -M "$built" --warnings -E UTF-8 -Tutf8 3 "$fn" 2>&1 >/dev/null)
    [ -z "$out" ] || fail "man 3 $fn warns: $out"
    # Piped, man prints plain text (no -T: -T would keep the bold as overstrikes).
    MANWIDTH=200 man -M "$built" 3 "$fn" 2>/dev/null | grep -q -- "$fn" ||
        fail "man 3 $fn does not show $fn"
done

# --- counter names: the page of numa_alloc_counter(3) ------------------------------
# interpose/counters_api.c holds the name space: the prefixes (prefixed(name, "node.")),
# the field tables (NODE_FIELD(x), THREAD_FIELD(x)) and the words it compares
# (strcmp(what, "live")). A function that looks a field table up (find_field) takes
# a FIELD after its prefix, and each field must be named in the page; one that does
# not takes the rest of a whole name, so prefix + word must be there ("threads.live").
counters_c=$src/interpose/counters_api.c
counter_page=$(grep -l '^\.SH NAME' "$pages"/*.3 | while read -r page; do
    awk '/^\.SH +"?NAME/ { on = 1; next } on && /^\.S[HS]/ { exit } on { print; if (/\\-/) exit }' "$page" |
        grep -qw numa_alloc_counter && echo "$page"
done | head -n 1)
if [ ! -r "$counters_c" ]; then
    fail "no $counters_c: where are the counter names defined now? (update this test)"
elif [ -z "$counter_page" ]; then
    fail "no section 3 page names numa_alloc_counter in NAME"
else
    counter_text=$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\c//g' -e 's/\\&//g' -e 's/\\%//g' \
        -e 's/"//g' "$counter_page")
    # FIELD words: the tables; whole-name words and per-function words: "f|word" lines.
    counter_fields=$(grep -v '#define' "$counters_c" | grep -oE '\b(NODE|THREAD)_FIELD\([a-z_0-9]+\)' |
        sed -E 's/.*\((.*)\)/\1/' | sort -u)
    [ "$(wc -w <<<"$counter_fields")" -ge 20 ] ||
        fail "found only $(wc -w <<<"$counter_fields") counter fields in $counters_c: the search is broken"
    for field in $counter_fields; do
        has_word "$counter_text" "$field" || fail "${counter_page##*/}: the counter field $field is not named"
    done
    # Per function (a definition starts in column 0): the words it compares, whether it
    # uses a field table; and the prefix -> function map of numa_alloc_counter.
    counter_names=$(awk '
        /^[a-zA-Z].*\(/ && !/;/ { fn = $0; sub(/\(.*/, "", fn); sub(/.* \**/, "", fn) }
        { text = text $0 " " }
        /find_field\(/ { table[fn] = 1 }
        {
            line = $0
            while (match(line, /strcmp\([a-z_]+, "[a-z_.0-9]+"\)/)) {
                w = substr(line, RSTART, RLENGTH); sub(/^[^"]*"/, "", w); sub(/".*/, "", w)
                words[fn] = words[fn] " " w
                line = substr(line, RSTART + RLENGTH)
            }
        }
        END {
            rest = text
            while (match(rest, /prefixed\(name, "[a-z_.]+"/)) {
                m = substr(rest, RSTART, RLENGTH); rest = substr(rest, RSTART + RLENGTH)
                sub(/^[^"]*"/, "", m); sub(/".*/, "", m)
                print "prefix|" m
            }
            rest = text
            while (match(rest, /prefixed\(name, "[a-z_.]+", &rest\)\) *return [a-z_]+\(/)) {
                m = substr(rest, RSTART, RLENGTH); rest = substr(rest, RSTART + RLENGTH)
                prefix = m; sub(/^[^"]*"/, "", prefix); sub(/".*/, "", prefix)
                f = m; sub(/.*return /, "", f); sub(/\($/, "", f)
                n = split(words[f], ws, " ")
                for (i = 1; i <= n; i++) print (f in table ? "word|" : "name|") (f in table ? "" : prefix) ws[i]
            }
            n = split(words["numa_alloc_counter"], ws, " ")
            for (i = 1; i <= n; i++) print "name|" ws[i]
        }' "$counters_c" | sort -u)
    [ "$(grep -c '^prefix|' <<<"$counter_names")" -ge 4 ] ||
        fail "found only these counter prefixes in $counters_c: $(grep '^prefix|' <<<"$counter_names" | tr '\n' ' ')"
    while IFS='|' read -r kind name; do
        case $kind in
        prefix) grep -qF -- "$name" <<<"$counter_text" || fail "${counter_page##*/}: no counter name starts with $name" ;;
        *) has_word "$counter_text" "${name//./\\.}" || fail "${counter_page##*/}: the counter name or field $name is not named" ;;
        esac
    done <<<"$counter_names"
fi

# --- OpenMetrics families: numa-alloc(7) ------------------------------------------
om_c=$src/core/stats_openmetrics.c
om_families=$(grep -oE '"numa_alloc_[a-z_]+[a-z]"' "$om_c" 2>/dev/null | tr -d '"' | sort -u)
[ "$(wc -w <<<"$om_families")" -ge 10 ] ||
    fail "found only $(wc -w <<<"$om_families") OpenMetrics families in $om_c: the search is broken"
page7_text=$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\c//g' -e 's/\\&//g' -e 's/\\%//g' "$page7")
for fam in $om_families; do
    has_word "$page7_text" "$fam" || fail "numa-alloc(7) does not name the OpenMetrics family $fam"
done

if ((failures)); then
    echo "$failures thing(s) undocumented or badly formatted (man/, see above)"
    exit 1
fi
echo "PASS: $(wc -l <<<"$all_options") launcher options, $(printf '%s\n%s\n' "$lib_vars" "$launcher_vars" | sort -u | wc -l) variables, $(printf '%s\n%s\n' "$exported" "$declared" | sort -u | wc -l) exported or declared functions, $(wc -w <<<"$counter_fields") counter fields, $(wc -l <<<"$counter_names") counter names and prefixes, $(wc -w <<<"$om_families") OpenMetrics families checked; ${#sources[@]} pages lint clean"
