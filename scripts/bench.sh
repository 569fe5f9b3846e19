#!/usr/bin/env bash
# Regenerates BENCHMARKS.md. Each part writes its own section under
# bench/results/ (with the date and machine it was taken on); BENCHMARKS.md
# is those sections put together, so a part can be taken again alone.
#   CX_BENCH_PARTS            which parts to run (default "cx storage metrics journey"):
#     cx       cx-bench: echo baseline, feedback and journey ingest on SQLite
#              and MariaDB, metrics-service catch-up, query mix and freshness;
#              every service in its own process (a few minutes)
#     storage  repository-bench: the storage layer alone, next to plain
#              INSERTs into the same table; then feedback-service's read
#              latency and RSS with CX_BENCH_STORED_RECORDS rows stored, and
#              journey-service with CX_BENCH_STORED_EVENTS events (the same),
#              on SQLite and then on MariaDB (CX_BENCH_STORED_MYSQL=false: SQLite
#              only) (default 10000000: about 20 minutes and 11 GB under /tmp
#              on SQLite; at 1000000 the MariaDB pass took 3.5 of 5.5 minutes,
#              at 10000000 it is not timed yet)
#     metrics  metrics-bench: query latency over N feedback records next to
#              SQL over the raw rows (default 10 million: about 15 minutes
#              and 10 GB under /tmp)
#     journey  journey-bench: funnels and retention from the journey index
#              (default 1 million customers, 20 million events: about an hour)
#     profile  scripts/profile.sh: the instructions batch ingest costs per row,
#              by part, counted by valgrind's callgrind (about a minute);
#              unlike timings, they do not move with the machine's load
#   CX_BENCH_SECONDS          measured seconds per scenario (default 5)
#   CX_BENCH_CHANNELS         cx-bench channels (default 1)
#   CX_BENCH_ROUNDS           cx-bench rounds, each on fresh processes and databases (default 3)
#   CX_METRICS_BENCH_RECORDS  records for metrics-bench (default 10000000)
#   CX_JOURNEY_BENCH_CUSTOMERS, CX_JOURNEY_BENCH_EVENTS  journey-bench size
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
CX_BUILD_LOG=build/build.log bash scripts/build.sh
parts=${CX_BENCH_PARTS:-cx storage metrics journey profile}
seconds=${CX_BENCH_SECONDS:-5}
results=bench/results
mkdir -p "$results"

machine() {
  echo "$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(. /etc/os-release; echo "$PRETTY_NAME")," \
    "MariaDB $(mariadbd --version | grep -o '[0-9]*\.[0-9]*\.[0-9]*' | head -1)," \
    "SQLite $(dpkg-query -W -f='${Version}' libsqlite3-0), gRPC $(dpkg-query -W -f='${Version}' libgrpc++1.51)."
}
taken() { echo "Taken by \`scripts/bench.sh\` (part \`$1\`) on $(date -u '+%Y-%m-%d %H:%M UTC'): $(machine)"; }

url=""
if [[ " $parts " == *" cx "* || " $parts " == *" storage "* ]]; then
  trap 'bash scripts/mariadb.sh stop' EXIT
  url=$(bash scripts/mariadb.sh start)
fi

