#!/usr/bin/env bash
# CPU cost of the capture per TPC-B transaction: one psql session runs
# $TX pgbench-like TPC-B transactions (fixed pseudo-random accounts) against
# each variant's database, and the backend's own CPU time (utime + stime
# from /proc/<pid>/stat) is divided by $TX. Rounds are interleaved; the
# median is reported, and the cost added over the unaudited base. Other
# load on the machine changes this much less than wall-clock throughput.
#
#   scripts/ablation/cpu.sh [variant ...]        # default: base floor row statement
#   TX=20000 ROUNDS=5 scripts/ablation/cpu.sh row statement
#   ABLATIONS=scripts/ablation/v1.sh scripts/ablation/cpu.sh row v1_no_guard
#
# Needs psql, pgbench (for -i) and a server on this machine (it reads
# /proc of the backend).
set -euo pipefail
cd "$(dirname "$0")/../.."
TX=${TX:-10000}
ROUNDS=${ROUNDS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. scripts/ablation/variants.sh

select_variants "$@"

# One script per kind: the transactions between two readings of the
# backend's CPU time, in clock ticks.
for audited in 0 1; do
  awk -v n="$TX" -v audited="$audited" -v scale="$SCALE" 'BEGIN {
    srand(42)
    print "SELECT pg_backend_pid() AS pid \\gset"
    print "\\setenv PID :pid"
    print "\\! awk '\''{print $14 + $15}'\'' /proc/$PID/stat > \"$CPU_FILE\""
    for (i = 0; i < n; i++) {
      aid = int(rand() * 100000 * scale) + 1; tid = int(rand() * 10 * scale) + 1
      bid = int(rand() * scale) + 1; d = int(rand() * 10001) - 5000
      if (audited) print "BEGIN; SELECT set_config('\''threadline.actor_ref'\'', '\''{\"type\":\"user\",\"id\":\"bench\"}'\'', true);"
      else print "BEGIN;"
      printf "UPDATE pgbench_accounts SET abalance = abalance + %d WHERE aid = %d;\n", d, aid
      printf "SELECT abalance FROM pgbench_accounts WHERE aid = %d;\n", aid
      printf "UPDATE pgbench_tellers SET tbalance = tbalance + %d WHERE tid = %d;\n", d, tid
      printf "UPDATE pgbench_branches SET bbalance = bbalance + %d WHERE bid = %d;\n", d, bid
      printf "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (%d, %d, %d, %d, CURRENT_TIMESTAMP);\n", tid, bid, aid, d
      print "END;"
    }
    print "\\! awk '\''{print $14 + $15}'\'' /proc/$PID/stat >> \"$CPU_FILE\""
  }' >"$work/tx$audited.sql"
done
for v in "${variants[@]}"; do prepare_db "ablation_$v" "$v"; done

ticks=$(getconf CLK_TCK)
declare -A us
n=${#variants[@]}
for ((r = 0; r < ROUNDS; r++)); do
  line="round $((r + 1)):"
  for ((k = 0; k < n; k++)); do
    v=${variants[$(((k + r) % n))]}
    script="$work/tx1.sql"
    [ "$v" = base ] && script="$work/tx0.sql"
    CPU_FILE="$work/cpu" psql -X -q -o /dev/null -v ON_ERROR_STOP=1 "$(db_url "ablation_$v")" -f "$script"
    us[$v,$r]=$(awk -v t="$ticks" -v n="$TX" 'NR == 1 {a = $1} NR == 2 {printf "%.1f", ($1 - a) / t / n * 1e6}' "$work/cpu")
  done
  for v in "${variants[@]}"; do line+=" $v ${us[$v,$r]}"; done
  echo "$line µs/tx"
done

echo
echo "variant: backend CPU µs per TPC-B transaction, median (min–max) of $ROUNDS rounds of $TX; added over base"
med() { sort -n | awk '{a[NR] = $1} END {m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.1f (%.1f–%.1f)", m, a[1], a[NR]}'; }
base=$(for ((r = 0; r < ROUNDS; r++)); do echo "${us[base,$r]}"; done | med)
echo "base $base"
for v in "${variants[@]}"; do
  [ "$v" = base ] && continue
  m=$(for ((r = 0; r < ROUNDS; r++)); do echo "${us[$v,$r]}"; done | med)
  added=$(for ((r = 0; r < ROUNDS; r++)); do echo "${us[$v,$r]} ${us[base,$r]}" | awk '{print $1 - $2}'; done | med)
  echo "$v $m; added $added"
done
for v in "${variants[@]}"; do drop_db "ablation_$v"; done
