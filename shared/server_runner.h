// Runs a gRPC server on the callback API with what every service needs: the
// standard health service (NOT_SERVING while the database probe fails),
// reflection (optional), Prometheus metrics, and the SIGTERM drain:
// NOT_SERVING, a short grace so load balancers stop sending, then
// Shutdown(deadline) which lets in-flight RPCs finish.
#ifndef CX_SHARED_SERVER_RUNNER_H_
#define CX_SHARED_SERVER_RUNNER_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "shared/config.h"
#include "shared/tls.h"

namespace cx::shared {

struct ServerOptions {
  std::string listen = "127.0.0.1:0";
  bool reflection = true;
  absl::Duration drain_grace = absl::Seconds(2);
  absl::Duration shutdown_timeout = absl::Seconds(10);
  int max_message_bytes = 4 << 20;
  // Zero: gRPC's defaults (no limit). Connection age bounds every call,
  // streams included: past it the client gets GOAWAY and reconnects (feed
  // consumers resume from their cursor).
  absl::Duration max_connection_age = absl::ZeroDuration();
  absl::Duration max_connection_age_grace = absl::ZeroDuration();
  absl::Duration max_connection_idle = absl::ZeroDuration();
  absl::Duration health_probe_interval = absl::Seconds(1);
  ServerTlsFiles tls;  // no certificate: plaintext
  // When set, a second, plaintext listener that serves only grpc.health.v1
  // (the kubelet's gRPC probes cannot speak TLS).
  std::string health_listen;

  static absl::StatusOr<ServerOptions> FromConfig(const Config& config);
};

class ServerRunner {
 public:
  explicit ServerRunner(ServerOptions options);
  ~ServerRunner();

  // Before Start(): services to serve (not owned) and their full names for
  // the health service.
  void AddService(grpc::Service* service, const std::string& full_name);
  // Checked every probe interval; a failure reports NOT_SERVING until it passes.
  void SetHealthProbe(std::function<absl::Status()> probe);
  // Called when draining starts, before the listener closes (e.g. to end
  // long-lived streams).
  void OnDrain(std::function<void()> hook);

  absl::Status Start();
  int port() const { return port_; }
  int health_port() const { return health_port_; }

  // The health service name that reports SERVING while the process runs,
  // whatever the database does: for liveness probes, so a database outage
  // makes pods unready without restarting them.
  static constexpr const char* kLivenessService = "cx.liveness";

  // Drains and stops: NOT_SERVING, grace, drain hooks, Shutdown(deadline).
  // Safe to call more than once.
  void Drain();

  // Health as reported now (for tests and logs).
  bool serving() const { return serving_.load(); }

 private:
  void ProbeLoop();
  void SetServing(bool serving);

  ServerOptions options_;
  std::vector<std::pair<grpc::Service*, std::string>> services_;
  std::function<absl::Status()> probe_;
  std::vector<std::function<void()>> drain_hooks_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::unique_ptr<grpc::CallbackGenericService> health_only_;
  std::unique_ptr<grpc::Server> health_server_;
  int health_port_ = 0;
  std::atomic<bool> serving_{false};
  std::atomic<bool> draining_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_probe_ = false;
  std::thread probe_thread_;
  std::once_flag drained_;
};

// Process-wide settings every binary wants (servers get them from Start()).
void InitProcessDefaults();

// Blocks SIGTERM, SIGINT (and SIGHUP) in this and every later thread; call
// first in main() so WaitForTerminationSignal() can take them.
void BlockTerminationSignals();
// Waits for SIGTERM or SIGINT and returns its number; on SIGHUP runs the
// reload hooks (shared/reload.h) and goes on waiting.
int WaitForTerminationSignal();

}  // namespace cx::shared

#endif  // CX_SHARED_SERVER_RUNNER_H_
