// Wires journey-service together from its options: database pool and
// migrations, repository, change-feed hub, manager, gRPC adapter and the
// shared server runner. Used by main.cc, the in-process tests and the
// benchmark, so they all run exactly the same service.
#ifndef CX_JOURNEY_JOURNEY_SERVER_H_
#define CX_JOURNEY_JOURNEY_SERVER_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "journey-service/journey_grpc_service.h"
#include "shared/config.h"
#include "shared/db/sql.h"
#include "shared/metrics.h"
#include "shared/server_runner.h"
#include "shared/service.h"

namespace cx::journey {

// The journey-service options (common ones with its own defaults).
std::vector<shared::OptionSpec> JourneyServiceOptionSpecs();

class JourneyServer {
 public:
  static absl::StatusOr<std::unique_ptr<JourneyServer>> Start(shared::ServiceOptions options);
  ~JourneyServer();

  int port() const { return runner_->port(); }
  int metrics_port() const { return metrics_->port(); }
  shared::ServiceMetrics& metrics() { return *metrics_; }
  JourneyManager& manager() { return *manager_; }
  JourneyRepository& repository() { return *repository_; }

  // SIGTERM path: NOT_SERVING, grace, close streams, Shutdown(deadline),
  // then commit what is queued. Idempotent.
  void Shutdown();

 private:
  JourneyServer() = default;

  std::shared_ptr<shared::db::ConnectionPool> pool_;
  std::shared_ptr<JourneyRepository> repository_;
  std::shared_ptr<shared::ServiceMetrics> metrics_;
  std::shared_ptr<JourneyFeedHub> hub_;
  std::shared_ptr<JourneyManager> manager_;
  std::unique_ptr<JourneyGrpcService> service_;
  std::unique_ptr<shared::ServerRunner> runner_;
};

}  // namespace cx::journey

#endif  // CX_JOURNEY_JOURNEY_SERVER_H_
