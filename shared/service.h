// What every service binary shares: the options read from the common flags
// and environment variables, and main() itself (parse, log, start, wait for
// SIGTERM, drain).
#ifndef CX_SHARED_SERVICE_H_
#define CX_SHARED_SERVICE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "shared/auth.h"
#include "shared/config.h"
#include "shared/db/sql.h"
#include "shared/group_commit.h"
#include "shared/log.h"
#include "shared/rate_limit.h"
#include "shared/server_runner.h"

namespace cx::shared {

struct ServiceOptions {
  std::string db_url = "sqlite::memory:";
  std::string db_password;  // CX_DB_PASSWORD, never a flag
  size_t db_pool_size = 4;
  int db_cache_kib = 16384;  // each SQLite connection's page cache
  std::shared_ptr<const TokenStore> tokens;
  // When set, `tokens` came from this file, which is watched and reloaded
  // (file change or SIGHUP).
  std::string tokens_file;
  absl::Duration tokens_poll = absl::Seconds(2);
  RateLimitOptions rate_limit;  // per tenant; off unless configured
  ServerOptions server;
  std::string metrics_listen;  // empty: no /metrics endpoint
  GroupCommitOptions commit;
  // How often WatchChanges streams look for commits made by other replicas
  // of the service; this process's own commits reach them at once.
  absl::Duration feed_poll = absl::Milliseconds(200);
  std::string page_token_key;
  bool migrate_only = false;  // apply the migrations, then exit
  // Everything parsed, for a service's own options.
  Config config;

  static absl::StatusOr<ServiceOptions> FromConfig(const Config& config);
};

// --migrate-only: opens the database and the repository, which applies the
// numbered migrations, and returns.
template <class OpenRepository>
absl::Status MigrateOnly(const ServiceOptions& options, OpenRepository open_repository) {
  auto pool = db::OpenDatabase(options.db_url, options.db_password, 1, options.db_cache_kib);
  if (!pool.ok()) return pool.status();
  return open_repository(*pool).status();
}

// main() of a service: `Server::Start(ServiceOptions)` returns the running
// server, whose Shutdown() drains it on SIGTERM/SIGINT; with --migrate-only,
// `Server::Migrate(ServiceOptions)` runs instead.
template <class Server>
int RunServiceMain(const std::string& program, const std::vector<OptionSpec>& specs, int argc, char** argv) {
  BlockTerminationSignals();
  auto config = Config::ParseOrExit(program, specs, argc, argv);
  LogLevel level = LogLevel::kInfo;
  ParseLogLevel(config.Get("log-level"), &level);
  InitLogging(program, level);
  auto options = ServiceOptions::FromConfig(config);
  if (!options.ok()) {
    LogError("bad configuration", {{"error", std::string(options.status().message())}});
    return 2;
  }
  if (options->migrate_only) {
    absl::Status migrated = Server::Migrate(*options);
    if (!migrated.ok()) {
      LogError("migrations failed", {{"error", std::string(migrated.message())}});
      return 1;
    }
    LogInfo("migrations applied");
    return 0;
  }
  auto server = Server::Start(*std::move(options));
  if (!server.ok()) {
    LogError("cannot start", {{"error", std::string(server.status().message())}});
    return 1;
  }
  int signal = WaitForTerminationSignal();
  LogInfo("termination signal", {{"signal", std::to_string(signal)}});
  (*server)->Shutdown();
  return 0;
}

}  // namespace cx::shared

#endif  // CX_SHARED_SERVICE_H_
