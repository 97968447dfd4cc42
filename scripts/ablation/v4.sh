. scripts/ablation/v3.sh
# lean: the cheapest generic (DDL-robust) capture, by hand. One row trigger
# per event, the UPDATE one skipping no-op updates in its WHEN clause (a
# binary comparison, defined for every type); each function is one INSERT of
# the whole images (no plpgsql variables, no changed-column list: that is
# derived when read); the table as a small id; the row as a hash of its key;
# changes carry (txid, started_at).
lean_tables() {
  psql_db "$1" <<'SQL'
CREATE TABLE threadline.c4 (
  id bigint GENERATED ALWAYS AS IDENTITY,
  txid xid8 NOT NULL,
  started_at timestamptz NOT NULL,
  table_id smallint NOT NULL,
  op "char" NOT NULL,
  row_hash bigint,
  row_hash_before bigint,
  data_before jsonb, data_after jsonb,
  captured_at timestamptz NOT NULL) WITH (parallel_workers = 0);
CREATE INDEX c4_row ON threadline.c4 (row_hash);
CREATE INDEX c4_row_before ON threadline.c4 (row_hash_before);
CREATE INDEX c4_tx ON threadline.c4 (txid);
CREATE INDEX c4_time ON threadline.c4 USING brin (captured_at);
CREATE TABLE threadline.h4 (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  txid xid8 NOT NULL, started_at timestamptz NOT NULL,
  actor_ref jsonb, actor_ref_invalid text, request_id text, correlation_id text, action_id bigint);
CREATE UNIQUE INDEX h4_tx ON threadline.h4 (txid, started_at);
CREATE INDEX h4_actor ON threadline.h4 USING gin (actor_ref jsonb_path_ops);
INSERT INTO threadline.h4 (txid, started_at) SELECT (g::text)::xid8, now() - interval '1 day' - g * interval '1 second' FROM generate_series(1, 20000) AS g;
INSERT INTO threadline.c4 (txid, started_at, table_id, row_hash, op, data_after, captured_at)
  SELECT t.txid, t.started_at, 1, hashint4extended(k, 0), 'u', jsonb_build_object('aid', k, 'abalance', k), t.started_at
  FROM threadline.h4 AS t, generate_series(1, 5) AS k;
SQL
}
# lean_header MODE: the statements that write the header once.
lean_header() {
  case $1 in
  hint) echo "IF current_setting('threadline.h', true) IS DISTINCT FROM pg_current_xact_id()::text THEN
      INSERT INTO threadline.h4 (txid, started_at, actor_ref, request_id, correlation_id)
      VALUES (pg_current_xact_id(), now(), threadline.parse_actor_ref(nullif(current_setting('threadline.actor_ref', true), '')),
        left(nullif(current_setting('threadline.request_id', true), ''), 256),
        left(nullif(current_setting('threadline.correlation_id', true), ''), 256))
      ON CONFLICT (txid, started_at) DO NOTHING;
      PERFORM set_config('threadline.h', pg_current_xact_id()::text, true);
    END IF;" ;;
  noparse) lean_header hint | sed "s/threadline.parse_actor_ref(\(nullif(current_setting('threadline.actor_ref', true), '')\))/\1::jsonb/" ;;
  noconflict) lean_header hint | sed 's/ON CONFLICT (txid, started_at) DO NOTHING;/;/' ;;
  min) lean_header noparse | sed 's/ON CONFLICT (txid, started_at) DO NOTHING;/;/' ;;
  none) ;;
  esac
}
# lean_guard TABLE: the own-table check; lean_triggers DB TABLE: one row
# trigger per event on the lean functions, no-op UPDATEs skipped.
lean_guard() { echo "IF TG_TABLE_NAME <> '$1' OR TG_TABLE_SCHEMA <> 'public' THEN RAISE EXCEPTION 'guard'; END IF;"; }
lean_triggers() {
  local t=$2
  psql_db "$1" <<SQL
CREATE TRIGGER l4i AFTER INSERT ON public.$t FOR EACH ROW EXECUTE FUNCTION public.l4i_$t();
CREATE TRIGGER l4u AFTER UPDATE ON public.$t FOR EACH ROW WHEN (OLD *<> NEW) EXECUTE FUNCTION public.l4u_$t();
CREATE TRIGGER l4d AFTER DELETE ON public.$t FOR EACH ROW EXECUTE FUNCTION public.l4d_$t();
SQL
}
# lean_fn DB TABLE ID KEYHASH KEYHASH_OLD HEADERMODE
lean_fn() {
  local db=$1 t=$2 id=$3 kh=$4 kho=$5 header guard
  header=$(lean_header "$6")
  guard=$(lean_guard "$t")
  psql_db "$db" <<SQL
CREATE FUNCTION public.l4i_$t() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS \$f\$
BEGIN
  $guard
  $header
  INSERT INTO threadline.c4 (txid, started_at, table_id, op, row_hash, data_after, captured_at)
  VALUES (pg_current_xact_id(), now(), $id, 'i', $kh, to_jsonb(NEW), clock_timestamp());
  RETURN NULL;
END \$f\$;
CREATE FUNCTION public.l4u_$t() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS \$f\$
BEGIN
  $guard
  $header
  INSERT INTO threadline.c4 (txid, started_at, table_id, op, row_hash, row_hash_before, data_before, data_after, captured_at)
  VALUES (pg_current_xact_id(), now(), $id, 'u', $kh, nullif($kho, $kh), to_jsonb(OLD), to_jsonb(NEW), clock_timestamp());
  RETURN NULL;
END \$f\$;
CREATE FUNCTION public.l4d_$t() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS \$f\$
BEGIN
  $guard
  $header
  INSERT INTO threadline.c4 (txid, started_at, table_id, op, row_hash, data_before, captured_at)
  VALUES (pg_current_xact_id(), now(), $id, 'd', $kho, to_jsonb(OLD), clock_timestamp());
  RETURN NULL;
END \$f\$;
SQL
  lean_triggers "$db" "$t"
}
# lean_all DB HEADERMODE KEYSTYLE: KEYSTYLE named hashes the key columns by
# name; image hashes the key read from the image (survives a rename).
lean_all() {
  local t
  for t in pgbench_accounts pgbench_branches pgbench_tellers pgbench_history; do
    psql_db "$1" -c "DROP TRIGGER threadline_capture_row ON $t"
  done
  lean_tables "$1"
  case $3 in
  named)
    lean_fn "$1" pgbench_accounts 1 "hashint4extended(NEW.aid, 0)" "hashint4extended(OLD.aid, 0)" "$2"
    lean_fn "$1" pgbench_branches 2 "hashint4extended(NEW.bid, 0)" "hashint4extended(OLD.bid, 0)" "$2"
    lean_fn "$1" pgbench_tellers 3 "hashint4extended(NEW.tid, 0)" "hashint4extended(OLD.tid, 0)" "$2"
    lean_fn "$1" pgbench_history 4 "hashtextextended(ROW(NEW.tid, NEW.bid, NEW.aid, NEW.mtime)::text, 0)" "hashtextextended(ROW(OLD.tid, OLD.bid, OLD.aid, OLD.mtime)::text, 0)" "$2"
    ;;
  image)
    lean_fn "$1" pgbench_accounts 1 "jsonb_hash_extended(to_jsonb(NEW)->'aid', 0)" "jsonb_hash_extended(to_jsonb(OLD)->'aid', 0)" "$2"
    lean_fn "$1" pgbench_branches 2 "jsonb_hash_extended(to_jsonb(NEW)->'bid', 0)" "jsonb_hash_extended(to_jsonb(OLD)->'bid', 0)" "$2"
    lean_fn "$1" pgbench_tellers 3 "jsonb_hash_extended(to_jsonb(NEW)->'tid', 0)" "jsonb_hash_extended(to_jsonb(OLD)->'tid', 0)" "$2"
    lean_fn "$1" pgbench_history 4 "jsonb_hash_extended(jsonb_build_array(to_jsonb(NEW)->'tid', to_jsonb(NEW)->'bid', to_jsonb(NEW)->'aid', to_jsonb(NEW)->'mtime'), 0)" "0" "$2"
    ;;
  esac
}
variant_lean_nohdr() { install "$1" row; lean_all "$1" none named; }
variant_lean() { install "$1" row; lean_all "$1" hint named; }
variant_lean_image() { install "$1" row; lean_all "$1" hint image; }
# Pieces of lean_nohdr taken away or swapped, one at a time.
lean_swap() { # DB SED-EXPRESSION: rewrite the lean capture functions' bodies
  psql_db "$1" -v expr="$2" <<'SQL'
SELECT set_config('ablation.expr', :'expr', false) \gset
DO $$
DECLARE f record; v_src text;
BEGIN
  FOR f IN SELECT p.oid::regprocedure AS sig, p.prosrc FROM pg_proc AS p WHERE p.proname ~ '^l4[iud]_' LOOP
    v_src := f.prosrc;
    v_src := regexp_replace(v_src, split_part(current_setting('ablation.expr'), '|||', 1), split_part(current_setting('ablation.expr'), '|||', 2), 'g');
    EXECUTE format('CREATE OR REPLACE FUNCTION %s RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS %L', f.sig, v_src);
  END LOOP;
END $$;
SQL
}
variant_lean_noimg() { variant_lean_nohdr "$1"; lean_swap "$1" 'to_jsonb\((NEW|OLD)\)|||NULL::jsonb'; }
variant_lean_text() { variant_lean_nohdr "$1"; psql_db "$1" -c "ALTER TABLE threadline.c4 ADD COLUMN t_before text, ADD COLUMN t_after text"; lean_swap "$1" 'data_before, data_after|||t_before, t_after'; lean_swap "$1" 'data_after,|||t_after,'; lean_swap "$1" 'data_before,|||t_before,'; lean_swap "$1" 'to_jsonb\((NEW|OLD)\)|||\1::text'; }
variant_lean_1idx() { variant_lean_nohdr "$1"; psql_db "$1" -c "DROP INDEX threadline.c4_row_before" -c "DROP INDEX threadline.c4_tx" -c "DROP INDEX threadline.c4_time"; }
# The header's pieces (on lean_1idx): its GIN index, the actor parse
# (parse_actor_ref), the ON CONFLICT arbiter; and each extra index of c4.
variant_lean_h() { install "$1" row; lean_all "$1" hint named; psql_db "$1" -c "DROP INDEX threadline.c4_row_before" -c "DROP INDEX threadline.c4_tx" -c "DROP INDEX threadline.c4_time"; }
variant_lean_h_nogin() { variant_lean_h "$1"; psql_db "$1" -c "DROP INDEX threadline.h4_actor"; }
variant_lean_h_noparse() { install "$1" row; lean_all "$1" noparse named; psql_db "$1" -c "DROP INDEX threadline.c4_row_before" -c "DROP INDEX threadline.c4_tx" -c "DROP INDEX threadline.c4_time"; }
variant_lean_h_noconflict() { install "$1" row; lean_all "$1" noconflict named; psql_db "$1" -c "DROP INDEX threadline.c4_row_before" -c "DROP INDEX threadline.c4_tx" -c "DROP INDEX threadline.c4_time"; }
variant_lean_h_min() { install "$1" row; lean_all "$1" min named; psql_db "$1" -c "DROP INDEX threadline.c4_row_before" -c "DROP INDEX threadline.c4_tx" -c "DROP INDEX threadline.c4_time" -c "DROP INDEX threadline.h4_actor"; }
variant_lean_no_before() { variant_lean_nohdr "$1"; psql_db "$1" -c "DROP INDEX threadline.c4_row_before"; }
variant_lean_no_tx() { variant_lean_nohdr "$1"; psql_db "$1" -c "DROP INDEX threadline.c4_tx"; }
variant_lean_no_brin() { variant_lean_nohdr "$1"; psql_db "$1" -c "DROP INDEX threadline.c4_time"; }
# row_btree: the generated row capture with its two row-history hash
# indexes rebuilt as btrees on the same expressions (the hot-row A/B).
variant_row_btree() {
  install "$1" row
  psql_db "$1" -c "DROP INDEX threadline.audit_changes_row_idx" -c "DROP INDEX threadline.audit_changes_row_before_idx" \
    -c "CREATE INDEX audit_changes_row_idx ON threadline.audit_changes (jsonb_hash_extended(table_pk, hashtext(table_name)))" \
    -c "CREATE INDEX audit_changes_row_before_idx ON threadline.audit_changes (jsonb_hash_extended(table_pk_before, hashtext(table_name)))"
}

