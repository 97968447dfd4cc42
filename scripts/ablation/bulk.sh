#!/usr/bin/env bash
# Bulk statements (threadline-bench's bulk workload) against hand-written
# capture variants: one 100,000-row INSERT, UPDATE and DELETE on the
# bench's bulk_items table per round, each variant in a database of its
# own, interleaved, the time of each divided by the unaudited one's of the
# same round.
#
#   ROUNDS=5 scripts/ablation/bulk.sh          # base floor statement lean_stmt
#
# Variants: base (unaudited); floor (one jsonb image per row from the
# transition table, no index: the bench's floor); statement (the capture
# threadline-gen writes by default); lean_stmt (the lean design as a
# statement-level capture: both images, the key hash read from the image,
# changes carrying (txid, started_at), the header once per transaction
# behind the marker, a btree on the row hash, BRIN on the time, no
# changed-column list; UPDATE pairs old and new rows by key, read from the
# images).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3}
ROWS=${ROWS:-100000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The database helpers and variant_base; the other variants below replace
# the pgbench ones of the same names.
. scripts/ablation/variants.sh
variants=(base floor statement lean_stmt)

ddl="CREATE TABLE bulk_items (id bigint PRIMARY KEY, account_id integer NOT NULL, status text NOT NULL,
  amount numeric(12, 2) NOT NULL, note text, tags text[] NOT NULL DEFAULT '{}', updated_at timestamptz NOT NULL DEFAULT now());"

variant_floor() {
  psql_db "$1" <<'SQL'
CREATE TABLE floor_rows (j jsonb);
CREATE FUNCTION floor_capture() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN INSERT INTO public.floor_rows SELECT to_jsonb(r) FROM old_rows AS r;
  ELSE INSERT INTO public.floor_rows SELECT to_jsonb(r) FROM new_rows AS r; END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER fi AFTER INSERT ON bulk_items REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION floor_capture();
CREATE TRIGGER fu AFTER UPDATE ON bulk_items REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION floor_capture();
CREATE TRIGGER fd AFTER DELETE ON bulk_items REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION floor_capture();
SQL
}
variant_statement() {
  local dir="$work/gen"
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir"
    echo "$ddl" >"$dir/schema.sql"
    printf 'version: 1\nschema:\n  files: [schema.sql]\nmigrations:\n  dir: migrations\n  format: plain\npackage:\n  dir: audit\ntables:\n  bulk_items: {}\n' >"$dir/threadline.yaml"
    go run ./cmd/threadline-gen -config "$dir/threadline.yaml"
  fi
  psql_db "$1" -f "$(ls "$dir"/migrations/*.up.sql)"
}
variant_lean_stmt() {
  psql_db "$1" <<'SQL'
CREATE SCHEMA threadline;
CREATE TABLE threadline.c (id bigint GENERATED ALWAYS AS IDENTITY, txid xid8 NOT NULL, started_at timestamptz NOT NULL,
  table_id smallint NOT NULL, op "char" NOT NULL, row_hash bigint, data_before jsonb, data_after jsonb,
  captured_at timestamptz NOT NULL) WITH (parallel_workers = 0);
CREATE INDEX c_row ON threadline.c (row_hash);
CREATE INDEX c_time ON threadline.c USING brin (captured_at);
CREATE TABLE threadline.h (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, txid xid8 NOT NULL, started_at timestamptz NOT NULL, actor_ref text);
CREATE UNIQUE INDEX h_tx ON threadline.h (txid, started_at);
CREATE FUNCTION public.lean_capture() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF current_setting('threadline.h', true) IS DISTINCT FROM pg_current_xact_id()::text THEN
    INSERT INTO threadline.h (txid, started_at, actor_ref) VALUES (pg_current_xact_id(), now(), current_setting('threadline.actor_ref', true))
    ON CONFLICT (txid, started_at) DO NOTHING;
    PERFORM set_config('threadline.h', pg_current_xact_id()::text, true);
  END IF;
  IF TG_OP = 'INSERT' THEN
    INSERT INTO threadline.c (txid, started_at, table_id, op, row_hash, data_after, captured_at)
    SELECT pg_current_xact_id(), now(), 1, 'i', jsonb_hash_extended(j.n->'id', 0), j.n, clock_timestamp()
    FROM (SELECT to_jsonb(r) AS n FROM new_rows AS r OFFSET 0) AS j;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO threadline.c (txid, started_at, table_id, op, row_hash, data_before, data_after, captured_at)
    SELECT pg_current_xact_id(), now(), 1, 'u', jsonb_hash_extended(n.j->'id', 0), o.j, n.j, clock_timestamp()
    FROM (SELECT to_jsonb(r) AS j FROM old_rows AS r OFFSET 0) AS o
    JOIN (SELECT to_jsonb(r) AS j FROM new_rows AS r OFFSET 0) AS n ON n.j->'id' = o.j->'id'
    WHERE o.j <> n.j;
  ELSE
    INSERT INTO threadline.c (txid, started_at, table_id, op, row_hash, data_before, captured_at)
    SELECT pg_current_xact_id(), now(), 1, 'd', jsonb_hash_extended(j.o->'id', 0), j.o, clock_timestamp()
    FROM (SELECT to_jsonb(r) AS o FROM old_rows AS r OFFSET 0) AS j;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER li AFTER INSERT ON bulk_items REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lean_capture();
CREATE TRIGGER lu AFTER UPDATE ON bulk_items REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lean_capture();
CREATE TRIGGER ld AFTER DELETE ON bulk_items REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION lean_capture();
SQL
}

