// Wires journey-service together from its options: the shared host (database
// pool, /metrics, change-feed hub, server runner), the repository with its
// migrations, the manager and the gRPC adapter. Used by main.cc, the
// in-process tests and the benchmark, so they all run exactly the same service.
#ifndef CX_JOURNEY_JOURNEY_SERVER_H_
#define CX_JOURNEY_JOURNEY_SERVER_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "journey-service/journey_grpc_service.h"
#include "shared/config.h"
#include "shared/service.h"
#include "shared/service_host.h"

namespace cx::journey {

// The journey-service options (common ones with its own defaults).
std::vector<shared::OptionSpec> JourneyServiceOptionSpecs();

class JourneyServer {
 public:
  static absl::StatusOr<std::unique_ptr<JourneyServer>> Start(shared::ServiceOptions options);
  // --migrate-only: applies the schema migrations and returns.
  static absl::Status Migrate(const shared::ServiceOptions& options);
  ~JourneyServer();

  int port() const { return host_.port(); }
  int metrics_port() const { return host_.metrics()->port(); }
  shared::ServiceMetrics& metrics() { return *host_.metrics(); }
  JourneyManager& manager() { return *manager_; }
  JourneyRepository& repository() { return *repository_; }

  // SIGTERM path: NOT_SERVING, grace, close streams, Shutdown(deadline),
  // then commit what is queued. Idempotent.
  void Shutdown();

 private:
  JourneyServer() = default;

  shared::ServiceHost<v1::JourneyChange, v1::WatchChangesResponse> host_;
  std::shared_ptr<JourneyRepository> repository_;
  std::shared_ptr<JourneyManager> manager_;
  std::unique_ptr<JourneyGrpcService> service_;
};

}  // namespace cx::journey

#endif  // CX_JOURNEY_JOURNEY_SERVER_H_
