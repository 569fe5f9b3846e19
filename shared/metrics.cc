#include "shared/metrics.h"

#include "absl/strings/str_cat.h"
#include "shared/log.h"

namespace cx::shared {
namespace {

const char* CodeName(int code) {
  static const char* kNames[] = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
                                 "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
                                 "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
                                 "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
  return code >= 0 && code <= 16 ? kNames[code] : "UNKNOWN";
}

// From 100 us (an in-memory commit of a few rows) to 10 s (a database that
// stalls).
prometheus::Histogram::BucketBoundaries CommitBuckets() {
  return {0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10};
}

}  // namespace

ServiceMetrics::ServiceMetrics(std::string service)
    : service_(std::move(service)),
      registry_(std::make_shared<prometheus::Registry>()),
      requests_(prometheus::BuildCounter()
                    .Name("cx_grpc_requests_total")
                    .Help("gRPC requests by method and status code")
                    .Register(*registry_)),
      latency_(prometheus::BuildHistogram()
                   .Name("cx_grpc_request_duration_seconds")
                   .Help("gRPC request latency by method")
                   .Register(*registry_)),
      queue_depth_(prometheus::BuildGauge()
                       .Name("cx_write_queue_rows")
                       .Help("rows waiting in the group-commit queue")
                       .Register(*registry_)
                       .Add({{"service", service_}})),
      batch_rows_(prometheus::BuildHistogram()
                      .Name("cx_write_batch_rows")
                      .Help("rows committed per group-commit transaction")
                      .Register(*registry_)
                      .Add({{"service", service_}},
                           prometheus::Histogram::BucketBoundaries{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000})),
      queue_wait_(prometheus::BuildHistogram()
                      .Name("cx_write_queue_wait_seconds")
                      .Help("per group-commit transaction, how long its oldest row waited in the queue")
                      .Register(*registry_)
                      .Add({{"service", service_}}, CommitBuckets())),
      commit_duration_(prometheus::BuildHistogram()
                           .Name("cx_write_commit_seconds")
                           .Help("group-commit transaction duration, BEGIN to COMMIT, retries included")
                           .Register(*registry_)
                           .Add({{"service", service_}}, CommitBuckets())) {}

absl::Status ServiceMetrics::Serve(const std::string& listen) {
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(listen, 2);
    exposer_->RegisterCollectable(registry_);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", listen));
  }
  LogInfo("metrics listening", {{"address", listen}, {"port", absl::StrCat(port())}});
  return absl::OkStatus();
}

int ServiceMetrics::port() const {
  if (!exposer_) return 0;
  auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

void ServiceMetrics::RecordRpc(absl::string_view method, int grpc_code, double seconds) {
  prometheus::Counter* counter;
  prometheus::Histogram* histogram;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto key = std::make_pair(std::string(method), grpc_code);
    auto it = counters_.find(key);
    if (it == counters_.end()) {
      it = counters_.emplace(key, &requests_.Add({{"service", service_}, {"method", std::string(method)},
                                                  {"code", CodeName(grpc_code)}})).first;
    }
    counter = it->second;
    auto hit = histograms_.find(method);
    if (hit == histograms_.end()) {
      hit = histograms_.emplace(std::string(method),
                                &latency_.Add({{"service", service_}, {"method", std::string(method)}},
                                              prometheus::Histogram::BucketBoundaries{
                                                  0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1,
                                                  0.25, 0.5, 1, 2.5, 5, 10})).first;
    }
    histogram = hit->second;
  }
  counter->Increment();
  histogram->Observe(seconds);
}

void ServiceMetrics::ObserveWriteBatch(const CommitObservation& seen) {
  batch_rows_.Observe(static_cast<double>(seen.batch_rows));
  queue_depth_.Set(static_cast<double>(seen.queued_rows));
  queue_wait_.Observe(seen.wait_seconds);
  commit_duration_.Observe(seen.commit_seconds);
}

}  // namespace cx::shared