if [[ " $parts " == *" cx "* ]]; then
  rounds=${CX_BENCH_ROUNDS:-3}
  out=$(./build/bench/cx-bench --seconds="$seconds" --channels="${CX_BENCH_CHANNELS:-1}" --mysql-url="$url" \
    --mysql-pid-file="${CX_MARIADB_DIR:-/tmp/cx-mariadb}/mysqld.pid" --sqlite-memory=true --rounds="$rounds")
  {
    echo "## End to end: the services over gRPC, next to a bare echo server (cx-bench)"
    echo
    taken cx
    echo
    echo "Every service runs as its own process (the binaries, started by cx-bench on loopback ports),"
    echo "and so does the echo server, which is served by the same ServerRunner as the services. Durable:"
    echo "every call returns after its commit (SQLite WAL with synchronous=FULL; InnoDB with"
    echo "innodb_flush_log_at_trx_commit=1). The echo payload is the size of one SubmitFeedbackRequest; the"
    echo "batch baseline's, of one 100-event BatchRecordEvents. Both echo baselines run before the services and"
    echo "again after them (one echo run can be twice as fast as the next on this shared machine); \"vs echo\" is"
    echo "the ratio to the faster run. Journey events are anonymous web visits by"
    echo "5000 visitors. Feedback scores cycle through 0-10, so 7 in 11 answers are detractors and, under"
    echo "the default follow-up rules, each opens a follow-up case (one more row and feed record) in the"
    echo "same transaction. Service cores and RSS are the service process's (from /proc), client cores the load"
    echo "generator's; rows/commit is the service's own group-commit histogram (from its /metrics); storage"
    echo "KB/row is what the process that writes the data (the service for SQLite, mariadbd for MariaDB)"
    echo "wrote to storage per row stored (write_bytes of /proc/PID/io: WAL or redo log, checkpoints, pages);"
    echo "commit ms and queue wait ms are the service's means per group commit (from its /metrics): the"
    echo "transaction, and how long its oldest row waited in the queue for the writer. The"
    echo "\"SQLite in memory\" rows are the same services on sqlite::memory: (not durable, no storage I/O at all):"
    echo "what everything but the disk allows, so the gap to the SQLite rows is what storage costs. CPU"
    echo "us/row is the CPU time of service, client and (for MariaDB) mariadbd together per row: with both"
    echo "cores busy, rows/s can reach at most 2,000,000 / (CPU us/row). Client,"
    echo "services and database share the two cores; the machine is shared and noisy, so compare rows of"
    echo "one run, not runs. With more than one round, the whole sequence (echo, the services on each"
    echo "backend, echo again) runs once per round on fresh processes and databases; the first table gives each"
    echo "scenario's median over the rounds with the lowest and highest (\"vs echo\" taken within each round),"
    echo "then come the rounds' own tables."
    echo
    echo "Settings: $(echo "$out" | grep '^cx-bench ' | sed 's/^cx-bench *//; s/  */ /g'), $rounds round(s)."
    echo
    if [[ $rounds -gt 1 ]]; then
      echo "$out" | sed -n '/^Median of/,/^metrics-service catch-up/p' | sed '$d'
    else
      echo "$out" | sed -n '/^| scenario/,/^$/p'
    fi
    echo "### metrics-service following both services (SQLite), after the ingest above"
    echo
    echo "Catch-up is from the metrics-service process's start until its feed cursors reach the end of both"
    echo "feeds. Queries are over gRPC with 8 in flight. Freshness probes go to their own tenant: one"
    echo "SubmitFeedback at a time, then GetScore polled until the answer is counted; under load, a"
    echo "BatchSubmitFeedback load runs on the other tenant meanwhile."
    echo
    echo "$out" | sed -n '/^metrics-service catch-up/,$p'
  } > "$results/cx.md"
fi

