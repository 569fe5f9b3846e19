#!/usr/bin/env bash
# Runs repository-bench briefly on SQLite and on the test MariaDB
# (CX_TEST_MYSQL_URL, which scripts/test.sh sets), so the tool keeps working:
# every measurement must print its line, and every call on a stored database
# how much it read from storage. The stored databases are made to look like
# ones from before the erasure listings and the journey databases' per-owner
# index one from before journey migration 003 (--migrated), so the statements
# that do that, and the migration, run on both backends too. Its figures are not read (a test never
# passes or fails on a time).
#   repository_bench_smoke.sh REPOSITORY_BENCH_BINARY
set -euo pipefail
bench=$1
if [[ -z "${CX_TEST_MYSQL_URL:-}" ]]; then
  echo "repository_bench_smoke: CX_TEST_MYSQL_URL is not set; scripts/test.sh starts MariaDB and sets it" >&2
  exit 1
fi
rc=0
out=$(timeout --kill-after=10 200 "$bench" --seconds=1 --wal-stored=3000 --mysql-url="$CX_TEST_MYSQL_URL" --stored-records=3000 \
  --stored-events=3000 --stored-mysql=true --migrated=true --stored-seconds=2) || rc=$?
echo "$out"
if [[ $rc -ne 0 ]]; then
  echo "repository_bench_smoke: repository-bench exited with status $rc (124: it did not end within 200 s)" >&2
  exit 1
fi
fail() { echo "repository_bench_smoke: $*" >&2; exit 1; }
# The feedback rows: all that comes before the journey events' table.
feedback=$(echo "$out" | sed '/^| backend | events per transaction |/,$d')
for backend in SQLite MariaDB; do
  for size in 1 32 100 1000 '1000 (plain INSERT, same table)'; do
    echo "$feedback" | grep -qF "| $backend | $size |" || fail "no $backend row for $size rows per transaction"
  done
  # journey events: the repository's writes, then the plain INSERTs (the
  # table of events per transaction, after the feedback rows).
  journey=$(echo "$out" | sed -n '/^| backend | events per transaction |/,/^[^|]/p')
  for size in 1 32 100 1000 "1000 (plain INSERT of each event's two rows)"; do
    echo "$journey" | grep -qE "^\| $backend \| ${size//[()]/.} \| [1-9][0-9]* \| " ||
      fail "no $backend row for $size journey events per transaction"
  done
  for what in 'feedback rows' 'journey events'; do
    echo "$out" | grep -q "^stored on $backend: 3000 $what written" || fail "no line for $what stored on $backend"
  done
done
# A commit's SQLite WAL pages, attributed to tables and indexes: every
# commit of feedback writes the table and its per-customer index.
for what in 'unary calls' 'batches'; do
  echo "$out" | grep -E "^\| a commit of $what \(mean of [0-9]+\) \| [0-9]+ \| [1-9][0-9.]* \| [0-9.]+ \| " |
    grep -E '(\| |, )feedback [1-9]' | grep -qE '(\| |, )feedback_by_customer [1-9]' ||
    fail "no SQLite WAL pages of a commit of $what attributed to the feedback table and its customer index"
done
# Each of the 4 stored databases made to look migrated (its erasure
# listing), and each journey database's per-owner index made one from before
# journey migration 003, which the journey-service start then rebuilds.
migrated=$(echo "$out" | grep -c '^migrated: ' || true)
[[ $migrated -eq 6 ]] || fail "expected 6 lines of stored databases made to look migrated, found $migrated"
rebuilt=$(echo "$out" | grep -c '^migrated: the per-owner index rebuilt without the sequence' || true)
[[ $rebuilt -eq 2 ]] || fail "expected both journey databases' per-owner index made as before migration 003, found $rebuilt"
# Nine measured calls per backend (three feedback reads and its erasures;
# four journey calls, GetJourney of a merged customer among them, and its
# erasures), each with its latencies and the storage it read. The journey
# ones fail the tool itself when a merged customer's journey or erasure
# holds none of the merged visitor's events.
calls=$(echo "$out" | grep -cE '^  .*: [1-9][0-9]* calls, p50 [0-9.]+ ms, p99 [0-9.]+ ms, storage read [0-9.]+ KB/call$' || true)
[[ $calls -eq 18 ]] || fail "expected 18 measured calls with their storage reads, found $calls"
# The four fresh databases it made on the server (one each for the feedback
# and the journey write measurements, one each for the stored feedback and
# events) are gone at its end.
[[ $CX_TEST_MYSQL_URL =~ ^mysql://([^:@]+)(:([^@]*))?@([^:/]+):([0-9]+)/ ]] || fail "cannot read $CX_TEST_MYSQL_URL"
db_user=${BASH_REMATCH[1]} db_password=${BASH_REMATCH[3]} db_host=${BASH_REMATCH[4]} db_port=${BASH_REMATCH[5]}
dropped=$(echo "$out" | sed -n 's/^dropped the MariaDB database \([A-Za-z0-9_]*\)$/\1/p')
[[ $(echo "$dropped" | grep -c .) -eq 4 ]] || fail "expected 4 MariaDB databases dropped, found: $dropped"
left=$(MYSQL_PWD="$db_password" mariadb --no-defaults -h "$db_host" -P "$db_port" -u "$db_user" -N -e \
  "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ('$(echo $dropped | sed "s/ /','/g")')")
[[ $left -eq 0 ]] || fail "$left of the databases it dropped are still on the server"
echo "repository_bench_smoke: ok"
