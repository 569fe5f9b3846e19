#!/usr/bin/env bash
# The main job: installs dependencies, builds, starts feedback-service on the
# embedded SQLite store (./data/feedback.db), submits sample feedback and
# prints a summary, then stops the service with SIGTERM. Safe to run again:
# the sample's request ids are fixed, so a second run stores nothing twice.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
bash scripts/build.sh >/dev/null

mkdir -p data
token_file=data/dev-token
[[ -s "$token_file" ]] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$token_file"
token=$(cat "$token_file")
echo "$(printf %s "$token" | sha256sum | cut -d' ' -f1) demo ingest,read" >data/tokens

./build/feedback-service/feedback-service --listen=127.0.0.1:50051 --db=sqlite://data/feedback.db \
  --tokens-file=data/tokens --metrics-listen=127.0.0.1:9464 --drain-grace-ms=200 >data/feedback-service.log 2>&1 &
service_pid=$!
trap 'kill "$service_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  grep -q '"msg":"listening"' data/feedback-service.log && break
  kill -0 "$service_pid" 2>/dev/null || { cat data/feedback-service.log; exit 1; }
  sleep 0.1
done

echo "== feedback-service is up on 127.0.0.1:50051 (SQLite: data/feedback.db, metrics: http://127.0.0.1:9464/metrics)"
./build/tools/cx-sample --target=127.0.0.1:50051 --token="$token"
echo
echo "== requests served, from the Prometheus endpoint:"
curl -s http://127.0.0.1:9464/metrics | grep '^cx_grpc_requests_total' | sed 's/^/   /' || true

kill -TERM "$service_pid"
wait "$service_pid"
trap - EXIT
echo "== feedback-service drained and exited 0 (log: data/feedback-service.log)"
