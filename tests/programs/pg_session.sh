#!/usr/bin/env bash
# pg_session.sh <postgres bin dir> <work dir> - one PostgreSQL server's life, for
# run-postgres.sh: initdb, a server on a Unix socket only, SQL that sorts, hashes,
# aggregates and builds indexes in memory (work_mem 64 MB: big palloc blocks, which
# PostgreSQL's memory contexts take from malloc), pgbench with 4 clients in 2
# threads (a fixed number of transactions: the counts are deterministic), the
# bank's balances checked, a fast shutdown. The server forks a process per
# connection: every one runs on whatever malloc the session inherited.
# Prints only deterministic results; the server's log is checked for crashes.
# Runs as whatever user calls it (PostgreSQL refuses root: run-postgres.sh drops
# to nobody when it is root). Dynamic shared memory (the parallel workers') in
# files of the data directory: no /dev/shm needed.
set -euo pipefail
bin=$1
work=$2
export PATH=$bin:$PATH PGHOST=$work/sock PGPORT=55432 PGDATABASE=postgres
mkdir -p "$work/sock"

initdb --no-sync -A trust -E UTF8 --locale=C -D "$work/db" >"$work/initdb.log" 2>&1
pg_ctl -D "$work/db" -l "$work/server.log" -w -t 120 -o "-k $work/sock -p $PGPORT \
  -c listen_addresses= -c shared_buffers=32MB -c work_mem=64MB -c maintenance_work_mem=64MB \
  -c fsync=off -c max_parallel_workers_per_gather=2 -c huge_pages=off \
  -c dynamic_shared_memory_type=mmap" start >/dev/null

stop() { pg_ctl -D "$work/db" -m fast -w stop >/dev/null 2>&1 || true; }
trap stop EXIT

psql -X -Atq -v ON_ERROR_STOP=1 <<'SQL'
CREATE TABLE t AS
  SELECT i, md5(i::text) AS s, (i::bigint * 7919) % 1000 AS g, repeat('x', i % 300) AS pad
  FROM generate_series(1, 300000) AS i;
CREATE INDEX t_s ON t(s);
CREATE INDEX t_g ON t(g, i);
ANALYZE t;
SELECT g, count(*), max(s), sum(length(pad)) FROM t GROUP BY g ORDER BY g LIMIT 5;
SELECT count(DISTINCT s), count(DISTINCT substr(s, 1, 4)) FROM t;
SELECT md5(string_agg(s, ',' ORDER BY s)) FROM t;
SELECT sum(length(x)) FROM (SELECT repeat(s, 100) AS x FROM t LIMIT 20000) AS y;
WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 100000) SELECT sum(n) FROM r;
SELECT count(*), sum(a.i - b.i) FROM t AS a JOIN t AS b ON b.s = a.s AND b.g = a.g WHERE a.i % 3 = 0;
SELECT md5(string_agg(x::text, '' ORDER BY x)) FROM (SELECT jsonb_build_object('i', i, 's', s) AS x FROM t WHERE i % 50 = 0) AS j;
UPDATE t SET pad = upper(pad) || s WHERE i % 7 = 0;
DELETE FROM t WHERE i % 11 = 0;
VACUUM t;
SELECT count(*), sum(length(pad)), md5(string_agg(s, '' ORDER BY i)) FROM t;
SQL

pgbench -q -i -s 3 >"$work/pgbench-init.log" 2>&1
pgbench -c 4 -j 2 -t 300 -n 2>"$work/pgbench.err" | grep -E '^(number of clients|number of threads|number of transactions actually processed|number of failed transactions)'
psql -X -Atq -v ON_ERROR_STOP=1 <<'SQL'
SELECT 'accounts', count(*) FROM pgbench_accounts;
SELECT 'history', count(*) FROM pgbench_history;
SELECT 'balanced',
       (SELECT sum(abalance) FROM pgbench_accounts) = (SELECT sum(delta) FROM pgbench_history),
       (SELECT sum(tbalance) FROM pgbench_tellers) = (SELECT sum(delta) FROM pgbench_history),
       (SELECT sum(bbalance) FROM pgbench_branches) = (SELECT sum(delta) FROM pgbench_history);
SQL

stop
trap - EXIT
# A backend that crashed (a signal, an assertion of ours, an abort) shows in the log.
echo "server log: $(grep -cE 'terminated by signal|PANIC|TRAP:|out of memory|numa-alloc: ' "$work/server.log" || true) problem lines"
