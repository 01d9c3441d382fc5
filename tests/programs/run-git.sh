#!/usr/bin/env bash
# run-git.sh <libnumapreload.so> - git on a repository of 3000 files in nested
# directories: init, add, several commits (modify, delete, add, rename), a branch
# and a merge, gc, an aggressive repack (threaded delta search), fsck --full.
# Author, committer and dates are fixed, so the object names are deterministic:
# the commit and tree ids, the object list and the archive checksum must be
# the same with and without LD_PRELOAD.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
na_setup git "$@"
na_need git awk

# Nothing from the user's or the system's git configuration.
export HOME=$NA_WORK GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME="numa alloc" GIT_AUTHOR_EMAIL=numa-alloc@example.org
export GIT_COMMITTER_NAME="numa alloc" GIT_COMMITTER_EMAIL=numa-alloc@example.org

# gen <round> <first> <count> : writes files number first..first+count-1, in
# d<i%10>/e<i%7>/f<i/70%5>/, with content that depends on the round.
gen() {
    mkdir -p d{0..9}/e{0..6}/f{0..4}
    awk -v round="$1" -v first="$2" -v count="$3" 'BEGIN {
        for (i = first; i < first + count; i++) {
            f = sprintf("d%d/e%d/f%d/file%05d.txt", i % 10, i % 7, int(i / 70) % 5, i)
            n = 3 + (i * 7) % 40
            for (l = 0; l < n; l++)
                printf "file %d line %d round %d: %s\n", i, l, (l % 5 == 0 ? round : 0),
                    substr("the quick brown fox jumps over the lazy dog 0123456789", 1 + (i + l) % 40) > f
            close(f)
        }
    }'
}

# commit <n> <message> : a commit at a fixed date (n hours after the epoch base).
commit() {
    local date="$((1700000000 + $1 * 3600)) +0000"
    GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date na_prog git commit -q -m "$2"
}

workload() {
    na_prog git init -q -b main repo
    cd repo
    na_prog git config gc.auto 0
    gen 1 0 3000
    na_prog git add -A
    commit 1 "3000 files"

    gen 2 0 3000 # every 5th line of every file changes
    rm -f d1/e*/f*/file*1.txt
    gen 2 3000 400
    na_prog git add -A
    commit 2 "modify all, delete some, add 400"

    na_prog git mv d2 moved-d2
    gen 3 100 500
    na_prog git add -A
    commit 3 "rename a directory, modify 500"

    na_prog git checkout -q -b side
    gen 4 2000 300
    na_prog git add -A
    commit 4 "side: modify 300"
    na_prog git checkout -q main
    gen 5 500 200
    na_prog git add -A
    commit 5 "main: modify 200"
    GIT_AUTHOR_DATE="1700030000 +0000" GIT_COMMITTER_DATE="1700030000 +0000" \
        na_prog git merge -q --no-ff -m "merge side" side

    na_prog_watched git gc -q
    na_prog_watched git -c pack.threads=2 repack -a -d -f -q --window=50 --depth=50
    na_prog git fsck --full --strict --no-progress
    na_prog git status --porcelain | wc -l # must be 0: checked against the plain run

    # Deterministic results only (pack sizes depend on the threads' delta search).
    na_prog git rev-parse HEAD 'HEAD^{tree}'
    na_prog git log --format='%H %T %P %s'
    na_prog git count-objects -v | grep -E '^(count|in-pack|packs|garbage):'
    na_prog git cat-file --batch-all-objects --batch-check | sort | sha256sum
    na_prog git diff --stat HEAD~3 HEAD | tail -n 1
    na_prog git archive --format=tar HEAD | sha256sum
    na_prog git ls-files -s | sha256sum
}

na_run_both workload
na_compare
na_prove_loaded
na_pass
