// The domain side of metrics-service: request checks, queries over the
// rollup index (never over raw feedback), alert rules, and alert evaluation.
// No gRPC or SQL here; answers are absl::StatusOr of the response messages.
#ifndef CX_METRICS_METRICS_MANAGER_H_
#define CX_METRICS_METRICS_MANAGER_H_

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cx/metrics/v1/metrics_service.pb.h"
#include "metrics-service/metrics_repository.h"
#include "metrics-service/rollup_index.h"
#include "shared/auth.h"
#include "shared/page_token.h"

namespace cx::metrics {

inline constexpr int kMaxTrendPoints = 1000;

struct MetricsManagerOptions {
  std::string page_token_key;
  // The evaluation time of alert rules (tests move it).
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // Called after an alert is stored (wakes WatchAlerts streams).
  std::function<void()> on_alert;
};

// The Score message of counters.
v1::Score ToScore(Metric metric, const Counts& counts);

class MetricsManager {
 public:
  MetricsManager(std::shared_ptr<MetricsRepository> repository, std::shared_ptr<RollupIndex> index,
                 MetricsManagerOptions options);

  absl::StatusOr<v1::GetScoreResponse> GetScore(const shared::Principal& p, const v1::GetScoreRequest& r) const;
  absl::StatusOr<v1::GetTrendResponse> GetTrend(const shared::Principal& p, const v1::GetTrendRequest& r) const;
  absl::StatusOr<v1::GetBreakdownResponse> GetBreakdown(const shared::Principal& p,
                                                        const v1::GetBreakdownRequest& r) const;
  absl::StatusOr<v1::CompareScoresResponse> CompareScores(const shared::Principal& p,
                                                          const v1::CompareScoresRequest& r) const;
  absl::StatusOr<v1::GetDriversResponse> GetDrivers(const shared::Principal& p, const v1::GetDriversRequest& r) const;

  absl::StatusOr<v1::CreateAlertRuleResponse> CreateAlertRule(const shared::Principal& p,
                                                              const v1::CreateAlertRuleRequest& r);
  absl::StatusOr<v1::ListAlertRulesResponse> ListAlertRules(const shared::Principal& p,
                                                            const v1::ListAlertRulesRequest& r) const;
  absl::StatusOr<v1::DeleteAlertRuleResponse> DeleteAlertRule(const shared::Principal& p,
                                                              const v1::DeleteAlertRuleRequest& r);
  absl::StatusOr<v1::ListAlertsResponse> ListAlerts(const shared::Principal& p, const v1::ListAlertsRequest& r) const;
  // The tenant a WatchAlerts stream reads.
  absl::StatusOr<std::optional<std::string>> WatchAlertsScope(const shared::Principal& p,
                                                              const v1::WatchAlertsRequest& r) const;

  // Evaluates the alert rules of `tenants` (every tenant when empty) at the
  // clock's time; stores an alert for each rule that newly breached.
  absl::Status EvaluateAlerts(const std::vector<std::string>& tenants);

 private:
  absl::Status EvaluateRule(const std::string& tenant, const v1::AlertRule& rule, absl::Time now);

  std::shared_ptr<MetricsRepository> repository_;
  std::shared_ptr<RollupIndex> index_;
  MetricsManagerOptions options_;
  shared::PageTokenCodec tokens_;
  std::mutex evaluate_mu_;
};

}  // namespace cx::metrics

#endif  // CX_METRICS_METRICS_MANAGER_H_
