// The journey side of metrics-service: funnels, retention, churn, customer
// lifetime value, support metrics, customer health and next steps, answered
// from the JourneyIndex (never from raw rows). Request checks, the
// definitions and the arithmetic live here; no gRPC or SQL.
#ifndef CX_METRICS_JOURNEY_METRICS_H_
#define CX_METRICS_JOURNEY_METRICS_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cx/metrics/v1/metrics_service.pb.h"
#include "metrics-service/journey_index.h"
#include "shared/auth.h"
#include "shared/page_token.h"

namespace cx::metrics {

inline constexpr int kMaxFunnelSteps = 10;
inline constexpr int kMaxRetentionPeriods = 120;
inline constexpr int kMaxJourneyIntervals = 1000;
inline constexpr int kMaxHealthPage = 1000;

struct JourneyMetricsOptions {
  std::string page_token_key;
  // "Now" of retention (which periods have begun), churn risk and CLV.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // How long a segment's measured retention is reused by health answers.
  absl::Duration segment_value_ttl = absl::Seconds(60);
};

// Revenue of one group of customers over a period and the one before.
struct RevenueTotals {
  int64_t purchasers = 0;
  int64_t orders = 0;
  int64_t gross = 0;
  int64_t refunds = 0;
  int64_t base = 0;  // purchasers of the previous period
  int64_t kept = 0;  // ... that purchased again in this one
  void Add(const RevenueTotals& o);
};

// The inputs of a CLV besides the revenue.
struct ValueParams {
  double margin = 1;
  double discount = 0;
  double retention = 0;  // 0: measured
  double lifespan = 0;   // 0: 1 / (1 - r)
};

// The CustomerValue of `totals`, with r measured on `retention_source`.
v1::CustomerValue ValueOf(const std::string& scope, const RevenueTotals& totals,
                          const RevenueTotals& retention_source, const ValueParams& params);

class JourneyMetrics {
 public:
  JourneyMetrics(std::shared_ptr<JourneyIndex> index, JourneyMetricsOptions options);

  absl::StatusOr<v1::GetFunnelResponse> GetFunnel(const shared::Principal& p, const v1::GetFunnelRequest& r) const;
  absl::StatusOr<v1::GetRetentionResponse> GetRetention(const shared::Principal& p,
                                                        const v1::GetRetentionRequest& r) const;
  absl::StatusOr<v1::GetChurnResponse> GetChurn(const shared::Principal& p, const v1::GetChurnRequest& r) const;
  absl::StatusOr<v1::GetCustomerLifetimeValueResponse> GetCustomerLifetimeValue(
      const shared::Principal& p, const v1::GetCustomerLifetimeValueRequest& r) const;
  absl::StatusOr<v1::GetSupportMetricsResponse> GetSupportMetrics(const shared::Principal& p,
                                                                  const v1::GetSupportMetricsRequest& r) const;
  absl::StatusOr<v1::GetCustomerHealthResponse> GetCustomerHealth(const shared::Principal& p,
                                                                  const v1::GetCustomerHealthRequest& r) const;
  absl::StatusOr<v1::ListCustomerHealthResponse> ListCustomerHealth(const shared::Principal& p,
                                                                    const v1::ListCustomerHealthRequest& r) const;
  absl::StatusOr<v1::GetNextStepsResponse> GetNextSteps(const shared::Principal& p,
                                                        const v1::GetNextStepsRequest& r) const;
  // The tenant a WatchCustomerHealth stream reads.
  absl::StatusOr<std::optional<std::string>> WatchHealthScope(const shared::Principal& p,
                                                              const v1::WatchCustomerHealthRequest& r) const;
  // Health of a tenant's customers with version > after, ascending.
  std::vector<v1::CustomerHealth> HealthAfter(const std::string& tenant, int64_t after, int limit) const;

 private:
  v1::CustomerHealth HealthOf(const std::string& tenant, const TenantJourneys& t, int node, absl::Time now) const;
  RevenueTotals SegmentTotals(const std::string& tenant, const TenantJourneys& t, const std::string& segment,
                              uint32_t currency, int64_t from_us, int64_t to_us, absl::Time now) const;

  std::shared_ptr<JourneyIndex> index_;
  JourneyMetricsOptions options_;
  shared::PageTokenCodec tokens_;
  mutable std::mutex cache_mu_;
  mutable std::map<std::tuple<std::string, std::string, uint32_t>, std::pair<absl::Time, RevenueTotals>> cache_;
};

}  // namespace cx::metrics

#endif  // CX_METRICS_JOURNEY_METRICS_H_
