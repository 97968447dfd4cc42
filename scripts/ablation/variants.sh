# Shared by the ablation scripts (sourced): database helpers and the
# variants. A variant is a function variant_<name> DB that installs
# something on a fresh pgbench database: the capture threadline-gen writes
# in a mode, the floor, or (from the file named by $ABLATIONS) the
# capture with one piece taken away.
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}
SCALE=${SCALE:-10}
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

# select_variants VARIANT...: sets variants to the ones named (default:
# base floor row statement), base first, which every ratio divides by.
select_variants() {
  variants=("$@")
  [ ${#variants[@]} -gt 0 ] || variants=(base floor row statement)
  [ "${variants[0]}" = base ] || variants=(base "${variants[@]}")
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


# A live system's audit trail is not empty: each variant's generated trail
# gets $HISTORY earlier changes in HISTORY/5 transactions before it is
# analyzed, so sessions plan as on a live system. (Analyzed empty, its
# tables would be planned as one page: the header lookups' cached plans
# would be sequential scans, and with autovacuum off nothing replans them
# while the trail grows.)
HISTORY=${HISTORY:-100000}
load_history() {
  psql_db "$1" -c "DO \$\$ BEGIN
    IF to_regclass('threadline.audit_transactions') IS NOT NULL THEN
      INSERT INTO threadline.audit_transactions (txid, started_at)
        SELECT (g::text)::xid8, now() - interval '1 day' - g * interval '1 second' FROM generate_series(1, $HISTORY / 5) AS g;
      INSERT INTO threadline.audit_changes (transaction_id, table_schema, table_name, table_pk, op, data_after, captured_at)
        SELECT t.id, 'public', 'pgbench_accounts', jsonb_build_object('aid', k), 'update', jsonb_build_object('aid', k, 'abalance', k), t.started_at
        FROM threadline.audit_transactions AS t, generate_series(1, 5) AS k;
    END IF;
  END \$\$"
}

# prepare_db NAME VARIANT: a fresh pgbench database with the variant and a
# live trail, analyzed.
prepare_db() {
  psql -X -q "$PGURL" -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"
  pgbench -i -q -s "$SCALE" "$(db_url "$1")" >/dev/null 2>&1
  "variant_$2" "$1"
  load_history "$1"
  psql_db "$1" -c "VACUUM ANALYZE" -c "CHECKPOINT"
}

drop_db() { psql -X -q "$PGURL" -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1"; }

# ratio_stats DIGITS: reads one "value base" pair per round and prints the
# median of value/base and its range, "m (lo–hi)", to DIGITS decimals.
ratio_stats() {
  awk -v d="$1" '{r[NR] = $1 / $2} END {n = asort(r); m = n % 2 ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2
    f = "%." d "f"; printf f " (" f "–" f ")\n", m, r[1], r[n]}'
}

# tpcb_script FILE AUDITED: pgbench's TPC-B transaction; AUDITED=1 also
# publishes the actor in BEGIN's round trip, as InTx does.
tpcb_script() {
  local begin=""
  [ "$2" = 1 ] && begin=" \\; SELECT set_config('threadline.actor_ref', '{\"type\":\"user\",\"id\":\"bench\"}', true)"
  printf '\\set aid random(1, 100000 * :scale)\n\\set bid random(1, 1 * :scale)\n\\set tid random(1, 10 * :scale)\n\\set delta random(-5000, 5000)\nBEGIN%s;\nUPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;\nSELECT abalance FROM pgbench_accounts WHERE aid = :aid;\nUPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;\nUPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;\nINSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);\nEND;\n' "$begin" >"$1"
}
