#!/usr/bin/env bash
# Runs every libFuzzer target of a `make fuzz` build for a bounded time:
#   scripts/fuzz.sh BUILD_DIR SECONDS_PER_TARGET
# Each starts from fuzz/corpus/<target> (the seeds in git) plus what earlier runs found
# (BUILD_DIR/corpus/<target>, not in git); crashes land in BUILD_DIR/findings/<target>. Prints
# one summary line per target (executions, coverage, corpus size) and exits 1 on a finding.
set -uo pipefail
build=${1:?build dir}; seconds=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
status=0
for exe in "$build"/fuzz/fuzz_*; do
  t=${exe##*/fuzz_}
  mkdir -p "$build/corpus/$t" "$build/findings/$t"
  log="$build/findings/$t.log"
  "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$build/findings/$t/" "$build/corpus/$t" "$root/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  execs=$(grep -m1 '^stat::number_of_executed_units' "$log" | awk '{print $2}')
  cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -o 'cov: [0-9]*' || true)
  corp=$(ls "$build/corpus/$t" | wc -l)
  if [ $rc -ne 0 ]; then
    status=1
    echo "$t: FINDING (exit $rc) after ${execs:-?} executions; see $log and $build/findings/$t/"
  else
    echo "$t: ${execs:-?} executions in ${seconds}s, ${cov:-cov: ?}, $corp inputs found so far in $build/corpus/$t, no finding"
  fi
done
exit $status
