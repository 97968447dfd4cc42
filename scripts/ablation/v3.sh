. scripts/ablation/v2.sh
# call_* : trigger call alone with different function properties
call_bodies() { # DB PROPS
  psql_db "$1" -v props="$2" <<'SQL'
SELECT set_config('ablation.props', :'props', false) \gset
DO $$
DECLARE f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc AS p
           WHERE p.pronamespace = 'threadline'::regnamespace AND p.proname LIKE 'capture\_%' LOOP
    EXECUTE format('DROP FUNCTION %s CASCADE', f);
  END LOOP;
END $$;
SQL
  for t in pgbench_accounts pgbench_branches pgbench_tellers pgbench_history; do
    psql_db "$1" -c "CREATE FUNCTION public.cap_$t() RETURNS trigger LANGUAGE plpgsql $2 AS \$\$ BEGIN RETURN NULL; END \$\$" \
      -c "CREATE TRIGGER cap AFTER INSERT OR UPDATE OR DELETE ON $t FOR EACH ROW EXECUTE FUNCTION public.cap_$t()"
  done
}
variant_call_plain() { install "$1" row; call_bodies "$1" ""; }
variant_call_secdef() { install "$1" row; call_bodies "$1" "SECURITY DEFINER"; }
variant_call_sp() { install "$1" row; call_bodies "$1" "SECURITY DEFINER SET search_path = pg_catalog, pg_temp"; }
variant_call_4set() { install "$1" row; call_bodies "$1" "SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' SET IntervalStyle = 'postgres' SET bytea_output = 'hex'"; }

# proto: the v3 storage design by hand. No header lookup per change (changes
# carry txid + started_at); the header is written once, a transaction-local
# setting saying so; three indexes on the changes (row hash, (txid, id), BRIN
# time); one SET clause.
proto_tables() {
  psql_db "$1" <<'SQL'
CREATE TABLE threadline.c3 (
  id bigint GENERATED ALWAYS AS IDENTITY,
  txid bigint NOT NULL,
  started_at timestamptz NOT NULL,
  row_hash bigint NOT NULL,
  table_schema text NOT NULL, table_name text NOT NULL,
  table_pk jsonb, table_pk_before jsonb, op text NOT NULL,
  data_after jsonb, data_before jsonb, changed_fields text[], changed_from jsonb,
  captured_at timestamptz NOT NULL) WITH (parallel_workers = 0);
CREATE INDEX c3_row ON threadline.c3 (row_hash);
CREATE INDEX c3_tx ON threadline.c3 (txid, id);
CREATE INDEX c3_time ON threadline.c3 USING brin (captured_at);
CREATE TABLE threadline.h3 (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  txid bigint NOT NULL, started_at timestamptz NOT NULL,
  actor_ref jsonb, actor_ref_invalid text, request_id text, correlation_id text, action_id bigint);
CREATE UNIQUE INDEX h3_tx ON threadline.h3 (txid, started_at);
CREATE INDEX h3_actor ON threadline.h3 USING gin (actor_ref jsonb_path_ops);
INSERT INTO threadline.h3 (txid, started_at) SELECT g, now() - interval '1 day' - g * interval '1 second' FROM generate_series(1, 20000) AS g;
INSERT INTO threadline.c3 (txid, started_at, row_hash, table_schema, table_name, table_pk, op, data_after, captured_at)
  SELECT t.txid, t.started_at, jsonb_hash_extended(jsonb_build_object('aid', k), 7), 'public', 'pgbench_accounts', jsonb_build_object('aid', k), 'update', jsonb_build_object('aid', k, 'abalance', k), t.started_at
  FROM threadline.h3 AS t, generate_series(1, 5) AS k;
SQL
}
# proto_fn DB TABLE KEYCOLS(comma) COLS(space) HEADERMODE
proto_fn() {
  local db=$1 t=$2 keys=$3 cols=$4 hdr=${5:-hint} props=${6:-SET search_path = pg_catalog, pg_temp}
  local keyobj="" k changed="" c
  for k in ${keys//,/ }; do keyobj+="${keyobj:+, }'$k', v_new->'$k'"; done
  for c in $cols; do changed+="${changed:+, }CASE WHEN v_old->'$c' IS DISTINCT FROM v_new->'$c' THEN '$c' END"; done
  local header
  case $hdr in
  hint) header="IF current_setting('threadline.h', true) IS DISTINCT FROM v_txid::text THEN
      INSERT INTO threadline.h3 (txid, started_at, actor_ref, request_id, correlation_id)
      VALUES (v_txid, now(), threadline.parse_actor_ref(nullif(current_setting('threadline.actor_ref', true), '')),
        left(nullif(current_setting('threadline.request_id', true), ''), 256),
        left(nullif(current_setting('threadline.correlation_id', true), ''), 256))
      ON CONFLICT (txid, started_at) DO NOTHING;
      PERFORM set_config('threadline.h', v_txid::text, true);
    END IF;" ;;
  none) header="" ;;
  esac
  psql_db "$db" <<SQL
