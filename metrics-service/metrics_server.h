// Wires metrics-service together: the shared host (database pool, /metrics,
// server runner, the alert hub for WatchAlerts), the repository with its
// migrations, the rollup index rebuilt from the stored cells, the feed
// applier and consumers, the manager, the gRPC adapter and the periodic
// alert evaluation, and the journey index with its metrics and the health
// stream hub. Used by main.cc, the tests and the benchmark alike.
#ifndef CX_METRICS_METRICS_SERVER_H_
#define CX_METRICS_METRICS_SERVER_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "metrics-service/feed_applier.h"
#include "metrics-service/feed_consumer.h"
#include "metrics-service/metrics_grpc_service.h"
#include "metrics-service/metrics_manager.h"
#include "shared/config.h"
#include "shared/service.h"
#include "shared/service_host.h"

namespace cx::metrics {

// Common options plus the feeds to follow and the alert evaluation period.
std::vector<shared::OptionSpec> MetricsServiceOptionSpecs();

struct MetricsServerOptions {
  shared::ServiceOptions service;
  FeedConsumerOptions feeds;
  // Rules are also evaluated after every applied batch of feedback.
  absl::Duration alert_interval = absl::Seconds(30);
  // Tests move the alert clock.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

class MetricsServer {
 public:
  // From the parsed options (main).
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(shared::ServiceOptions options);
  // --migrate-only: applies the schema migrations and returns.
  static absl::Status Migrate(const shared::ServiceOptions& options);
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(MetricsServerOptions options);
  ~MetricsServer();

  int port() const { return host_.port(); }
  int metrics_port() const { return host_.metrics()->port(); }
  MetricsManager& manager() { return *manager_; }
  JourneyMetrics& journeys() { return *journeys_; }
  JourneyIndex& journey_index() { return *journey_index_; }
  MetricsRepository& repository() { return *repository_; }
  RollupIndex& index() { return *index_; }
  FeedApplier& applier() { return *applier_; }
  FeedConsumer& consumer() { return *consumer_; }

  // SIGTERM path: NOT_SERVING, grace, close streams, Shutdown(deadline),
  // then stop following the feeds. Idempotent.
  void Shutdown();

 private:
  MetricsServer() = default;
  void EvaluateEvery(absl::Duration interval);

  shared::ServiceHost<v1::Alert, v1::WatchAlertsResponse> host_;
  std::shared_ptr<MetricsRepository> repository_;
  std::shared_ptr<RollupIndex> index_;
  std::shared_ptr<MetricsManager> manager_;
  std::shared_ptr<JourneyIndex> journey_index_;
  std::shared_ptr<JourneyMetrics> journeys_;
  std::shared_ptr<HealthHub> health_hub_;
  std::shared_ptr<FeedApplier> applier_;
  std::unique_ptr<FeedConsumer> consumer_;
  std::unique_ptr<MetricsGrpcService> service_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread evaluator_;
};

}  // namespace cx::metrics

#endif  // CX_METRICS_METRICS_SERVER_H_
