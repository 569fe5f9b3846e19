#!/usr/bin/env bash
# Starts or stops a throwaway MariaDB on 127.0.0.1 for the tests and the
# benchmark. Data lives in $CX_MARIADB_DIR (default /tmp/cx-mariadb) and is
# wiped on start.
#   scripts/mariadb.sh start   # prints the mysql:// URL of a ready server
#   scripts/mariadb.sh stop
#   scripts/mariadb.sh resume  # starts again on the existing data (restart tests)
#   scripts/mariadb.sh kill9   # kill -9 of the server (fault tests; resume recovers)
#   scripts/mariadb.sh remove  # stops it and deletes $CX_MARIADB_DIR
# CX_MARIADB_LOG_MB (default 512) and CX_MARIADB_BUFFER_POOL_MB (default 1024)
# size the redo log and the buffer pool; the fault tests' own servers take
# small ones.
set -euo pipefail
dir=${CX_MARIADB_DIR:-/tmp/cx-mariadb}
port=${CX_MARIADB_PORT:-33306}
log_mb=${CX_MARIADB_LOG_MB:-512}
pool_mb=${CX_MARIADB_BUFFER_POOL_MB:-1024}

stop() {
  if [[ -f "$dir/mysqld.pid" ]]; then
    pid=$(cat "$dir/mysqld.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/mysqld.pid"
  fi
}

launch() {
    mariadbd --no-defaults --datadir="$dir/data" --port="$port" --bind-address=127.0.0.1 \
      --socket="$dir/mysqld.sock" --pid-file="$dir/mysqld.pid" --user=root --skip-name-resolve \
      --innodb-buffer-pool-size="${pool_mb}M" --innodb-log-file-size="${log_mb}M" --max-connections=500 \
      --innodb-flush-log-at-trx-commit=1 --max-prepared-stmt-count=100000 \
      --log-error="$dir/error.log" >/dev/null 2>&1 &
    for _ in $(seq 1 150); do
      if mariadb-admin --no-defaults --socket="$dir/mysqld.sock" -uroot ping >/dev/null 2>&1; then break; fi
      sleep 0.2
    done
}

case "${1:-}" in
  start)
    stop
    rm -rf "$dir"
    mkdir -p "$dir/data"
    mariadb-install-db --no-defaults --datadir="$dir/data" --user=root \
      --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1
    launch
    mariadb --no-defaults --socket="$dir/mysqld.sock" -uroot <<SQL
CREATE USER IF NOT EXISTS 'cx'@'127.0.0.1' IDENTIFIED BY 'cx';
GRANT ALL PRIVILEGES ON *.* TO 'cx'@'127.0.0.1';
CREATE DATABASE IF NOT EXISTS cx;
SQL
    echo "mysql://cx:cx@127.0.0.1:$port/cx"
    ;;
  resume)
    stop
    launch
    ;;
  stop)
    stop
    ;;
  remove)
    stop
    rm -rf "$dir"
    ;;
  kill9)
    if [[ -f "$dir/mysqld.pid" ]]; then
      pid=$(cat "$dir/mysqld.pid")
      kill -9 "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      rm -f "$dir/mysqld.pid"
    fi
    ;;
  *)
    echo "usage: $0 start|stop|resume|kill9|remove" >&2
    exit 2
    ;;
esac
