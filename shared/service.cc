#include "shared/service.h"

#include <algorithm>
#include <cstdlib>

namespace cx::shared {

absl::StatusOr<ServiceOptions> ServiceOptions::FromConfig(const Config& config) {
  ServiceOptions options;
  options.db_url = config.Get("db");
  if (const char* password = std::getenv("CX_DB_PASSWORD"); password != nullptr) options.db_password = password;
  auto pool_size = config.GetInt("db-pool-size");
  if (!pool_size.ok()) return pool_size.status();
  options.db_pool_size = static_cast<size_t>(std::max<int64_t>(1, *pool_size));
  auto cache_mb = config.GetInt("db-cache-mb");
  if (!cache_mb.ok()) return cache_mb.status();
  if (*cache_mb < 1 || *cache_mb > 65536) return absl::InvalidArgumentError("--db-cache-mb must be 1 to 65536");
  options.db_cache_kib = static_cast<int>(*cache_mb * 1024);
  auto migrate_only = config.GetBool("migrate-only");
  if (!migrate_only.ok()) return migrate_only.status();
  options.migrate_only = *migrate_only;
  if (!options.migrate_only) {  // migrations serve no RPC
    if (config.Get("tokens-file").empty()) {
      return absl::InvalidArgumentError("--tokens-file (CX_TOKENS_FILE) is required: every RPC needs a token");
    }
    auto tokens = TokenStore::FromFile(config.Get("tokens-file"));
    if (!tokens.ok()) return tokens.status();
    options.tokens = *tokens;
    options.tokens_file = config.Get("tokens-file");
    auto poll = config.GetInt("tokens-poll-ms");
    if (!poll.ok()) return poll.status();
    if (*poll < 0) return absl::InvalidArgumentError("--tokens-poll-ms must be 0 or more");
    options.tokens_poll = absl::Milliseconds(*poll);
  }
  auto rps = config.GetInt("rate-limit-rps");
  if (!rps.ok()) return rps.status();
  auto burst = config.GetInt("rate-limit-burst");
  if (!burst.ok()) return burst.status();
  if (*rps < 0 || *burst < 0) return absl::InvalidArgumentError("--rate-limit-rps and --rate-limit-burst must be 0 or more");
  options.rate_limit.per_second = static_cast<double>(*rps);
  options.rate_limit.burst = static_cast<double>(*burst > 0 ? *burst : 2 * *rps);
  auto server = ServerOptions::FromConfig(config);
  if (!server.ok()) return server.status();
  options.server = *server;
  options.metrics_listen = config.Get("metrics-listen");
  auto queue_rows = config.GetInt("write-queue-rows");
  if (!queue_rows.ok()) return queue_rows.status();
  auto batch_rows = config.GetInt("write-batch-rows");
  if (!batch_rows.ok()) return batch_rows.status();
  options.commit.capacity_rows = static_cast<size_t>(*queue_rows);
  options.commit.max_batch_rows = static_cast<size_t>(*batch_rows);
  options.page_token_key = config.Get("page-token-key");
  options.config = config;
  return options;
}

}  // namespace cx::shared
