. scripts/ablation/v4.sh
# v5: what is left between lean_full (783k) and the 0.72x floor (about
# 700k added per TPC-B transaction on the quiet-machine mapping).
#
# lean_attr: lean_full with no header row on the hot path, as SPEC 13
# suggests: the transaction's first change carries its attribution (the
# actor as sent, the request and correlation ids), decided by the same
# transaction-local marker; the transaction relation is derived from the
# changes when read. A forged marker can only leave a transaction
# unattributed (each change still carries its own txid and start time).
# lean_full_notx / lean_attr_notx: without the txid index; a transaction's
# changes are found through a BRIN on started_at, filtered on txid.
lean_attr_fn() { # DB TABLE ID KEYEXPR(v)
  local db=$1 t=$2 id=$3 key=$4 guard kn ko attr
  kn=${key//v/v_new}; ko=${key//v/v_old}
  guard=$(lean_guard "$t")
  attr="IF current_setting('threadline.h', true) IS DISTINCT FROM pg_current_xact_id()::text THEN
    v_actor := left(nullif(current_setting('threadline.actor_ref', true), ''), 1024);
    v_request := left(nullif(current_setting('threadline.request_id', true), ''), 256);
    v_correlation := left(nullif(current_setting('threadline.correlation_id', true), ''), 256);
    v_first := true;
    PERFORM set_config('threadline.h', pg_current_xact_id()::text, true);
  END IF;"
  psql_db "$db" <<SQL
CREATE FUNCTION public.l5i_$t() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS \$f\$
DECLARE v_new jsonb := to_jsonb(NEW); v_actor text; v_request text; v_correlation text; v_first boolean;
BEGIN
  $guard
  $attr
  INSERT INTO threadline.c5 (txid, started_at, table_id, op, row_hash, data_after, captured_at, first, actor_ref, request_id, correlation_id)
  VALUES (pg_current_xact_id(), now(), $id, 'i', jsonb_hash_extended($kn, 0), v_new, clock_timestamp(), v_first, v_actor, v_request, v_correlation);
  RETURN NULL;
END \$f\$;
CREATE FUNCTION public.l5u_$t() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS \$f\$
DECLARE v_old jsonb := to_jsonb(OLD); v_new jsonb := to_jsonb(NEW); v_actor text; v_request text; v_correlation text; v_first boolean;
BEGIN
  $guard
  $attr
  INSERT INTO threadline.c5 (txid, started_at, table_id, op, row_hash, data_before, data_after, captured_at, first, actor_ref, request_id, correlation_id)
  VALUES (pg_current_xact_id(), now(), $id, 'u', jsonb_hash_extended($kn, 0), v_old, v_new, clock_timestamp(), v_first, v_actor, v_request, v_correlation);
  IF $ko IS DISTINCT FROM $kn THEN
    INSERT INTO threadline.k4 (row_hash_before, change_id) VALUES (jsonb_hash_extended($ko, 0), currval('threadline.c5_id_seq'));
  END IF;
  RETURN NULL;
END \$f\$;
CREATE FUNCTION public.l5d_$t() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS \$f\$
DECLARE v_old jsonb := to_jsonb(OLD); v_actor text; v_request text; v_correlation text; v_first boolean;
BEGIN
  $guard
  $attr
  INSERT INTO threadline.c5 (txid, started_at, table_id, op, row_hash, data_before, captured_at, first, actor_ref, request_id, correlation_id)
  VALUES (pg_current_xact_id(), now(), $id, 'd', jsonb_hash_extended($ko, 0), v_old, clock_timestamp(), v_first, v_actor, v_request, v_correlation);
  RETURN NULL;
END \$f\$;
CREATE TRIGGER l5i AFTER INSERT ON public.$t FOR EACH ROW EXECUTE FUNCTION public.l5i_$t();
CREATE TRIGGER l5u AFTER UPDATE ON public.$t FOR EACH ROW WHEN (OLD *<> NEW) EXECUTE FUNCTION public.l5u_$t();
CREATE TRIGGER l5d AFTER DELETE ON public.$t FOR EACH ROW EXECUTE FUNCTION public.l5d_$t();
SQL
}
lean_attr_tables() { # DB TXINDEX(yes|no)
  psql_db "$1" <<'SQL'
CREATE TABLE threadline.c5 (
  id bigint GENERATED ALWAYS AS IDENTITY,
  txid xid8 NOT NULL,
  started_at timestamptz NOT NULL,
  table_id smallint NOT NULL,
  op "char" NOT NULL,
  row_hash bigint,
  data_before jsonb, data_after jsonb,
  captured_at timestamptz NOT NULL,
  first boolean, actor_ref text, request_id text, correlation_id text) WITH (parallel_workers = 0);
CREATE INDEX c5_row ON threadline.c5 (row_hash);
CREATE INDEX c5_time ON threadline.c5 USING brin (captured_at);
CREATE INDEX c5_started ON threadline.c5 USING brin (started_at);
CREATE TABLE threadline.k4 (row_hash_before bigint NOT NULL, change_id bigint NOT NULL);
CREATE INDEX k4_row ON threadline.k4 (row_hash_before);
INSERT INTO threadline.c5 (txid, started_at, table_id, row_hash, op, data_after, captured_at, first, actor_ref)
  SELECT (g::text)::xid8, now() - interval '1 day' - g * interval '1 second', 1, hashint4extended(k, 0), 'u',
    jsonb_build_object('aid', k, 'abalance', k), now() - interval '1 day' - g * interval '1 second', k = 1,
    CASE WHEN k = 1 THEN '{"type":"user","id":"u' || g || '"}' END
  FROM generate_series(1, 20000) AS g, generate_series(1, 5) AS k;
SQL
  if [ "$2" = yes ]; then psql_db "$1" -c "CREATE INDEX c5_tx ON threadline.c5 (txid)"; fi
}
lean_attr_all() { # DB TXINDEX
  local t
  for t in pgbench_accounts pgbench_branches pgbench_tellers pgbench_history; do
    psql_db "$1" -c "DROP TRIGGER threadline_capture_row ON $t"
  done
  lean_attr_tables "$1" "$2"
  lean_attr_fn "$1" pgbench_accounts 1 "v->'aid'"
  lean_attr_fn "$1" pgbench_branches 2 "v->'bid'"
  lean_attr_fn "$1" pgbench_tellers 3 "v->'tid'"
  lean_attr_fn "$1" pgbench_history 4 "jsonb_build_array(v->'tid', v->'bid', v->'aid', v->'mtime')"
}
variant_lean_attr() { install "$1" row; lean_attr_all "$1" yes; }
variant_lean_attr_notx() { install "$1" row; lean_attr_all "$1" no; }
variant_lean_full_notx() { variant_lean_full "$1"; psql_db "$1" -c "DROP INDEX threadline.c4_tx" -c "CREATE INDEX c4_started ON threadline.c4 USING brin (started_at)"; }
# lean_attr_ptx: the derived header found by a partial btree on the first
# changes only (txid, started_at) WHERE first, instead of a txid index on
# every change; each change's header is then one probe of a small index.
variant_lean_attr_ptx() { variant_lean_attr_notx "$1"; psql_db "$1" -c "CREATE INDEX c5_first ON threadline.c5 (txid, started_at) WHERE first"; }
# lean_full_json: lean_full with json images (to_json: the row's text, no
# conversion of each number into jsonb's numeric), the key hashed as the
# json text of the key columns.
variant_lean_full_json() {
  variant_lean_full "$1"
  psql_db "$1" -c "ALTER TABLE threadline.c4 ALTER COLUMN data_before TYPE json, ALTER COLUMN data_after TYPE json"
  lean_swap "$1" 'jsonb_hash_extended\((.*?), 0\)|||hashtextextended((\1)::text, 0)'
  lean_swap "$1" 'jsonb|||json'
  lean_swap "$1" 'IF (v_old[^ ]*) IS DISTINCT FROM (v_new[^ ]*) THEN|||IF (\1)::text IS DISTINCT FROM (\2)::text THEN'
}
# *_nosp: the same capture functions without their SET search_path clause
# (each SET clause saves and restores the setting around every call, and a
# changed search_path is recomputed at the next name lookup). Safe only if
# every function, operator and type in the body is schema-qualified, which
# these hand-written bodies are not: this measures the cost, not a design.
lean_nosp() { # DB
  psql_db "$1" <<'SQL'
DO $$
DECLARE f record;
BEGIN
  FOR f IN SELECT p.oid::regprocedure AS sig FROM pg_proc AS p WHERE p.proname ~ '^l[45][iud]_' LOOP
    EXECUTE format('ALTER FUNCTION %s RESET search_path', f.sig);
  END LOOP;
END $$;
SQL
}
variant_lean_full_nosp() { variant_lean_full "$1"; lean_nosp "$1"; }
variant_lean_full_notx_nosp() { variant_lean_full_notx "$1"; lean_nosp "$1"; }
# typed_safe: the typed copy (the only design measured at 0.80x) with its
# DDL gap closed: each function copies the named columns of OLD and NEW into
# a per-table typed table, inside a BEGIN ... EXCEPTION block whose handler
# writes the generic jsonb images to the shared table instead, so a column
# dropped, renamed or retyped before regeneration sends the write down the
# slow path rather than failing it. Changes carry (txid, started_at); the
# header is lean_h_min's; a btree on the new key column, BRIN on the time.
# typed_safe_noexc: the same without the exception block (the cost of the
# safety net); typed_safe_nohdr: without the header.
typed_safe_all() { # DB HEADERMODE EXCEPTION(yes|no)
  local t header
  for t in pgbench_accounts pgbench_branches pgbench_tellers pgbench_history; do
    psql_db "$1" -c "DROP TRIGGER threadline_capture_row ON $t"
  done
  lean_tables "$1"
  psql_db "$1" -c "DROP INDEX threadline.h4_actor"
  header=$(lean_header "$2")
  psql_db "$1" -v header="$header" -v exc="$3" <<'SQL'
SELECT set_config('ablation.header', :'header', false), set_config('ablation.exc', :'exc', false) \gset
DO $do$
DECLARE
  t text; k text; targets text; defs text; body text; ev text; vals text; fallback text;
  hdr text := current_setting('ablation.header');
BEGIN
  FOREACH t IN ARRAY ARRAY['pgbench_accounts', 'pgbench_branches', 'pgbench_tellers', 'pgbench_history'] LOOP
    k := CASE t WHEN 'pgbench_accounts' THEN 'aid' WHEN 'pgbench_branches' THEN 'bid' WHEN 'pgbench_tellers' THEN 'tid' ELSE 'aid' END;
    SELECT string_agg(format('o_%s, n_%s', a.attname, a.attname), ', ' ORDER BY a.attnum),
           string_agg(format('o_%s %s, n_%s %s', a.attname, format_type(a.atttypid, a.atttypmod), a.attname, format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum)
      INTO targets, defs
      FROM pg_attribute AS a WHERE a.attrelid = format('public.%I', t)::regclass AND a.attnum > 0 AND NOT a.attisdropped;
    EXECUTE format('CREATE TABLE threadline.y_%s (txid xid8 NOT NULL, started_at timestamptz NOT NULL, op "char" NOT NULL, captured_at timestamptz NOT NULL, %s) WITH (parallel_workers = 0)', t, defs);
    EXECUTE format('CREATE INDEX ON threadline.y_%s (n_%s)', t, k);
    EXECUTE format('CREATE INDEX ON threadline.y_%s USING brin (started_at)', t);
    FOREACH ev IN ARRAY ARRAY['i', 'u', 'd'] LOOP
      SELECT string_agg(CASE WHEN ev = 'i' THEN 'NULL' ELSE format('OLD.%I', a.attname) END || ', ' ||
                        CASE WHEN ev = 'd' THEN 'NULL' ELSE format('NEW.%I', a.attname) END, ', ' ORDER BY a.attnum)
        INTO vals
        FROM pg_attribute AS a WHERE a.attrelid = format('public.%I', t)::regclass AND a.attnum > 0 AND NOT a.attisdropped;
      body := format('INSERT INTO threadline.y_%s (txid, started_at, op, captured_at, %s) VALUES (pg_current_xact_id(), now(), %L, clock_timestamp(), %s);', t, targets, ev, vals);
      fallback := format('INSERT INTO threadline.c4 (txid, started_at, table_id, op, data_before, data_after, captured_at) VALUES (pg_current_xact_id(), now(), 1, %L, %s, %s, clock_timestamp());',
        ev, CASE WHEN ev = 'i' THEN 'NULL' ELSE 'to_jsonb(OLD)' END, CASE WHEN ev = 'd' THEN 'NULL' ELSE 'to_jsonb(NEW)' END);
      IF current_setting('ablation.exc') = 'yes' THEN
        body := format(E'BEGIN\n    %s\n  EXCEPTION WHEN undefined_column OR datatype_mismatch OR invalid_text_representation OR cannot_coerce THEN\n    %s\n  END;', body, fallback);
      END IF;
      EXECUTE format(E'CREATE FUNCTION public.y%s_%s() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS %L',
        ev, t, format(E'BEGIN\n  IF TG_TABLE_NAME <> %L OR TG_TABLE_SCHEMA <> %L THEN RAISE EXCEPTION %L; END IF;\n  %s\n  %s\n  RETURN NULL;\nEND', t, 'public', 'guard', hdr, body));
    END LOOP;
    EXECUTE format('CREATE TRIGGER yi AFTER INSERT ON public.%I FOR EACH ROW EXECUTE FUNCTION public.yi_%s()', t, t);
    EXECUTE format('CREATE TRIGGER yu AFTER UPDATE ON public.%I FOR EACH ROW WHEN (OLD *<> NEW) EXECUTE FUNCTION public.yu_%s()', t, t);
    EXECUTE format('CREATE TRIGGER yd AFTER DELETE ON public.%I FOR EACH ROW EXECUTE FUNCTION public.yd_%s()', t, t);
  END LOOP;
END
$do$;
SQL
}
variant_typed_safe() { install "$1" row; typed_safe_all "$1" min yes; }
variant_typed_safe_noexc() { install "$1" row; typed_safe_all "$1" min no; }
variant_typed_safe_nohdr() { install "$1" row; typed_safe_all "$1" none yes; }