# lean_full: lean as a generator would write it, every column read through
# the images (DDL-robust): the images in variables, the key hash taken from
# the new image (from the old one for a DELETE), a key-changing UPDATE also
# noted in a side table (instead of an index on every change), the header
# of lean_h_min, indexes on the row hash and txid and BRIN on the time.
lean_full_fn() { # DB TABLE ID KEYEXPR(v) HEADERMODE
  local db=$1 t=$2 id=$3 key=$4 header guard kn ko
  header=$(lean_header "$5")
  kn=${key//v/v_new}; ko=${key//v/v_old}
  guard=$(lean_guard "$t")
  psql_db "$db" <<SQL
CREATE FUNCTION public.l4i_$t() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS \$f\$
DECLARE v_new jsonb := to_jsonb(NEW);
BEGIN
  $guard
  $header
  INSERT INTO threadline.c4 (txid, started_at, table_id, op, row_hash, data_after, captured_at)
  VALUES (pg_current_xact_id(), now(), $id, 'i', jsonb_hash_extended($kn, 0), v_new, clock_timestamp());
  RETURN NULL;
END \$f\$;
CREATE FUNCTION public.l4u_$t() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS \$f\$
DECLARE v_old jsonb := to_jsonb(OLD); v_new jsonb := to_jsonb(NEW);
BEGIN
  $guard
  $header
  INSERT INTO threadline.c4 (txid, started_at, table_id, op, row_hash, data_before, data_after, captured_at)
  VALUES (pg_current_xact_id(), now(), $id, 'u', jsonb_hash_extended($kn, 0), v_old, v_new, clock_timestamp());
  IF $ko IS DISTINCT FROM $kn THEN
    INSERT INTO threadline.k4 (row_hash_before, change_id) VALUES (jsonb_hash_extended($ko, 0), currval('threadline.c4_id_seq'));
  END IF;
  RETURN NULL;
END \$f\$;
CREATE FUNCTION public.l4d_$t() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS \$f\$
DECLARE v_old jsonb := to_jsonb(OLD);
BEGIN
  $guard
  $header
  INSERT INTO threadline.c4 (txid, started_at, table_id, op, row_hash, data_before, captured_at)
  VALUES (pg_current_xact_id(), now(), $id, 'd', jsonb_hash_extended($ko, 0), v_old, clock_timestamp());
  RETURN NULL;
END \$f\$;
SQL
  lean_triggers "$db" "$t"
}
lean_full_all() { # DB HEADERMODE
  local t
  for t in pgbench_accounts pgbench_branches pgbench_tellers pgbench_history; do
    psql_db "$1" -c "DROP TRIGGER threadline_capture_row ON $t"
  done
  lean_tables "$1"
  psql_db "$1" -c "DROP INDEX threadline.c4_row_before" -c "DROP INDEX threadline.h4_actor" \
    -c "CREATE TABLE threadline.k4 (row_hash_before bigint NOT NULL, change_id bigint NOT NULL)" \
    -c "CREATE INDEX k4_row ON threadline.k4 (row_hash_before)"
  lean_full_fn "$1" pgbench_accounts 1 "v->'aid'" "$2"
  lean_full_fn "$1" pgbench_branches 2 "v->'bid'" "$2"
  lean_full_fn "$1" pgbench_tellers 3 "v->'tid'" "$2"
  lean_full_fn "$1" pgbench_history 4 "jsonb_build_array(v->'tid', v->'bid', v->'aid', v->'mtime')" "$2"
}
variant_lean_full() { install "$1" row; lean_full_all "$1" min; }
variant_lean_full_nohdr() { install "$1" row; lean_full_all "$1" none; }
