#!/usr/bin/env bash
# run-sqlite3.sh <libnumapreload.so> - the sqlite3 shell on a 100k-row database:
# recursive-CTE inserts, indexes, aggregates, ORDER BY with a temporary b-tree,
# a join, updates, deletes, VACUUM and integrity_check. The query output must be
# the same with and without LD_PRELOAD.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
na_setup sqlite3 "$@"
na_need sqlite3

cat >"$NA_WORK/workload.sql" <<'SQL'
PRAGMA journal_mode = WAL;
PRAGMA cache_size = -32000;
CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, val INTEGER, name TEXT, pad BLOB);
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < 100000)
INSERT INTO t(id, grp, val, name, pad)
  SELECT i, i % 97, (i * 7919) % 100003, 'name-' || ((i * 31) % 50021) || '-' || hex((i * 31) % 50021 % 7),
         zeroblob(i % 200)
  FROM seq;
CREATE INDEX t_grp_val ON t(grp, val);
CREATE INDEX t_name ON t(name);
SELECT 'rows', count(*), sum(val), min(name), max(name), sum(length(pad)) FROM t;
SELECT grp, count(*), sum(val), avg(val), min(val), max(val) FROM t GROUP BY grp ORDER BY grp;
SELECT id, val, name FROM t ORDER BY val DESC, id LIMIT 20;
SELECT name, count(*) AS c FROM t GROUP BY name HAVING c > 1 ORDER BY c DESC, name LIMIT 20;
SELECT count(*), sum(val) FROM t WHERE grp = 42 AND val BETWEEN 1000 AND 60000;
-- A big sort without an index (temporary b-tree), reduced to a checksum.
SELECT count(*), sum(rn * (val % 1000)) FROM
  (SELECT val, row_number() OVER (ORDER BY name || val, id) AS rn FROM t);
-- A join of the table with itself through the index.
SELECT count(*), sum(b.val - a.val) FROM t a JOIN t b ON b.grp = a.grp AND b.val BETWEEN a.val + 1 AND a.val + 300;
CREATE TABLE words AS SELECT group_concat(name, ' ') AS g FROM t WHERE id % 100 = 0;
SELECT length(g), substr(g, 1, 60) FROM words;
UPDATE t SET name = upper(name) || '#' || val, pad = randomblob(0) WHERE id % 3 = 0;
DELETE FROM t WHERE id % 5 = 0;
SELECT 'after update/delete', count(*), sum(val), sum(length(name)), sum(length(pad)) FROM t;
SELECT grp, group_concat(id, ',') FROM (SELECT grp, id FROM t WHERE grp < 3 ORDER BY id LIMIT 30)
  GROUP BY grp ORDER BY grp;
VACUUM;
PRAGMA integrity_check;
SELECT 'final', count(*), total(val) FROM t;
SQL

workload() {
    na_prog_watched sqlite3 -batch -bail workload.db <"$NA_WORK/workload.sql"
}

na_run_both workload
na_compare
na_prove_loaded
na_pass
