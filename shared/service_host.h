// What every service's server wires the same way around its own repository,
// manager and gRPC adapter: the database pool, the Prometheus endpoint, the
// change-feed hub over the repository, group-commit options for the backend,
// the RPC edge and the server runner with its health probe and drain.
#ifndef CX_SHARED_SERVICE_HOST_H_
#define CX_SHARED_SERVICE_HOST_H_

#include <functional>
#include <vector>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "shared/db/sql.h"
#include "shared/feed_hub.h"
#include "shared/metrics.h"
#include "shared/rpc.h"
#include "shared/server_runner.h"
#include "shared/service.h"

namespace cx::shared {

template <class Change, class WatchResponse>
class ServiceHost {
 public:
  using Hub = FeedHub<Change, WatchResponse>;

  // Opens the database and serves /metrics (when configured).
  absl::Status Open(const std::string& service, const ServiceOptions& options) {
    options_ = options;
    auto pool = db::OpenDatabase(options.db_url, options.db_password, options.db_pool_size, options.db_cache_kib);
    if (!pool.ok()) return pool.status();
    pool_ = *pool;
    metrics_ = std::make_shared<ServiceMetrics>(service);
    if (!options.metrics_listen.empty()) {
      if (auto s = metrics_->Serve(options.metrics_listen); !s.ok()) return s;
    }
    tokens_ = options.tokens_file.empty()
                  ? std::make_shared<TokenSource>(options.tokens)
                  : std::make_shared<TokenSource>(options.tokens, options.tokens_file, options.tokens_poll);
    env_ = std::make_shared<RpcEnv>(tokens_, metrics_, options.rate_limit);
    return absl::OkStatus();
  }

  // The change-feed hub over `list_changes(tenant, after, limit)`.
  template <class ListChanges>
  void MakeHub(ListChanges list_changes) {
    hub_ = std::make_shared<Hub>(
        [list_changes](const std::optional<std::string>& tenant, int64_t after, int limit) {
          return list_changes(tenant, after, limit);
        },
        [](const Change& c) { return c.sequence(); }, options_.feed_poll);
  }

  // Group commit for this backend: one writer on SQLite; on MySQL two, so
  // the round trips of two commits overlap when a backlog waits
  // (GroupCommitOptions::parallel_backlog_rows).
  GroupCommitOptions CommitOptions() const {
    GroupCommitOptions commit = options_.commit;
    commit.writers = pool_->backend() == db::Backend::kMysql ? 2 : 1;
    return commit;
  }
  // Wakes WatchChanges streams after a commit.
  std::function<void()> OnCommit() const {
    auto hub = hub_;
    return [hub] { hub->Notify(); };
  }
  std::function<void(const CommitObservation&)> ObserveBatch() const {
    auto metrics = metrics_;
    return [metrics](const CommitObservation& seen) { metrics->ObserveWriteBatch(seen); };
  }

  // Registers the service and starts serving; health follows `probe`.
  absl::Status Serve(grpc::Service* service, const std::string& full_name, std::function<absl::Status()> probe) {
    runner_ = std::make_unique<ServerRunner>(options_.server);
    runner_->AddService(service, full_name);
    runner_->SetHealthProbe(std::move(probe));
    auto hub = hub_;
    runner_->OnDrain([hub] { hub->Stop(); });
    for (auto& hook : drain_hooks_) runner_->OnDrain(std::move(hook));
    return runner_->Start();
  }

  // Also runs `hook` when the server drains (another stream hub); call
  // before Serve.
  void OnDrain(std::function<void()> hook) { drain_hooks_.push_back(std::move(hook)); }

  // NOT_SERVING, grace, close streams, Shutdown(deadline). Idempotent.
  void Drain() {
    if (runner_) runner_->Drain();
  }
  void StopHub() {
    if (hub_) hub_->Stop();
  }

  const std::shared_ptr<db::ConnectionPool>& pool() const { return pool_; }
  const std::shared_ptr<ServiceMetrics>& metrics() const { return metrics_; }
  const std::shared_ptr<Hub>& hub() const { return hub_; }
  const std::shared_ptr<RpcEnv>& env() const { return env_; }
  const std::shared_ptr<TokenSource>& tokens() const { return tokens_; }
  const ServiceOptions& options() const { return options_; }
  int port() const { return runner_->port(); }
  int health_port() const { return runner_->health_port(); }

 private:
  ServiceOptions options_;
  std::shared_ptr<db::ConnectionPool> pool_;
  std::shared_ptr<ServiceMetrics> metrics_;
  std::shared_ptr<Hub> hub_;
  std::shared_ptr<TokenSource> tokens_;
  std::shared_ptr<RpcEnv> env_;
  std::unique_ptr<ServerRunner> runner_;
  std::vector<std::function<void()>> drain_hooks_;
};

}  // namespace cx::shared

#endif  // CX_SHARED_SERVICE_HOST_H_
