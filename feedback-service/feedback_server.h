// Wires feedback-service together from its options: database pool and
// migrations, repository, change-feed hub, manager, gRPC adapter and the
// shared server runner. Used by main.cc, the in-process tests and the
// benchmark, so they all run exactly the same service.
#ifndef CX_FEEDBACK_FEEDBACK_SERVER_H_
#define CX_FEEDBACK_FEEDBACK_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "feedback-service/feedback_grpc_service.h"
#include "shared/config.h"
#include "shared/db/sql.h"
#include "shared/server_runner.h"
#include "shared/service.h"

namespace cx::feedback {

using FeedbackServerOptions = shared::ServiceOptions;

// The feedback-service options (common ones plus its own defaults).
std::vector<shared::OptionSpec> FeedbackServiceOptionSpecs();

class FeedbackServer {
 public:
  static absl::StatusOr<std::unique_ptr<FeedbackServer>> Start(FeedbackServerOptions options);
  ~FeedbackServer();

  int port() const { return runner_->port(); }
  int metrics_port() const { return metrics_->port(); }
  shared::ServiceMetrics& metrics() { return *metrics_; }
  shared::ServerRunner& runner() { return *runner_; }
  FeedbackManager& manager() { return *manager_; }

  // SIGTERM path: NOT_SERVING, grace, close streams, Shutdown(deadline),
  // then commit what is queued. Idempotent.
  void Shutdown();

 private:
  FeedbackServer() = default;

  std::shared_ptr<shared::db::ConnectionPool> pool_;
  std::shared_ptr<FeedbackRepository> repository_;
  std::shared_ptr<shared::ServiceMetrics> metrics_;
  std::shared_ptr<FeedbackFeedHub> hub_;
  std::shared_ptr<FeedbackManager> manager_;
  std::unique_ptr<FeedbackGrpcService> service_;
  std::unique_ptr<shared::ServerRunner> runner_;
};

}  // namespace cx::feedback

#endif  // CX_FEEDBACK_FEEDBACK_SERVER_H_
