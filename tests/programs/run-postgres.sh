#!/usr/bin/env bash
# run-postgres.sh <libnumapreload.so> - a PostgreSQL server (Debian's postgresql-15)
# and its clients, the whole tree preloaded: initdb, SQL that sorts, hashes and
# builds indexes in memory, pgbench with 4 clients, a fast shutdown
# (pg_session.sh). The results must be the same with and without LD_PRELOAD, the
# bank's balances must add up after pgbench, and the server's log must show no
# backend that crashed. PostgreSQL refuses to run as root: as root the session
# runs as nobody (setpriv), in a work directory that nobody may write.
# NA_PG_BIN overrides the server's directory (default: the newest
# /usr/lib/postgresql/*/bin).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
na_setup postgres "$@"
PG_BIN=${NA_PG_BIN:-$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)}
[[ -n $PG_BIN && -x $PG_BIN/postgres && -x $PG_BIN/pgbench && -x $PG_BIN/initdb ]] ||
    na_fail "no PostgreSQL server found under /usr/lib/postgresql (install postgresql-15: tools/install-deps.sh)"

as_user=()
if ((EUID == 0)); then
    na_need setpriv
    group=nogroup
    getent group nogroup >/dev/null || group=nobody
    as_user=(setpriv --reuid=nobody --regid="$group" --clear-groups)
    na_shared_work # LD_DEBUG's traces and the statistics are written by nobody
fi

workload() {
    mkdir -p pg
    na_prog_watched "${as_user[@]}" bash "$NA_DIR/pg_session.sh" "$PG_BIN" "$PWD/pg"
}

na_run_both workload
na_compare
grep -q '^number of transactions actually processed: 1200/1200$' "$NA_WORK/preload/stdout" ||
    na_fail "pgbench did not run its 1200 transactions"
grep -q '^balanced|t|t|t$' "$NA_WORK/preload/stdout" ||
    na_fail "the balances do not add up after pgbench"
grep -q '^server log: 0 problem lines$' "$NA_WORK/preload/stdout" ||
    na_fail "the server's log shows a crash"
na_prove_loaded
na_pass
