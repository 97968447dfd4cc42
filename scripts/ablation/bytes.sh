#!/usr/bin/env bash
# Bytes stored per captured change (heap + indexes + TOAST of everything in
# the threadline schema), per variant: a scale-1 pgbench database per
# variant, T TPC-B transactions (4 changes each) from one client, and the
# growth of the schema's relations divided by the changes written.
#
#   ABLATIONS=scripts/ablation/v4.sh scripts/ablation/bytes.sh row lean_h_min
set -euo pipefail
cd "$(dirname "$0")/../.."
T=${T:-5000}
SCALE=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. scripts/ablation/variants.sh
select_variants "$@"
tpcb_script "$work/audited.sql" 1
size() {
  psql_db "$1" -Atc "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class AS c
    WHERE c.relnamespace = 'threadline'::regnamespace AND c.relkind IN ('r', 'p')"
}
for v in "${variants[@]}"; do
  [ "$v" = base ] && continue
  prepare_db "bytes_$v" "$v"
  before=$(size "bytes_$v")
  pgbench -n -M simple -c 1 -t "$T" -f "$work/audited.sql" "$(db_url "bytes_$v")" >/dev/null 2>&1
  psql_db "bytes_$v" -c "CHECKPOINT"
  after=$(size "bytes_$v")
  echo "$v $(( (after - before) / (4 * T) )) bytes per change"
  drop_db "bytes_$v"
done
