#!/usr/bin/env bash
# Where batch ingest spends its instructions, counted by valgrind's callgrind:
# feedback-service and journey-service, each as its own process on an
# in-memory SQLite database, are sent CX_PROFILE_ROWS rows (default 20000) by
# `cxctl import` in batches of 100 (BatchSubmitFeedback, BatchRecordEvents),
# the rows cx-bench sends. Only the import is counted (start-up is not).
# Prints, per service, instructions per row: the whole process, the gRPC
# handler (parse, validate, prepare), the group-commit writer and its SQLite
# part, then the functions that cost most themselves.
#
# Instruction counts do not move with the machine's load, so two builds
# compare exactly where timings on this shared machine cannot. They are not
# time: cache misses, system calls and thread switches cost time and no
# instructions, and SHA-256 runs in software under valgrind (the CPU's SHA
# instructions are not used), so hashing looks dearer than it is.
#
#   bash scripts/profile.sh            # build if needed, then both services
#   CX_PROFILE_ROWS=50000 bash scripts/profile.sh
#   CX_PROFILE_KEEP=/tmp/prof bash scripts/profile.sh   # also keep the callgrind
#       files there, for callgrind_annotate --tree=calling or kcachegrind
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
rows=${CX_PROFILE_ROWS:-20000}
if ! command -v valgrind >/dev/null || ! command -v callgrind_annotate >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends valgrind >/dev/null
fi
[[ -x build/tools/cxctl ]] || CX_BUILD_LOG=build/build.log bash scripts/build.sh

work=$(mktemp -d /tmp/cx-profile.XXXXXX)
pid=""
cleanup() {
  [[ -n "$pid" ]] && kill -9 "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

token=profile-token
printf '%s profile ingest,read\n' "$(printf %s "$token" | sha256sum | cut -d' ' -f1)" > "$work/tokens"

# The rows of cx-bench (bench/cx_bench.cc: SampleFeedback, SampleEvent).
awk -v n="$rows" 'BEGIN {
  print "request_id,customer_id,kind,score,comment,source,channel,touchpoint_id,journey_stage,locale"
  for (i = 0; i < n; i++)
    printf "p-%d,cust-%d,nps,%d,The delivery was late but support sorted it out quickly.,survey,%s,checkout,purchase,en-US\n",
      i, i % 5000, i % 11, (i % 3 == 0 ? "email" : "web")
}' > "$work/feedback.csv"
awk -v n="$rows" 'BEGIN {
  split("page_view product_view cart_add order_placed support_ticket_opened", types, " ")
  print "event_id,anonymous_id,type,channel,touchpoint_id,session_id"
  for (i = 0; i < n; i++) printf "p-%d,visitor-%d,%s,web,website,s-%d\n", i, i % 5000, types[i % 5 + 1], int(i / 8)
}' > "$work/events.csv"

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 30000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

# The inclusive instructions of the costliest entry whose name matches $2
# (a fixed string) in callgrind_annotate's inclusive listing $1.
inclusive() { { grep -F -- "$2" "$1" || true; } | awk '{gsub(",", "", $1); v = $1 + 0; if (v > m) m = v} END {printf "%.0f\n", m}'; }
per_row() { awk -v a="$1" -v n="$rows" 'BEGIN {printf "%.1fk", a / n / 1000}'; }
share() { awk -v a="$1" -v t="$2" 'BEGIN {printf "%.0f%%", t ? 100 * a / t : 0}'; }

