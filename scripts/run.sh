#!/usr/bin/env bash
# The main job: installs dependencies, builds, starts the three services on
# the embedded SQLite store (./data/*.db), submits sample feedback and a
# sample journey for the same customers, prints what the services then hold
# and the CX report metrics-service computes from their change feeds, and
# stops them with SIGTERM. Safe to run again: sample ids are fixed per day, so
# a second run stores nothing twice (and metrics-service resumes its cursors).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
bash scripts/build.sh >/dev/null

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
echo "== feedback"
./build/tools/cx-sample --target=127.0.0.1:50051 --token="$token"
echo
echo "== journeys"
./build/tools/cx-sample-journey --target=127.0.0.1:50052 --token="$token"
echo
export CX_TOKEN="$token"
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