for v in "${variants[@]}"; do
  drop_db "ablation_bulk_$v"
  psql -X -q "$PGURL" -c "CREATE DATABASE ablation_bulk_$v"
  psql_db "ablation_bulk_$v" -c "$ddl"
  "variant_$v" "ablation_bulk_$v"
done

# one_round DB: the three statements, each in its own transaction with the
# actor published, timed by the server (ms).
one_round() {
  psql_db "$1" -c "VACUUM ANALYZE bulk_items" >/dev/null
  psql_db "$1" -t -A <<SQL
\\timing on
BEGIN; SELECT set_config('threadline.actor_ref', '{"type":"user","id":"bench"}', true);
INSERT INTO bulk_items (id, account_id, status, amount, note) SELECT g, g % 1000, 'new', (g % 10000) / 100.0, 'item ' || g FROM generate_series(1, $ROWS) AS g;
COMMIT;
BEGIN; SELECT set_config('threadline.actor_ref', '{"type":"user","id":"bench"}', true);
UPDATE bulk_items SET amount = amount + 1, status = 'paid';
COMMIT;
BEGIN; SELECT set_config('threadline.actor_ref', '{"type":"user","id":"bench"}', true);
DELETE FROM bulk_items;
COMMIT;
SQL
}
declare -A t
n=${#variants[@]}
for ((r = 0; r < ROUNDS; r++)); do
  for ((k = 0; k < n; k++)); do
    v=${variants[$(((k + r) % n))]}
    # timings: BEGIN, set_config, the statement, COMMIT, three times
    mapfile -t ms < <(one_round "ablation_bulk_$v" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
    t[$v,$r,insert]=${ms[2]}; t[$v,$r,update]=${ms[6]}; t[$v,$r,delete]=${ms[10]}
  done
  echo "round $((r + 1)): $(for v in "${variants[@]}"; do printf '%s %s/%s/%s ms  ' "$v" "${t[$v,$r,insert]}" "${t[$v,$r,update]}" "${t[$v,$r,delete]}"; done)"
done
echo
echo "variant: time ratio to base, median (min–max) of $ROUNDS rounds, INSERT / UPDATE / DELETE of $ROWS rows"
for v in "${variants[@]:1}"; do
  line="$v"
  for s in insert update delete; do
    line+=" $(for ((r = 0; r < ROUNDS; r++)); do echo "${t[$v,$r,$s]} ${t[base,$r,$s]}"; done | ratio_stats 2)"
  done
  echo "$line"
done
for v in "${variants[@]}"; do drop_db "ablation_bulk_$v"; done
