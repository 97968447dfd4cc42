#!/usr/bin/env bash
# The hot row, per variant: TOTAL updates of one pgbench account, each its
# own transaction (a procedure that commits in its loop, synchronous_commit
# off), in batches of BATCH after one uncounted batch; prints µs per update
# of every batch and the last batch against the first.
#
#   ABLATIONS=scripts/ablation/v4.sh scripts/ablation/hotrow.sh row row_btree
set -euo pipefail
cd "$(dirname "$0")/../.."
TOTAL=${TOTAL:-250000}
BATCH=${BATCH:-10000}
SCALE=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. scripts/ablation/variants.sh
select_variants "$@"
for v in "${variants[@]}"; do
  prepare_db "hot_$v" "$v"
  psql_db "hot_$v" -c "CREATE PROCEDURE hot_updates(n integer) LANGUAGE plpgsql AS \$\$
    BEGIN FOR i IN 1..n LOOP UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = 1; COMMIT; END LOOP; END \$\$"
  {
    echo "SET synchronous_commit = off;"
    echo "CALL hot_updates($BATCH);"
    echo "\\timing on"
    for ((b = 0; b < TOTAL / BATCH; b++)); do echo "CALL hot_updates($BATCH);"; done
  } | psql_db "hot_$v" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' |
    awk -v v="$v" -v n="$BATCH" '{t[NR] = $1 * 1000 / n; line = line sprintf(" %.0f", t[NR])}
      END {printf "%s: µs per update by batch:%s; last/first %.2f\n", v, line, t[NR] / t[1]}'
  drop_db "hot_$v"
done