CREATE OR REPLACE FUNCTION public.p3_$t() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER $props AS \$f\$
DECLARE
  v_txid bigint := txid_current();
  v_new jsonb; v_old jsonb; v_changed text[]; v_key jsonb;
BEGIN
  IF TG_TABLE_NAME <> '$t' OR TG_TABLE_SCHEMA <> 'public' THEN RAISE EXCEPTION 'guard'; END IF;
  $header
  IF TG_OP = 'UPDATE' THEN
    v_old := to_jsonb(OLD); v_new := to_jsonb(NEW);
    v_changed := array_remove(ARRAY[$changed]::text[], NULL);
    IF v_changed = '{}'::text[] THEN RETURN NULL; END IF;
    v_key := jsonb_build_object($keyobj);
    INSERT INTO threadline.c3 (txid, started_at, row_hash, table_schema, table_name, table_pk, op, data_after, changed_fields, captured_at)
    VALUES (v_txid, now(), jsonb_hash_extended(v_key, 12345), 'public', '$t', v_key, 'update', v_new, v_changed, clock_timestamp());
  ELSIF TG_OP = 'INSERT' THEN
    v_new := to_jsonb(NEW);
    v_key := jsonb_build_object($keyobj);
    INSERT INTO threadline.c3 (txid, started_at, row_hash, table_schema, table_name, table_pk, op, data_after, captured_at)
    VALUES (v_txid, now(), jsonb_hash_extended(v_key, 12345), 'public', '$t', v_key, 'insert', v_new, clock_timestamp());
  END IF;
  RETURN NULL;
END \$f\$;
CREATE TRIGGER p3 AFTER INSERT OR UPDATE OR DELETE ON public.$t FOR EACH ROW EXECUTE FUNCTION public.p3_$t();
SQL
}
proto_all() { # DB HEADERMODE PROPS
  psql_db "$1" -c "DROP TRIGGER threadline_capture_row ON pgbench_accounts" -c "DROP TRIGGER threadline_capture_row ON pgbench_branches" \
    -c "DROP TRIGGER threadline_capture_row ON pgbench_tellers" -c "DROP TRIGGER threadline_capture_row ON pgbench_history"
  proto_tables "$1"
  proto_fn "$1" pgbench_accounts aid "abalance aid bid filler" "$2" "$3"
  proto_fn "$1" pgbench_branches bid "bbalance bid filler" "$2" "$3"
  proto_fn "$1" pgbench_tellers tid "bid tbalance tid filler" "$2" "$3"
  proto_fn "$1" pgbench_history tid,bid,aid,mtime "tid bid aid delta mtime filler" "$2" "$3"
}
variant_proto() { install "$1" row; proto_all "$1" hint "SET search_path = pg_catalog, pg_temp"; }
variant_proto_nohdr() { install "$1" row; proto_all "$1" none "SET search_path = pg_catalog, pg_temp"; }
variant_proto_1idx() { variant_proto "$1"; psql_db "$1" -c "DROP INDEX threadline.c3_tx" -c "DROP INDEX threadline.c3_time"; }
variant_proto_secdef() { install "$1" row; proto_all "$1" hint "SET search_path = pg_catalog, pg_temp"; }

