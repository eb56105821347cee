#!/usr/bin/env bash
# The whole test suite: set up, type-check, run `deno test`, and close with "N passed, N failed".
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
bash "$ROOT/scripts/setup.sh" || { echo "0 passed, 1 failed"; exit 1; }
cd "$ROOT"
log=$(mktemp)
status=0
deno check cli/ lib/ tests/ bench/ 2>&1 | tee "$log" || status=$?
# formatting (deno.json "fmt": lib, cli, tests, bench and the notebooks' code cells, 110 columns)
# (the notebooks' cells are checked cell by cell in tests/notebooks_test.ts: on a fresh checkout deno 2.9's
# fmt --check flags every .ipynb with an empty diff, though formatting them changes nothing)
[ $status -eq 0 ] && { deno fmt --check lib/ cli/ tests/ bench/ 2>&1 | tail -n 20 || status=$?; }
# lint (deno.json "lint": the recommended rules but require-await — entry points return `timed(...)`'s promise
# and stay `async` so their signature says so)
[ $status -eq 0 ] && { deno lint 2>&1 | tail -n 30 || status=$?; }
if [ $status -eq 0 ]; then
  # a long file first (Spark's tests, one after another on one driver): the other worker runs the rest beside it
  NO_COLOR=1 deno test -A --parallel tests/spark_test.ts tests/ "$@" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  summary=$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$log" | tail -n 1)
  passed=$(sed -E 's/.*\| ([0-9]+) passed.*/\1/' <<<"$summary")
  failed=$(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$summary")
  echo "${passed:-0} passed, ${failed:-1} failed"
else
  echo "type check, format or lint failed"
  echo "0 passed, 1 failed"
fi
rm -f "$log"
exit $status
