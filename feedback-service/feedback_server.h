// Wires feedback-service together from its options: the shared host (database
// pool, /metrics, change-feed hub, server runner), the repository with its
// migrations, the manager and the gRPC adapter. Used by main.cc, the
// in-process tests and the benchmark, so they all run exactly the same service.
#ifndef CX_FEEDBACK_FEEDBACK_SERVER_H_
#define CX_FEEDBACK_FEEDBACK_SERVER_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "feedback-service/feedback_grpc_service.h"
#include "shared/config.h"
#include "shared/service.h"
#include "shared/service_host.h"

namespace cx::feedback {

using FeedbackServerOptions = shared::ServiceOptions;

// The feedback-service options (common ones with its own defaults).
std::vector<shared::OptionSpec> FeedbackServiceOptionSpecs();

class FeedbackServer {
 public:
  static absl::StatusOr<std::unique_ptr<FeedbackServer>> Start(shared::ServiceOptions options);
  // --migrate-only: applies the schema migrations and returns.
  static absl::Status Migrate(const shared::ServiceOptions& options);
  ~FeedbackServer();

  int port() const { return host_.port(); }
  int health_port() const { return host_.health_port(); }
  int metrics_port() const { return host_.metrics()->port(); }
  shared::ServiceMetrics& metrics() { return *host_.metrics(); }
  FeedbackManager& manager() { return *manager_; }
  FeedbackRepository& repository() { return *repository_; }

  // SIGTERM path: NOT_SERVING, grace, close streams, Shutdown(deadline),
  // then commit what is queued. Idempotent.
  void Shutdown();

 private:
  FeedbackServer() = default;

  shared::ServiceHost<v1::FeedbackChange, v1::WatchChangesResponse> host_;
  std::shared_ptr<FeedbackRepository> repository_;
  std::shared_ptr<FeedbackManager> manager_;
  std::unique_ptr<FeedbackGrpcService> service_;
};

}  // namespace cx::feedback

#endif  // CX_FEEDBACK_FEEDBACK_SERVER_H_
