#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds, starts a throwaway
# MariaDB on 127.0.0.1 for the MySQL instantiations (stopped on exit), lints
# the contracts with buf, checks the README's generic-client example against
# a live service, runs every test with ctest, searches the suite's log lines
# for personal data, tokens and SQL, fuzzes the request validation and the
# CSV parser for a bounded time, then runs every test again in an ASan+UBSan
# build.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

bash scripts/deps.sh
bash scripts/build.sh

cleanup() {
  [[ -n "${service_pid:-}" ]] && kill "$service_pid" 2>/dev/null || true
  bash "$root/scripts/mariadb.sh" stop || true
}
trap cleanup EXIT

# Data directories of the fault tests' own MariaDB servers that an
# interrupted earlier run left behind (the test process that owned each one,
# named in the directory, is gone).
for d in /tmp/cx-mariadb-own-*; do
  [[ -d "$d" ]] || continue
  owner=$(basename "$d" | cut -d- -f4)
  kill -0 "$owner" 2>/dev/null || { CX_MARIADB_DIR="$d" bash scripts/mariadb.sh remove || true; }
done

echo "== starting MariaDB for the MySQL test suite"
export CX_TEST_MYSQL_URL=$(bash scripts/mariadb.sh start)
echo "   $CX_TEST_MYSQL_URL"

echo "== buf lint"
(cd protos && "$root/node_modules/.bin/buf" lint)
echo "   buf lint: no findings"

echo "== README example: buf curl through reflection with a token"
tmp=$(mktemp -d)
token="readme-example-token"
echo "$(printf %s "$token" | sha256sum | cut -d' ' -f1) demo ingest,read" >"$tmp/tokens"
./build/feedback-service/feedback-service --listen=127.0.0.1:0 --db="sqlite://$tmp/feedback.db" \
  --tokens-file="$tmp/tokens" --metrics-listen= --drain-grace-ms=0 >"$tmp/service.log" 2>&1 &
service_pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(grep -o '"msg":"listening".*"port":"[0-9]*"' "$tmp/service.log" | grep -o '[0-9]*"$' | tr -d '"' || true)
  [[ -n "$port" ]] && break
  sleep 0.1
done
reply=$(node_modules/.bin/buf curl --protocol grpc --http2-prior-knowledge \
  -H "authorization: Bearer $token" \
  -d '{"request_id":"readme-1","feedback":{"customer_id":"cust-42","kind":"FEEDBACK_KIND_NPS","score":9,"source":"SOURCE_SURVEY","channel":"CHANNEL_WEB"}}' \
  "http://127.0.0.1:$port/cx.feedback.v1.FeedbackService/SubmitFeedback")
echo "$reply" | grep -q '"npsCategory": "NPS_CATEGORY_PROMOTER"' || { echo "unexpected reply: $reply"; exit 1; }
denied=$(node_modules/.bin/buf curl --protocol grpc --http2-prior-knowledge -d '{}' \
  "http://127.0.0.1:$port/cx.feedback.v1.FeedbackService/ListFeedback" 2>&1 || true)
echo "$denied" | grep -q unauthenticated || { echo "a call without a token was not refused: $denied"; exit 1; }
kill -TERM "$service_pid"; wait "$service_pid"; service_pid=""
rm -rf "$tmp"
echo "   buf curl: stored through reflection; a call without a token was refused"

echo "== ctest (SQLite and MariaDB conformance, in-process gRPC, processes)"
logs="$root/build/suite-logs.jsonl"
rm -f "$logs"
(cd build && CX_LOG_COPY_FILE="$logs" ctest --output-on-failure -j2 --timeout 600)
echo "== fault tests: acknowledged / present / lost / duplicated"
grep -h "^fault " build/Testing/Temporary/LastTest.log | sed 's/^/   /'
echo "== every log line of the suite: no personal data, tokens or SQL"
bash tests/log_privacy.sh "$logs"

echo "== Kubernetes: render and validate every base and overlay (schema, unknown fields, removed APIs, policies)"
node k8s/tools/validate.mjs k8s/base/common k8s/base/feedback-service k8s/base/journey-service \
  k8s/base/metrics-service k8s/overlays/dev k8s/overlays/prod
echo "== Kubernetes: the validation catches planted mistakes"
node --test k8s/tools/validate.test.mjs
echo "== images: the Dockerfiles against the built binaries"
bash k8s/tools/check-images.sh build
echo "== deployment rehearsal of the dev overlay against the local MariaDB"
node k8s/tools/rehearse.mjs k8s/overlays/dev --build=build \
  --mysql-socket="${CX_MARIADB_DIR:-/tmp/cx-mariadb}/mysqld.sock" --mysql-port="${CX_MARIADB_PORT:-33306}"

echo "== fuzzing: each request fuzzer and the CSV fuzzer for ${CX_FUZZ_SECONDS:-30} s (clang-14, libFuzzer, ASan+UBSan)"
bash scripts/fuzz.sh

echo "== the same suite built with AddressSanitizer + UndefinedBehaviorSanitizer (build-asan)"
CX_BUILD_DIR=build-asan CX_SANITIZE=ON CX_BUILD_LOG="$root/build/asan-build.log" bash scripts/build.sh
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure -j2 --timeout 900)
