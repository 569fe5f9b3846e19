#!/usr/bin/env bash
# Searches every log line the test suite wrote (CX_LOG_COPY_FILE) for the
# suite's personal data, its bearer tokens (in clear or as their full hash)
# and SQL text. Exits 1 naming what it found.
#   tests/log_privacy.sh <log file>
set -euo pipefail
log=${1:?usage: log_privacy.sh <log file>}
[[ -s $log ]] || { echo "log_privacy: $log is empty: the suite wrote no log lines there" >&2; exit 1; }

# The PII and tokens the tests send (isolation_test, cxctl_test,
# metrics_e2e_test, token_rotation_test, erasure_test and the shared test tokens).
pii=(GLOBEXSECRET globexsecret "Ada Lovelace" ada@example.com "Grace Hopper" grace@example.com
     "Terrible service" "the delivery was late and nobody answered"
     "Zelda Quixote" zelda.quixote@example.org +4915112345678 zq.dupe@example.org SF003ZQ4711X HUBZQ77001234)
tokens=(acme-ingest-token acme-read-token acme-admin-token globex-admin-token metrics-service-token
        old-token new-token globex-admin initech-admin)
sql='(SELECT .* FROM|INSERT INTO|DELETE FROM|UPDATE [a-z_]+ SET|CREATE TABLE)'

found=0
search() {  # <what> <fixed string or regex> [-E]
  local what=$1 needle=$2 mode=${3:--F}
  local hits
  hits=$(grep -c "$mode" -- "$needle" "$log" || true)
  if ((hits > 0)); then
    echo "log_privacy: $hits log lines hold $what: $(grep -m1 "$mode" -- "$needle" "$log" | cut -c1-300)"
    found=1
  fi
}
for p in "${pii[@]}"; do search "personal data '$p'" "$p"; done
for t in "${tokens[@]}"; do
  search "a bearer token" "$t"
  search "a bearer token's full hash" "$(printf '%s' "$t" | sha256sum | cut -d' ' -f1)"
done
search "SQL text" "$sql" -E

lines=$(wc -l <"$log")
if ((found)); then exit 1; fi
echo "log_privacy: $lines log lines of the suite searched: no personal data, token, token hash or SQL text"
