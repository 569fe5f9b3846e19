#include "shared/config.h"

#include <cstdlib>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace cx::shared {

absl::StatusOr<Config> Config::Parse(const std::vector<OptionSpec>& specs,
                                     const std::vector<std::string>& args,
                                     const std::map<std::string, std::string>* env) {
  Config config;
  std::map<std::string, const OptionSpec*> by_name;
  for (const auto& spec : specs) {
    by_name[spec.name] = &spec;
    std::string value = spec.default_value;
    if (env != nullptr) {
      auto it = env->find(spec.env);
      if (it != env->end()) value = it->second;
    } else if (const char* v = std::getenv(spec.env.c_str()); v != nullptr) {
      value = v;
    }
    config.values_[spec.name] = value;
  }
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!absl::StartsWith(arg, "--")) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", arg, "'"));
    }
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (by_name.count(name) == 0) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      }
      value = args[++i];
    }
    config.values_[name] = value;
  }
  return config;
}

std::string Config::Usage(const std::string& program, const std::vector<OptionSpec>& specs) {
  std::string out = absl::StrCat("Usage: ", program, " [--flag=value ...]\n\nOptions (flag / environment variable, default):\n");
  for (const auto& spec : specs) {
    absl::StrAppend(&out, absl::StrFormat("  --%-22s %-26s %s\n", spec.name, spec.env, spec.help));
    if (!spec.default_value.empty()) {
      absl::StrAppend(&out, absl::StrFormat("  %-50s default: %s\n", "", spec.default_value));
    }
  }
  return out;
}

Config Config::ParseOrExit(const std::string& program, const std::vector<OptionSpec>& specs,
                           int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::cout << Usage(program, specs);
      std::exit(0);
    }
  }
  auto config = Parse(specs, args);
  if (!config.ok()) {
    std::cerr << program << ": " << config.status().message() << "\n\n" << Usage(program, specs);
    std::exit(2);
  }
  return *std::move(config);
}

const std::string& Config::Get(const std::string& name) const {
  static const std::string kEmpty;
  auto it = values_.find(name);
  return it == values_.end() ? kEmpty : it->second;
}

absl::StatusOr<int64_t> Config::GetInt(const std::string& name) const {
  int64_t value = 0;
  if (!absl::SimpleAtoi(Get(name), &value)) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, " must be an integer"));
  }
  return value;
}

absl::StatusOr<bool> Config::GetBool(const std::string& name) const {
  bool value = false;
  if (!absl::SimpleAtob(Get(name), &value)) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, " must be true or false"));
  }
  return value;
}

std::vector<OptionSpec> CommonOptions(const std::string& default_listen,
                                      const std::string& default_db,
                                      const std::string& default_metrics_listen) {
  return {
      {"listen", "CX_LISTEN", default_listen, "gRPC listen address host:port"},
      {"db", "CX_DB", default_db,
       "database: sqlite:///path, sqlite::memory:, mysql://user@host:port/db (password in CX_DB_PASSWORD)"},
      {"db-pool-size", "CX_DB_POOL_SIZE", "4", "database connections (MySQL)"},
      {"db-cache-mb", "CX_DB_CACHE_MB", "16", "SQLite page cache per connection, MiB"},
      {"tokens-file", "CX_TOKENS_FILE", "", "bearer tokens: lines of 'sha256hex tenant role[,role]'"},
      {"tokens-poll-ms", "CX_TOKENS_POLL_MS", "2000",
       "reload the tokens file this often when it changed (0: on SIGHUP only)"},
      {"metrics-listen", "CX_METRICS_LISTEN", default_metrics_listen,
       "Prometheus /metrics listen address host:port (empty disables)"},
      {"reflection", "CX_REFLECTION", "true", "serve gRPC reflection"},
      {"drain-grace-ms", "CX_DRAIN_GRACE_MS", "2000",
       "on SIGTERM: report NOT_SERVING this long before closing the listener"},
      {"shutdown-timeout-ms", "CX_SHUTDOWN_TIMEOUT_MS", "10000",
       "on SIGTERM: longest wait for in-flight RPCs"},
      {"max-message-bytes", "CX_MAX_MESSAGE_BYTES", "4194304", "largest request message"},
      {"rate-limit-rps", "CX_RATE_LIMIT_RPS", "2000",
       "calls per second per tenant (token bucket; 0: no limit); over it: RESOURCE_EXHAUSTED"},
      {"rate-limit-burst", "CX_RATE_LIMIT_BURST", "0", "token bucket size per tenant (0: twice the rate)"},
      {"max-connection-age-ms", "CX_MAX_CONNECTION_AGE_MS", "1800000",
       "close each connection after this long (GOAWAY), so no call or stream outlives it plus the grace"},
      {"max-connection-age-grace-ms", "CX_MAX_CONNECTION_AGE_GRACE_MS", "300000",
       "time calls get to finish once their connection is past its age"},
      {"max-connection-idle-ms", "CX_MAX_CONNECTION_IDLE_MS", "600000", "close connections idle this long"},
      {"page-token-key", "CX_PAGE_TOKEN_KEY", "",
       "secret that signs page tokens (share it between replicas; random when empty)"},
      {"write-queue-rows", "CX_WRITE_QUEUE_ROWS", "100000",
       "rows the group-commit queue holds before answering RESOURCE_EXHAUSTED"},
      {"write-batch-rows", "CX_WRITE_BATCH_ROWS", "1000", "rows per group-commit transaction"},
      {"log-level", "CX_LOG_LEVEL", "info", "debug, info, warning or error"},
      {"tls-cert", "CX_TLS_CERT", "", "PEM certificate chain: serve TLS (empty: plaintext)"},
      {"tls-key", "CX_TLS_KEY", "", "PEM private key of --tls-cert"},
      {"tls-client-ca", "CX_TLS_CLIENT_CA", "",
       "PEM CA bundle: require client certificates signed by it (mTLS)"},
      {"health-listen", "CX_HEALTH_LISTEN", "",
       "extra plaintext host:port serving only grpc.health.v1, for probes of a TLS server (empty: none)"},
      {"migrate-only", "CX_MIGRATE_ONLY", "false", "apply the database migrations and exit (a Job or init container)"},
  };
}

}  // namespace cx::shared
