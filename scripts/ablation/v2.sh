# Ablations of the row-level capture (sourced by tpcb.sh, cpu.sh and
# instructions.sh through ABLATIONS=scripts/ablation/v2.sh). Each takes the
# generated row capture and replaces every capture function's body, or
# drops indexes, so one piece at a time is measured.

# replace_bodies DB BODY: every capture function gets BODY (PL/pgSQL),
# with the same SECURITY DEFINER and SET clauses.
replace_bodies() {
  psql_db "$1" -v body="$2" <<'SQL'
SELECT set_config('ablation.body', :'body', false) \gset
DO $$
DECLARE f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc AS p
           WHERE p.pronamespace = 'threadline'::regnamespace AND p.proname LIKE 'capture\_%' LOOP
    EXECUTE format('CREATE OR REPLACE FUNCTION %s RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER '
      'SET search_path = pg_catalog, pg_temp SET TimeZone = ''UTC'' SET IntervalStyle = ''postgres'' '
      'SET bytea_output = ''hex'' AS %L', f, current_setting('ablation.body'));
  END LOOP;
END $$;
SQL
}

# The trigger call alone: a SECURITY DEFINER PL/pgSQL function that returns.
variant_row_noop() { install "$1" row; replace_bodies "$1" 'BEGIN RETURN NULL; END'; }
# One INSERT of constants into audit_changes (all its indexes).
variant_row_const() {
  install "$1" row
  replace_bodies "$1" "BEGIN INSERT INTO threadline.audit_changes (transaction_id, table_schema, table_name, op, captured_at)
    VALUES (1, 'public', 't', 'update', clock_timestamp()); RETURN NULL; END"
}
# The same with no index on audit_changes.
variant_row_const_noidx() {
  variant_row_const "$1"
  psql_db "$1" -c "ALTER TABLE threadline.audit_changes DROP CONSTRAINT audit_changes_pkey" \
    -c "DO \$\$ DECLARE i regclass; BEGIN FOR i IN SELECT indexrelid::regclass FROM pg_index WHERE indrelid = 'threadline.audit_changes'::regclass LOOP EXECUTE 'DROP INDEX ' || i; END LOOP; END \$\$"
}
# Constants plus the header: lookup, and current_transaction_id on a miss.
variant_row_const_header() {
  install "$1" row
  replace_bodies "$1" "DECLARE v_txid xid8 := pg_current_xact_id_if_assigned(); BEGIN
    INSERT INTO threadline.audit_changes (transaction_id, table_schema, table_name, op, captured_at)
    VALUES ((SELECT coalesce((SELECT h.id FROM threadline.audit_transactions AS h WHERE h.txid = v_txid AND h.started_at = now()),
      threadline.current_transaction_id())), 'public', 't', 'update', clock_timestamp()); RETURN NULL; END"
}
# The constants plus the two images and the changed columns, no header.
variant_row_const_images() {
  install "$1" row
  replace_bodies "$1" "DECLARE o jsonb; n jsonb; BEGIN
    IF TG_OP = 'UPDATE' THEN o := to_jsonb(OLD); END IF; n := to_jsonb(NEW);
    INSERT INTO threadline.audit_changes (transaction_id, table_schema, table_name, op, data_after, changed_fields, captured_at)
    VALUES (1, 'public', 't', 'update', n, (SELECT array_agg(k) FROM jsonb_each(n) AS e(k, v) WHERE o->k IS DISTINCT FROM v), clock_timestamp()); RETURN NULL; END"
}
# Constants plus the header lookup alone (a miss, as no header is written).
variant_row_const_lookup() {
  install "$1" row
  replace_bodies "$1" "DECLARE v_txid xid8 := pg_current_xact_id_if_assigned(); BEGIN
    INSERT INTO threadline.audit_changes (transaction_id, table_schema, table_name, op, captured_at)
    VALUES ((SELECT coalesce((SELECT h.id FROM threadline.audit_transactions AS h WHERE h.txid = v_txid AND h.started_at = now()),
      1)), 'public', 't', 'update', clock_timestamp()); RETURN NULL; END"
}
# The header, with its indexes other than the primary key and the unique
# (txid, started_at) dropped.
variant_row_const_header_lean() {
  variant_row_const_header "$1"
  psql_db "$1" -c "DROP INDEX threadline.audit_transactions_actor_ref_idx" -c "DROP INDEX threadline.audit_transactions_started_at_idx"
}
# current_transaction_id called once per change (the header written by the
# first call, found on the unique index by the others).
variant_row_cti() { install "$1" row; replace_bodies "$1" 'BEGIN PERFORM threadline.current_transaction_id(); RETURN NULL; END'; }
# The same with current_transaction_id reduced to a plain INSERT of the
# header (no actor parsing, no ON CONFLICT) on the first call.
variant_row_cti_plain() {
  variant_row_cti "$1"
  psql_db "$1" <<'SQL'
CREATE OR REPLACE FUNCTION threadline.current_transaction_id() RETURNS bigint LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE v_id bigint;
BEGIN
  SELECT t.id INTO v_id FROM threadline.audit_transactions AS t WHERE t.txid = pg_current_xact_id() AND t.started_at = now();
  IF v_id IS NULL THEN
    INSERT INTO threadline.audit_transactions (txid, started_at) VALUES (pg_current_xact_id(), now()) RETURNING id INTO v_id;
  END IF;
  RETURN v_id;
END $$;
SQL
}
# The header with parse_actor_ref reduced to a cast-free constant.
variant_row_const_header_noparse() {
  variant_row_const_header "$1"
  psql_db "$1" -c "CREATE OR REPLACE FUNCTION threadline.parse_actor_ref(p_raw text) RETURNS jsonb LANGUAGE sql IMMUTABLE AS 'SELECT NULL::jsonb'"
}
# The header without the foreign key from audit_transactions.action_id.
variant_row_const_header_nofk() {
  variant_row_const_header "$1"
  psql_db "$1" -c "ALTER TABLE threadline.audit_transactions DROP CONSTRAINT audit_transactions_action_id_fkey"
}