if [[ " $parts " == *" storage "* ]]; then
  stored=${CX_BENCH_STORED_RECORDS:-10000000}
  out=$(./build/bench/repository-bench --seconds=$((seconds > 2 ? seconds / 2 : 1)) --mysql-url="$url" \
    --stored-records="$stored" --stored-events="${CX_BENCH_STORED_EVENTS:-$stored}" \
    --stored-mysql="${CX_BENCH_STORED_MYSQL:-true}")
  {
    echo "## Storage alone: the repositories' writes, and plain INSERTs of the same rows"
    echo
    taken storage
    echo
    echo "The plain INSERT rows put the same kind of rows into the same, already filled table without"
    echo "the idempotency lookup, the sequence lock or protobuf: the database's own ceiling for this"
    echo "schema (five B-trees per row) on this machine. The last two drop secondary indexes from that"
    echo "table, first the per-customer one (the benchmark's rows come from 5000 customers in turn, so its"
    echo "entries land all over it), then the time and sequence ones: what each costs."
    echo "Between them, the SQLite WAL pages of a commit (on a file filled to 300,000 rows of the same"
    echo "5000 customers): commits of 11 rows (a unary commit's size at 32 in flight) and of 380 (a batch"
    echo "commit's), each page the commit put in the WAL named by SQLite's dbstat table, so it says which"
    echo "tables and indexes a commit's storage writes go to. The table of events per transaction does the"
    echo "same for journey-service: JourneyRepository::WriteEvents (anonymous web visits of 5000 visitors in"
    echo "turn, as cx-bench sends), then plain INSERTs of only the two rows every stored event has (its row"
    echo "in events, with the primary key and the per-owner index, and its feed record), 1000 per"
    echo "transaction, with no event-id lookup, sequence lock or per-owner journey state: a ceiling that"
    echo "WriteEvents, which does all of that too, cannot pass."
    echo "Then $stored feedback rows (200k customers; the 64% with a detractor score open a case) are"
    echo "written to a SQLite file and the feedback-service binary serves reads from it as its own process:"
    echo "the read latency and the process's RSS (anonymous and file-backed) with that many records stored,"
    echo "then the latency of erasing customers (EraseCustomer: feedback, cases and their feed records)."
    echo "The same for journey-service: ${CX_BENCH_STORED_EVENTS:-$stored} events of 200k visitors, 20k of whom are then merged"
    echo "into customers; GetJourney of a random visitor and of a merged customer (its visitor's events"
    echo "found through the merge), ListChanges, and RecordEvent of a random visitor (a durable write),"
    echo "then the latency of erasing those customers (EraseCustomer: each with its merged visitor's events)."
    echo "Both are done on SQLite, then (unless CX_BENCH_STORED_MYSQL=false) on a fresh database of the"
    echo "throwaway MariaDB, with each service on it as it runs in production. Each measured call also"
    echo "says how much was read from storage during it: on SQLite, the service process's read_bytes (what"
    echo "the kernel's page cache serves does not count); on MariaDB, InnoDB's data file reads"
    echo "(Innodb_data_read, server-wide, the purge of erased rows included). InnoDB reads with O_DIRECT, so"
    echo "every page missing from its buffer pool (1 GB here) is a disk read."
    echo
    # The tables as printed, a blank line and the SQLite WAL table's heading
    # between them; then the stored databases' lines.
    echo "$out" | grep -E '^(\||$|SQLite WAL pages)' | cat -s | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
    echo
    echo '```'
    echo "$out" | grep -vE '^(\||$|SQLite WAL pages)'
    echo '```'
  } > "$results/storage.md"
fi

if [[ " $parts " == *" metrics "* ]]; then
  records=${CX_METRICS_BENCH_RECORDS:-10000000}
  out=$(./build/bench/metrics-bench --records="$records" 2>/dev/null | grep "^|")
  {
    echo "## metrics-service: rollups against SQL over the raw rows, catch-up, freshness"
    echo
    taken metrics
    echo
    echo "$records synthetic feedback records over 90 days (60% NPS, 20% CSAT, 20% CES; skewed channels,"
    echo "sources, 12 touchpoints, 5 stages, 4 segments over 200k customers, 30% with a tag) go through the"
    echo "feed applier into SQLite; then metrics-service serves them over gRPC, one query at a time. The SQL"
    echo "rows are the same aggregate over metrics_facts (one row per record, indexed by tenant, metric, hour)"
    echo "on the same database. Catch-up and freshness use a real feedback-service and its change feed."
    echo
    echo "| what | figure | note |"
    echo "|---|---|---|"
    echo "$out"
  } > "$results/metrics.md"
fi

if [[ " $parts " == *" journey "* ]]; then
  out=$(./build/bench/journey-bench --customers="${CX_JOURNEY_BENCH_CUSTOMERS:-1000000}" \
    --events="${CX_JOURNEY_BENCH_EVENTS:-20000000}" 2>/dev/null)
  {
    echo "## metrics-service: journey metrics from the journey index against SQL over the raw rows"
    echo
    taken journey
    echo
    echo '```'
    echo "$out"
    echo '```'
  } > "$results/journey.md"
fi

if [[ " $parts " == *" profile "* ]]; then
  out=$(bash scripts/profile.sh)
  {
    echo "## Instructions per ingested row, by part (callgrind)"
    echo
    taken profile
    echo
    echo "$out"
  } > "$results/profile.md"
fi

{
  echo "# Benchmarks"
  echo
  echo "Generated by \`scripts/bench.sh\` from the sections in \`bench/results/\`; each section says when"
  echo "and on what it was taken. Benchmarks print figures; none passes or fails on a time."
  for part in cx profile storage metrics journey; do
    if [[ -f "$results/$part.md" ]]; then
      echo
      cat "$results/$part.md"
    fi
  done
} > BENCHMARKS.md
cat BENCHMARKS.md
