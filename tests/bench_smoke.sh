#!/usr/bin/env bash
# Runs cx-bench briefly so the tool keeps working: every scenario must
# print its row with no errors. Its figures are not read (a test never
# passes or fails on a time).
#   bench_smoke.sh CX_BENCH_BINARY
set -euo pipefail
bench=$1
# Runs cx-bench; on failure shows all it printed and how it ended (a status
# above 128 is a signal). Its progress lines (stderr) pass straight through,
# so a run that stalls shows where; one that takes over 4 minutes (a second
# per scenario takes about 40 s) is stopped, before ctest's own limit, and
# fails.
run() {
  local rc=0
  out=$(timeout --kill-after=10 240 "$bench" "$@") || rc=$?
  echo "$out"
  if [[ $rc -eq 124 ]]; then
    echo "bench_smoke: cx-bench $* did not end within 240 s (its progress lines above show where it was)" >&2
    exit 1
  fi
  if [[ $rc -ne 0 ]]; then
    echo "bench_smoke: cx-bench $* exited with status $rc" >&2
    exit 1
  fi
}
run --seconds=1 --freshness-samples=20 --query-inflight=4 --sqlite-memory=true
rows=$(echo "$out" | grep '^| ' | grep -v '^| scenario |\|^| query |\|^| freshness:' || true)
for scenario in 'echo (baseline)' 'echo (baseline), again after the services' 'SubmitFeedback (durable)' \
  'BatchSubmitFeedback x100' 'RecordEvent (durable)' 'BatchRecordEvents x100' 'GetScore NPS, 30 days' 'GetFunnel 4 steps' 'GetCustomerHealth' 'query mix' '| idle' \
  'under BatchSubmitFeedback'; do
  if ! echo "$rows" | grep -qF "$scenario"; then
    echo "bench_smoke: no row for '$scenario'" >&2
    exit 1
  fi
done
# --sqlite-memory adds the in-memory rows, not called durable.
if ! echo "$rows" | grep -q '^| SubmitFeedback | SQLite in memory |'; then
  echo "bench_smoke: no in-memory SubmitFeedback row" >&2
  exit 1
fi
# Errors are printed as codeN:count; a clean row says 0.
if echo "$rows" | grep -q 'code[0-9]*:'; then
  echo "bench_smoke: a scenario had errors:" >&2
  echo "$rows" | grep 'code[0-9]*:' >&2
  exit 1
fi
# The SQLite file ingest rows say how much the service wrote to storage per row.
if ! echo "$rows" | awk -F'|' '$3 ~ /^ *SQLite *$/ { n++; if (!($16 + 0 > 0)) bad++ } END { exit !(n > 0 && bad == 0) }'; then
  echo "bench_smoke: an SQLite ingest row has no storage KB/row" >&2
  exit 1
fi
# Every service ingest row says how long its commits took (from the service's /metrics).
if ! echo "$rows" | awk -F'|' '$3 ~ /SQLite|MariaDB/ { n++; if (!($17 + 0 > 0)) bad++ } END { exit !(n > 0 && bad == 0) }'; then
  echo "bench_smoke: an ingest row has no commit ms" >&2
  exit 1
fi
echo "$out" | grep -q 'metrics-service catch-up' || { echo "bench_smoke: no catch-up line" >&2; exit 1; }
# --rounds: a summary row per scenario over the rounds, then each round's table.
run --seconds=1 --rounds=2 --services=feedback --scenarios=unary
echo "$out" | grep -q '^| SubmitFeedback (durable) | SQLite | 2 | [0-9]* ([0-9]*-[0-9]*) |' ||
  { echo "bench_smoke: no summary row over 2 rounds" >&2; exit 1; }
[[ $(echo "$out" | grep -c '^| SubmitFeedback (durable) | SQLite | 32 |') -eq 2 ]] ||
  { echo "bench_smoke: not one SubmitFeedback row per round" >&2; exit 1; }
echo "bench_smoke: ok"
