// Prometheus exposition on a separate port: RPCs by method and code, RPC
// latency, write-queue depth, and per group commit its rows, the wait of
// its oldest row in the queue and the transaction's duration.
#ifndef CX_SHARED_METRICS_H_
#define CX_SHARED_METRICS_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include "absl/strings/string_view.h"

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "absl/status/statusor.h"
#include "shared/group_commit.h"

namespace cx::shared {

class ServiceMetrics {
 public:
  explicit ServiceMetrics(std::string service);

  // Serves /metrics on `listen` (host:port; port 0 picks one).
  absl::Status Serve(const std::string& listen);
  int port() const;

  void RecordRpc(absl::string_view method, int grpc_code, double seconds);
  void ObserveWriteBatch(const CommitObservation& seen);

  prometheus::Registry& registry() { return *registry_; }

 private:
  std::string service_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Gauge& queue_depth_;
  prometheus::Histogram& batch_rows_;
  prometheus::Histogram& queue_wait_;
  prometheus::Histogram& commit_duration_;
  std::mutex mu_;
  std::map<std::pair<std::string, int>, prometheus::Counter*, std::less<>> counters_;
  std::map<std::string, prometheus::Histogram*, std::less<>> histograms_;
};

}  // namespace cx::shared

#endif  // CX_SHARED_METRICS_H_
