#!/usr/bin/env bash
# Seal and verify throughput of this checkout against an earlier release,
# interleaved (new, old, new, old …) so that both see the same machine:
#   scripts/bench/seal-compare.sh [OLD_REV] [ROUNDS]
# OLD_REV defaults to b3db22a (the last release with sealing v1, computed
# in Go). Each run seeds 1,000,000 changes, seals them once and verifies
# them -rounds/2 times (threadline-bench -workloads seal).
set -euo pipefail
cd "$(dirname "$0")/../.."
old_rev="${1:-b3db22a}"
rounds="${2:-2}"
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/old" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
go build -o "$tmp/bench-new" ./cmd/threadline-bench
git worktree add --detach "$tmp/old" "$old_rev" >/dev/null
(cd "$tmp/old" && go build -o "$tmp/bench-old" ./cmd/threadline-bench)
for i in $(seq 1 "$rounds"); do
  for side in new old; do
    echo "== $side $i"
    "$tmp/bench-$side" -workloads seal -rounds 6 2>&1 | grep '^seal '
  done
done
