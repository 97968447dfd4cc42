#!/usr/bin/env bash
# Instructions the server executes per TPC-B transaction, per variant:
# deterministic, so ablations can be compared on a busy machine (wall-clock
# ratios need a quiet one: tpcb.sh). A scratch cluster on port $VG_PORT
# holds one scale-1 pgbench database per variant (loaded natively); it is
# then restarted under valgrind's callgrind, one psql session per variant
# 2N TPC-B transactions once to warm the caches, ANALYZE, then N and 2N in separate
# sessions, and the instructions per transaction are (Ir(2N) - Ir(N)) / N
# of the backend.
#
#   scripts/ablation/instructions.sh [variant ...]   # default: base floor row statement
#   N=200 ABLATIONS=scripts/ablation/v1.sh scripts/ablation/instructions.sh row v1_no_guard
#
# Needs valgrind, the PostgreSQL server binaries ($PGBIN) and root (the
# cluster runs as the postgres user). KEEP=1 keeps the callgrind files and
# names each session's (callgrind_annotate --inclusive=yes FILE).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-150}
VG_PORT=${VG_PORT:-5499}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
SCALE=1
work=$(mktemp -d)
chown postgres "$work"
data="$work/data"
trap 'runuser -u postgres -- "$PGBIN/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true; pkill -f "valgrind.*$data" || true; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
PGURL="postgres://postgres@127.0.0.1:$VG_PORT/postgres"
. scripts/ablation/variants.sh

select_variants "$@"

runuser -u postgres -- "$PGBIN/initdb" -D "$data" -A trust -U postgres >/dev/null
pg() { runuser -u postgres -- "$PGBIN/pg_ctl" -D "$data" -o "-p $VG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$work -c fsync=off" -w "$@" >/dev/null; }
pg start -l "$work/log"
for v in "${variants[@]}"; do prepare_db "ablation_$v" "$v"; done
pg stop

# The transactions: the same pseudo-random accounts for every variant.
script() { # FILE COUNT AUDITED
  awk -v n="$2" -v audited="$3" 'BEGIN {
    srand(7)
    for (i = 0; i < n; i++) {
      aid = int(rand() * 100000) + 1; tid = int(rand() * 10) + 1; d = int(rand() * 10001) - 5000
      if (audited) print "BEGIN; SELECT set_config('\''threadline.actor_ref'\'', '\''{\"type\":\"user\",\"id\":\"bench\"}'\'', true);"
      else print "BEGIN;"
      printf "UPDATE pgbench_accounts SET abalance = abalance + %d WHERE aid = %d;\n", d, aid
      printf "SELECT abalance FROM pgbench_accounts WHERE aid = %d;\n", aid
      printf "UPDATE pgbench_tellers SET tbalance = tbalance + %d WHERE tid = %d;\n", d, tid
      printf "UPDATE pgbench_branches SET bbalance = bbalance + %d WHERE bid = 1;\n", d
      printf "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (%d, 1, %d, %d, CURRENT_TIMESTAMP);\n", tid, aid, d
      print "END;"
    }
  }' >"$1"
}
for a in 0 1; do
  script "$work/n$a.sql" "$N" "$a"
  script "$work/2n$a.sql" $((2 * N)) "$a"
done

mkdir -p "$work/cg" && chown postgres "$work/cg"
runuser -u postgres -- valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$work/cg/cg.%p" \
  "$PGBIN/postgres" -D "$data" -p "$VG_PORT" -c listen_addresses=127.0.0.1 -c unix_socket_directories="$work" -c fsync=off \
  -c autovacuum=off >"$work/vg.log" 2>&1 &
for _ in $(seq 1 120); do pg_isready -q -h 127.0.0.1 -p "$VG_PORT" && break; sleep 1; done

# ir FILE DB: instructions of the backend that ran FILE.
ir() {
  local pid
  pid=$(psql -X -qtA "$(db_url "$2")" -f <(echo "SELECT pg_backend_pid();"; cat "$1") | awk 'NR == 1')
  for _ in $(seq 1 60); do
    [ -s "$work/cg/cg.$pid" ] && grep -q '^totals:' "$work/cg/cg.$pid" && break
    sleep 1
  done
  [ -z "${KEEP:-}" ] || echo "$2 $1: $work/cg/cg.$pid" >&2
  awk '/^totals:/ {print $2}' "$work/cg/cg.$pid"
}
echo "variant: server instructions per TPC-B transaction ((Ir(2N) − Ir(N)) / N, N = $N); added over base"
declare -A per
for v in "${variants[@]}"; do
  a=0
  [ "$v" = base ] || a=1
  ir "$work/2n$a.sql" "ablation_$v" >/dev/null # warm caches: relcache init file, buffers
  psql -X -q "$(db_url "ablation_$v")" -c "ANALYZE"
  one=$(ir "$work/n$a.sql" "ablation_$v")
  two=$(ir "$work/2n$a.sql" "ablation_$v")
  per[$v]=$(((two - one) / N))
done
for v in "${variants[@]}"; do
  if [ "$v" = base ]; then
    printf '%s %d\n' "$v" "${per[$v]}"
  else
    printf '%s %d; added %d\n' "$v" "${per[$v]}" $((per[$v] - per[base]))
  fi
done