# profile NAME BINARY CSV_KIND HANDLER_MATCH WRITER_MATCH [LABEL MATCH]... [--writer [LABEL MATCH]...]
# Each LABEL MATCH pair adds a row for the costliest function whose name
# holds MATCH: a part of the handler's work, or after --writer of the writer's.
profile() {
  local name=$1 binary=$2 kind=$3 handler_match=$4 writer_match=$5
  shift 5
  local port metrics out="$work/$name.callgrind"
  port=$(free_port)
  metrics=$(free_port)
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" "$binary" --db=sqlite::memory: \
    --tokens-file="$work/tokens" --listen="127.0.0.1:$port" --metrics-listen="127.0.0.1:$metrics" \
    --rate-limit-rps=0 --log-level=error --reflection=false > "$work/$name.log" 2>&1 &
  pid=$!
  local waited=0
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    sleep 0.5
    waited=$((waited + 1))
    if ((waited > 240)) || ! kill -0 "$pid" 2>/dev/null; then
      echo "profile: $name did not start under valgrind" >&2
      cat "$work/$name.log" >&2
      exit 1
    fi
  done
  callgrind_control -i on "$pid" >/dev/null 2>&1
  local endpoint=(--feedback "127.0.0.1:$port")
  [[ "$name" == journey-service ]] && endpoint=(--journey "127.0.0.1:$port")
  local imported rc=0
  imported=$(./build/tools/cxctl import "$kind" "$work/$kind.csv" --restart --batch 100 --token "$token" \
    "${endpoint[@]}" 2>&1) || rc=$?
  imported=$(echo "$imported" | tail -1)
  # Figures per row mean something only if every row was stored.
  if ((rc != 0)) || [[ "$imported" != *" $rows accepted"* ]]; then
    echo "profile: the import into $name did not store all $rows rows (status $rc): $imported" >&2
    exit 1
  fi
  callgrind_control -i off "$pid" >/dev/null 2>&1
  kill -TERM "$pid"
  wait "$pid" || true
  pid=""
  rm -f "$work/$kind.csv.cxctl-checkpoint"
  if [[ -n "${CX_PROFILE_KEEP:-}" ]]; then
    mkdir -p "$CX_PROFILE_KEEP"
    cp "$out" "$CX_PROFILE_KEEP/"
  fi
  # One line per function: "instructions (share)  file:function [object]".
  callgrind_annotate --inclusive=yes --threshold=100 --auto=no "$out" 2>/dev/null |
    grep -E '^ *[0-9,]+ +\([ 0-9.]+%\) ' > "$work/$name.inclusive" || true
  callgrind_annotate --threshold=100 --auto=no "$out" 2>/dev/null |
    grep -E '^ *[0-9,]+ +\([ 0-9.]+%\) ' | grep -v 'PROGRAM TOTALS' > "$work/$name.self" || true

  local total handler writer sqlite
  total=$(inclusive "$work/$name.inclusive" "PROGRAM TOTALS")
  handler=$(inclusive "$work/$name.inclusive" "$handler_match")
  writer=$(inclusive "$work/$name.inclusive" "$writer_match")
  sqlite=$(inclusive "$work/$name.inclusive" ":sqlite3_step ")
  echo "### $name: $imported"
  echo
  echo "| part | instructions per row | share of the process |"
  echo "|---|---:|---:|"
  echo "| whole process | $(per_row "$total") | 100% |"
  echo "| gRPC handler threads: parse, validate, prepare the rows | $(per_row "$handler") | $(share "$handler" "$total") |"
  local part=handler
  while (($# >= 1)); do
    if [[ "$1" == --writer ]]; then
      echo "| group-commit writer thread (one transaction per commit) | $(per_row "$writer") | $(share "$writer" "$total") |"
      echo "| &nbsp;&nbsp;of which inside SQLite (sqlite3_step) | $(per_row "$sqlite") | $(share "$sqlite" "$total") |"
      part=writer
      shift
      continue
    fi
    local v
    v=$(inclusive "$work/$name.inclusive" "$2")
    echo "| &nbsp;&nbsp;of which $1 | $(per_row "$v") | $(share "$v" "$total") |"
    shift 2
  done
  if [[ "$part" == handler ]]; then
    echo "| group-commit writer thread (one transaction per commit) | $(per_row "$writer") | $(share "$writer" "$total") |"
    echo "| &nbsp;&nbsp;of which inside SQLite (sqlite3_step) | $(per_row "$sqlite") | $(share "$sqlite" "$total") |"
  fi
  echo "| the rest: gRPC transport, completion, answering | $(per_row $((total - handler - writer))) | $(share $((total - handler - writer)) "$total") |"
  echo
  echo "An \"of which\" row is part of the row above it, and such rows can overlap: the lookups' SQL runs in SQLite too."
  echo
  echo "The functions that cost most themselves (exclusive instructions; \`???\`: a function the library's symbols do not name):"
  echo
  echo '```'
  head -12 "$work/$name.self" |
    awk -v n="$rows" '{c = $1; gsub(",", "", c); pct = $2 " " $3; $1 = ""; $2 = ""; $3 = "";
      sub(/^ +/, ""); object = $0; sub(/.*\//, "", object); sub(/\]$/, "", object); sub(/ \[.*\]$/, "");
      if ($0 ~ /^\?\?\?:/) $0 = $0 " in " object; if (length($0) > 110) $0 = substr($0, 1, 107) "...";
      printf "%7.1fk/row  %s  %s\n", c / n / 1000, pct, $0}'
  echo '```'
  echo
}

echo "Instructions counted by \`valgrind --tool=callgrind\` while \`cxctl import\` sent $rows rows in batches"
echo "of 100 to each service on \`sqlite::memory:\` (\`scripts/profile.sh\`)."
echo
profile feedback-service "$root/build/feedback-service/feedback-service" feedback \
  "ServeUnary<cx::feedback::v1::BatchSubmitFeedbackRequest" \
  "RecordWriter<cx::feedback::NewFeedback, cx::feedback::WriteResult>::Commit(" \
  "comment sentiment and topics (AnalyzeText)" "AnalyzeText(" \
  "payload hash (idempotency)" "PayloadHash[" \
  --writer \
  "stored request ids looked up (QueryIn)" "QueryIn(" \
  "erasures: one probe per tenant, digests only where it has erased someone (HasErasures)" "HasErasures("
profile journey-service "$root/build/journey-service/journey-service" events \
  "ServeUnary<cx::journey::v1::BatchRecordEventsRequest" \
  "RecordWriter<cx::journey::NewEvent, cx::journey::EventWriteResult>::Commit(" \
  "payload hash (idempotency)" "PayloadHash[" \
  --writer \
  "stored event ids and customers looked up" "LoadEventsAndCustomers(" \
  "identity merges followed (ResolveMany)" "ResolveMany(" \
  "erasures: one probe per tenant, digests only where it has erased someone (HasErasures)" "HasErasures(" \
  "per-owner journey states read and written" "MergeStates("
