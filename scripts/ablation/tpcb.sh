#!/usr/bin/env bash
# Ablation harness for the capture's write path (docs/benchmarks.md,
# "Fast capture v2"): pgbench TPC-B, scale $SCALE, $CLIENTS clients, all four
# pgbench tables audited, the actor published in BEGIN's round trip. Each
# named variant gets a database of its own; the variants run interleaved
# (the starting one rotates each round) and every variant's tps is divided
# by the unaudited baseline's of the same round.
#
#   scripts/ablation/tpcb.sh [variant ...]      # default: base floor row statement
#   ROUNDS=5 SECONDS_PER_RUN=30 scripts/ablation/tpcb.sh base row row_btree_only
#
# Variants are the functions named variant_<name> below: each installs
# something on a fresh pgbench database (the generated capture in a mode,
# then optionally one change, so each ablation takes one piece away).
# Needs pgbench and psql on PATH and PostgreSQL at $PGURL.
set -euo pipefail
cd "$(dirname "$0")/../.."
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}
SCALE=${SCALE:-10}
CLIENTS=${CLIENTS:-4}
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-15}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db_url() { echo "${PGURL%/*}/$1"; }
psql_db() { psql -X -q -v ON_ERROR_STOP=1 "$(db_url "$1")" "${@:2}"; }

# install DB MODE: the capture threadline-gen writes for the pgbench tables.
install() {
  local db=$1 mode=$2
  local dir="$work/gen-$mode"
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir"
    cat >"$dir/schema.sql" <<'SQL'
CREATE TABLE pgbench_accounts (aid int PRIMARY KEY, bid int, abalance int, filler char(84));
CREATE TABLE pgbench_branches (bid int PRIMARY KEY, bbalance int, filler char(88));
CREATE TABLE pgbench_tellers (tid int PRIMARY KEY, bid int, tbalance int, filler char(84));
CREATE TABLE pgbench_history (tid int, bid int, aid int, delta int, mtime timestamp, filler char(22));
SQL
    cat >"$dir/threadline.yaml" <<YAML
version: 1
schema:
  files: [schema.sql]
migrations:
  dir: migrations
  format: plain
package:
  dir: audit
tables:
  pgbench_accounts: {capture: $mode}
  pgbench_branches: {capture: $mode}
  pgbench_tellers: {capture: $mode}
  pgbench_history:
    key: [tid, bid, aid, mtime]
    capture: $mode
YAML
    go run ./cmd/threadline-gen -config "$dir/threadline.yaml"
  fi
  psql_db "$db" -f "$(ls "$dir"/migrations/*.up.sql)"
}

variant_base() { :; }
variant_floor() {
  psql_db "$1" <<'SQL'
CREATE TABLE floor_rows (x integer);
CREATE FUNCTION floor_capture() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$ BEGIN INSERT INTO public.floor_rows VALUES (1); RETURN NULL; END $$;
CREATE TRIGGER floor_capture AFTER INSERT OR UPDATE OR DELETE ON pgbench_accounts FOR EACH ROW EXECUTE FUNCTION floor_capture();
CREATE TRIGGER floor_capture AFTER INSERT OR UPDATE OR DELETE ON pgbench_branches FOR EACH ROW EXECUTE FUNCTION floor_capture();
CREATE TRIGGER floor_capture AFTER INSERT OR UPDATE OR DELETE ON pgbench_tellers FOR EACH ROW EXECUTE FUNCTION floor_capture();
CREATE TRIGGER floor_capture AFTER INSERT OR UPDATE OR DELETE ON pgbench_history FOR EACH ROW EXECUTE FUNCTION floor_capture();
SQL
}
variant_row() { install "$1" row; }
variant_statement() { install "$1" statement; }
# Extra variants (ablations) are added below by the file named in
# $ABLATIONS, when set, so experiments need no edit of this script.
if [ -n "${ABLATIONS:-}" ]; then
  # shellcheck source=/dev/null
  . "$ABLATIONS"
fi

variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(base floor row statement)
[ "${variants[0]}" = base ] || variants=(base "${variants[@]}")
printf '\\set aid random(1, 100000 * :scale)\n\\set bid random(1, 1 * :scale)\n\\set tid random(1, 10 * :scale)\n\\set delta random(-5000, 5000)\nBEGIN%s;\nUPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;\nSELECT abalance FROM pgbench_accounts WHERE aid = :aid;\nUPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;\nUPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;\nINSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);\nEND;\n' "" >"$work/base.sql"
printf '\\set aid random(1, 100000 * :scale)\n\\set bid random(1, 1 * :scale)\n\\set tid random(1, 10 * :scale)\n\\set delta random(-5000, 5000)\nBEGIN%s;\nUPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;\nSELECT abalance FROM pgbench_accounts WHERE aid = :aid;\nUPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;\nUPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;\nINSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);\nEND;\n' " \\; SELECT set_config('threadline.actor_ref', '{\"type\":\"user\",\"id\":\"bench\"}', true)" >"$work/audited.sql"

for v in "${variants[@]}"; do
  db="ablation_$v"
  psql -X -q "$PGURL" -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  pgbench -i -q -s "$SCALE" "$(db_url "$db")" >/dev/null 2>&1
  "variant_$v" "$db"
  psql_db "$db" -c "VACUUM ANALYZE" -c "CHECKPOINT"
done

declare -A tps
n=${#variants[@]}
for ((r = 0; r < ROUNDS; r++)); do
  line="round $((r + 1)):"
  for ((k = 0; k < n; k++)); do
    v=${variants[$(((k + r) % n))]}
    script="$work/audited.sql"
    [ "$v" = base ] && script="$work/base.sql"
    t=$(pgbench -n -M simple -c "$CLIENTS" -j 2 -T "$SECONDS_PER_RUN" -f "$script" "$(db_url "ablation_$v")" 2>/dev/null |
      sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    tps[$v,$r]=$t
  done
  for v in "${variants[@]}"; do line+=" $v ${tps[$v,$r]}"; done
  echo "$line"
done

echo
echo "variant ratio-median (min-max) vs base, $ROUNDS rounds of ${SECONDS_PER_RUN}s"
for v in "${variants[@]}"; do
  [ "$v" = base ] && continue
  ratios=$(for ((r = 0; r < ROUNDS; r++)); do echo "${tps[$v,$r]} ${tps[base,$r]}" | awk '{printf "%.3f\n", $1/$2}'; done | sort -n)
  med=$(echo "$ratios" | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
  echo "$v $med ($(echo "$ratios" | head -1)-$(echo "$ratios" | tail -1))"
done
for v in "${variants[@]}"; do psql -X -q "$PGURL" -c "DROP DATABASE IF EXISTS ablation_$v"; done
