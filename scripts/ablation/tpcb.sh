#!/usr/bin/env bash
# Ablation harness for the capture's write path (docs/benchmarks.md):
# pgbench TPC-B, scale $SCALE, $CLIENTS clients, all four pgbench tables
# audited, the actor published in BEGIN's round trip. Each named variant
# (variants.sh) gets a database of its own; the variants run interleaved
# (the starting one rotates each round) and every variant's tps is divided
# by the unaudited baseline's of the same round.
#
#   scripts/ablation/tpcb.sh [variant ...]      # default: base floor row statement
#   ROUNDS=5 SECONDS_PER_RUN=30 scripts/ablation/tpcb.sh row statement
#   ABLATIONS=scripts/ablation/v1.sh scripts/ablation/tpcb.sh row v1_no_guard
#
# Wall-clock throughput: run it on a quiet machine. scripts/ablation/cpu.sh
# measures the backend's CPU time per transaction instead, which other load
# on the machine disturbs much less.
set -euo pipefail
cd "$(dirname "$0")/../.."
CLIENTS=${CLIENTS:-4}
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-15}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. scripts/ablation/variants.sh

select_variants "$@"
tpcb_script "$work/base.sql" 0
tpcb_script "$work/audited.sql" 1
for v in "${variants[@]}"; do prepare_db "ablation_$v" "$v"; done

declare -A tps
n=${#variants[@]}
for ((r = 0; r < ROUNDS; r++)); do
  line="round $((r + 1)):"
  for ((k = 0; k < n; k++)); do
    v=${variants[$(((k + r) % n))]}
    script="$work/audited.sql"
    [ "$v" = base ] && script="$work/base.sql"
    tps[$v,$r]=$(pgbench -n -M simple -c "$CLIENTS" -j 2 -T "$SECONDS_PER_RUN" -f "$script" "$(db_url "ablation_$v")" 2>/dev/null |
      sed -n 's/^tps = \([0-9.]*\).*/\1/p')
  done
  for v in "${variants[@]}"; do line+=" $v ${tps[$v,$r]}"; done
  echo "$line"
done

echo
echo "variant: tps ratio to base, median (min–max) of $ROUNDS rounds of ${SECONDS_PER_RUN}s"
for v in "${variants[@]}"; do
  [ "$v" = base ] && continue
  echo "$v $(for ((r = 0; r < ROUNDS; r++)); do echo "${tps[$v,$r]} ${tps[base,$r]}"; done | ratio_stats 3)"
done
for v in "${variants[@]}"; do drop_db "ablation_$v"; done
