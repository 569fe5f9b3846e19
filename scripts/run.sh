#!/usr/bin/env bash
# The main job: installs dependencies, builds, starts the three services on
# the embedded SQLite store (./data/*.db), writes a sample tenant as CSV
# (customers with CRM ids, journeys, support tickets, feedback) and loads it
# through cxctl, prints the CX report metrics-service computes from the
# change feeds and writes it as data/report.html, and stops the services
# with SIGTERM. Safe to run again: the sample's rows are the same on one day
# and cxctl derives ids from them, so a second run stores nothing twice (and
# metrics-service resumes its cursors).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
CX_BUILD_LOG=build/build.log bash scripts/build.sh

mkdir -p data
token_file=data/dev-token
[[ -s "$token_file" ]] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$token_file"
token=$(cat "$token_file")
feed_token_file=data/feed-token
[[ -s "$feed_token_file" ]] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$feed_token_file"
{
  echo "$(printf %s "$token" | sha256sum | cut -d' ' -f1) demo admin"
  echo "$(printf %s "$(cat "$feed_token_file")" | sha256sum | cut -d' ' -f1) * service"
} >data/tokens

pids=()
stop_all() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap stop_all EXIT

# start <name> <port> <metrics port> [extra flags]
start() {
  local name=$1 port=$2 metrics=$3 log=data/$1.log
  shift 3
  "./build/$name/$name" --listen="127.0.0.1:$port" --db="sqlite://data/${name%-service}.db" \
    --tokens-file=data/tokens --metrics-listen="127.0.0.1:$metrics" --drain-grace-ms=200 "$@" >"$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    grep -q '"msg":"listening"' "$log" && break
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$log"; exit 1; }
    sleep 0.1
  done
  echo "== $name is up on 127.0.0.1:$port (SQLite: data/${name%-service}.db, metrics: http://127.0.0.1:$metrics/metrics)"
}
start feedback-service 50051 9464
start journey-service 50052 9465
start metrics-service 50053 9466 --feedback-endpoint=127.0.0.1:50051 --journey-endpoint=127.0.0.1:50052 \
  --feed-token-file="$feed_token_file"

echo
export CX_TOKEN="$token"
echo "== a sample tenant as CSV (cx-sample), loaded through cxctl import"
./build/tools/cx-sample --out=data/sample
for kind in customers events feedback; do
  echo "-- cxctl import $kind data/sample/$kind.csv"
  ./build/tools/cxctl import "$kind" "data/sample/$kind.csv" --restart || [[ $? -eq 3 ]]  # 3: rows rejected (listed)
done
echo
echo "== CX report (cxctl report: metrics-service, fed by both change feeds, and feedback-service's follow-ups)"
./build/tools/cxctl report
echo
echo "== the newest open follow-up cases (cxctl followups list --status=open --limit=5)"
./build/tools/cxctl followups list --status=open --limit=5
echo
./build/tools/cxctl report --out=data/report.html
echo "   (one self-contained page with SVG charts: open it in any browser)"
echo
echo "== requests served, from the Prometheus endpoints:"
for metrics in 9464 9465 9466; do
  curl -s "http://127.0.0.1:$metrics/metrics" | grep '^cx_grpc_requests_total' | sed 's/^/   /' || true
done

for pid in "${pids[@]}"; do kill -TERM "$pid"; done
for pid in "${pids[@]}"; do wait "$pid"; done
trap - EXIT
echo "== all three services drained and exited 0 (logs: data/*-service.log)"
