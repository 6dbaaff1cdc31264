#!/usr/bin/env bash
# The suite on a loaded machine (issue 21): RUNS clean-clone `bash .ci/run`s of one commit in a
# row, each beside a CPU hog (one busy process), stopping at the first failure. The clone sits
# beside this checkout, as CI's does (it needs ../shared). Usage: scripts/loaded-ci.sh [COMMIT] [RUNS]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
commit=$(git -C "$repo" rev-parse "${1:-HEAD}")
runs=${2:-3}
clone="$(dirname "$repo")/cps1-loaded-ci"
logs="${TMPDIR:-/tmp}/cps1-loaded-ci"
mkdir -p "$logs"
for i in $(seq 1 "$runs"); do
  rm -rf "$clone"
  git clone -q "$repo" "$clone"
  git -C "$clone" checkout -q "$commit"
  python3 -c 'while True: pass' &
  hog=$!
  started=$(date +%s)
  rc=0
  (cd "$clone" && bash .ci/run) >"$logs/run-$i.log" 2>&1 || rc=$?
  kill "$hog"
  wait "$hog" 2>/dev/null || true
  echo "run $i of $runs, $commit: rc $rc in $(($(date +%s) - started)) s (log: $logs/run-$i.log)"
  [ "$rc" -eq 0 ] || exit "$rc"
done