# typed_nohdr: the SPEC's reference point: a typed copy of the row into a
# per-table table with one btree on the key, no header, no images (it gives
# up DDL robustness: a column added before regeneration fails the write).
variant_typed_nohdr() {
  install "$1" row
  psql_db "$1" -c "DROP TRIGGER threadline_capture_row ON pgbench_accounts" -c "DROP TRIGGER threadline_capture_row ON pgbench_branches" \
    -c "DROP TRIGGER threadline_capture_row ON pgbench_tellers" -c "DROP TRIGGER threadline_capture_row ON pgbench_history"
  local t k
  for t in pgbench_accounts:aid pgbench_branches:bid pgbench_tellers:tid pgbench_history:aid; do
    k=${t#*:}; t=${t%%:*}
    psql_db "$1" <<SQL
CREATE TABLE threadline.t_$t (LIKE public.$t, audit_op "char", audit_at timestamptz);
CREATE INDEX ON threadline.t_$t ($k);
CREATE FUNCTION public.ty_$t() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS \$f\$
BEGIN
  IF TG_TABLE_NAME <> '$t' OR TG_TABLE_SCHEMA <> 'public' THEN RAISE EXCEPTION 'guard'; END IF;
  INSERT INTO threadline.t_$t SELECT NEW.*, 'u', clock_timestamp();
  RETURN NULL;
END \$f\$;
CREATE TRIGGER ty AFTER INSERT OR UPDATE OR DELETE ON public.$t FOR EACH ROW EXECUTE FUNCTION public.ty_$t();
SQL
  done
}

# row_pinned: the generated row capture with the three session settings
# pinned again (what every capture did before a table without timestamptz,
# interval or bytea columns dropped them): the A/B of that change.
variant_row_pinned() {
  install "$1" row
  psql_db "$1" <<'SQL'
DO $$
DECLARE f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc AS p
           WHERE p.pronamespace = 'threadline'::regnamespace AND p.proname LIKE 'capture\_%' LOOP
    EXECUTE format('ALTER FUNCTION %s SET TimeZone = ''UTC'' SET IntervalStyle = ''postgres'' SET bytea_output = ''hex''', f);
  END LOOP;
END $$;
SQL
}

# Single indexes of audit_changes taken away from the generated row
# capture, one at a time: what each costs the write.
variant_row_no_truncate_idx() { install "$1" row; psql_db "$1" -c "DROP INDEX threadline.audit_changes_truncate_idx"; }
variant_row_no_before_idx() { install "$1" row; psql_db "$1" -c "DROP INDEX threadline.audit_changes_row_before_idx"; }
variant_row_no_row_idx() { install "$1" row; psql_db "$1" -c "DROP INDEX threadline.audit_changes_row_idx"; }
variant_row_no_tx_idx() { install "$1" row; psql_db "$1" -c "DROP INDEX threadline.audit_changes_transaction_id_idx"; }

# row_inline_actor: current_transaction_id recognises the canonical actor
# text itself and calls parse_actor_ref only for other text (a function
# call with a SET clause, once per transaction).
variant_row_inline_actor() {
  install "$1" row
  psql_db "$1" <<'SQL'
CREATE OR REPLACE FUNCTION threadline.current_transaction_id() RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $threadline$
DECLARE
    v_txid xid8 := pg_current_xact_id();
    v_raw text;
    v_actor jsonb;
    v_id bigint;
BEGIN
    v_raw := nullif(current_setting('threadline.actor_ref', true), '');
    v_actor := CASE WHEN v_raw IS NULL THEN NULL
        WHEN octet_length(v_raw) <= 4096 AND (v_raw = '{"type":"anonymous"}'
            OR v_raw ~ '^\{"type":"(user|admin|service_account|job|system)","id":"[^"\\[:cntrl:]]*[^"\\[:cntrl:][:space:]][^"\\[:cntrl:]]*"\}$') THEN v_raw::jsonb
        ELSE threadline.parse_actor_ref(v_raw) END;
    INSERT INTO threadline.audit_transactions
        (txid, started_at, actor_ref, actor_ref_invalid, request_id, correlation_id)
    VALUES (v_txid, now(), v_actor, CASE WHEN v_actor IS NULL THEN left(v_raw, 4096) END,
        left(nullif(current_setting('threadline.request_id', true), ''), 256),
        left(nullif(current_setting('threadline.correlation_id', true), ''), 256))
    ON CONFLICT (txid, started_at) DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        SELECT t.id INTO STRICT v_id FROM threadline.audit_transactions AS t WHERE t.txid = v_txid AND t.started_at = now();
    END IF;
    RETURN v_id;
END
$threadline$;
SQL
}
