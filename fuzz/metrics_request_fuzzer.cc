// libFuzzer target: every metrics-service query through its validation and
// MetricsManager / JourneyMetrics over a small fixed data set (a few
// feedback answers and journey events), on an in-memory SQLite store.
#include "fuzz/fuzz_util.h"
#include "google/protobuf/util/time_util.h"
#include "metrics-service/journey_index.h"
#include "metrics-service/journey_metrics.h"
#include "metrics-service/metrics_manager.h"
#include "metrics-service/rollup_index.h"
#include "metrics-service/sql_metrics_repository.h"
#include "shared/db/sql.h"

namespace cx::metrics {
namespace {

struct World {
  std::shared_ptr<MetricsManager> scores;
  std::shared_ptr<JourneyMetrics> journeys;
};

World& TheWorld() {
  static World* w = [] {
    auto* world = new World;
    auto pool = shared::db::OpenDatabase("sqlite::memory:", "", 1);
    if (!pool.ok()) __builtin_trap();
    auto repository = OpenMetricsRepository(*pool);
    if (!repository.ok()) __builtin_trap();
    auto index = std::make_shared<RollupIndex>();
    MetricsManagerOptions options;
    options.page_token_key = "fuzz";
    world->scores = std::make_shared<MetricsManager>(*repository, index, std::move(options));
    auto journey_index = std::make_shared<JourneyIndex>();
    JourneyMetricsOptions journey_options;
    journey_options.page_token_key = "fuzz";
    world->journeys = std::make_shared<JourneyMetrics>(journey_index, std::move(journey_options));
    return world;
  }();
  return *w;
}

}  // namespace
}  // namespace cx::metrics

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cx::metrics;
  namespace f = cx::fuzz;
  f::Input in;
  if (!f::Split(data, size, 19, &in)) return 0;
  World& w = TheWorld();
  const auto& p = in.who;
  auto& s = *w.scores;
  auto& j = *w.journeys;
  switch (in.method) {
    case 0: f::Serve<v1::GetScoreRequest>(in.wire, [&](const auto& r) { return s.GetScore(p, r); }); break;
    case 1: f::Serve<v1::GetTrendRequest>(in.wire, [&](const auto& r) { return s.GetTrend(p, r); }); break;
    case 2: f::Serve<v1::GetBreakdownRequest>(in.wire, [&](const auto& r) { return s.GetBreakdown(p, r); }); break;
    case 3: f::Serve<v1::CompareScoresRequest>(in.wire, [&](const auto& r) { return s.CompareScores(p, r); }); break;
    case 4: f::Serve<v1::GetDriversRequest>(in.wire, [&](const auto& r) { return s.GetDrivers(p, r); }); break;
    case 5:
      f::Serve<v1::CreateAlertRuleRequest>(in.wire, [&](const auto& r) { return s.CreateAlertRule(p, r); });
      break;
    case 6:
      f::Serve<v1::ListAlertRulesRequest>(in.wire, [&](const auto& r) { return s.ListAlertRules(p, r); });
      break;
    case 7:
      f::Serve<v1::DeleteAlertRuleRequest>(in.wire, [&](const auto& r) { return s.DeleteAlertRule(p, r); });
      break;
    case 8: f::Serve<v1::ListAlertsRequest>(in.wire, [&](const auto& r) { return s.ListAlerts(p, r); }); break;
    case 9:
      f::Serve<v1::WatchAlertsRequest>(in.wire, [&](const auto& r) { return s.WatchAlertsScope(p, r); });
      break;
    case 10: f::Serve<v1::GetFunnelRequest>(in.wire, [&](const auto& r) { return j.GetFunnel(p, r); }); break;
    case 11: f::Serve<v1::GetRetentionRequest>(in.wire, [&](const auto& r) { return j.GetRetention(p, r); }); break;
    case 12: f::Serve<v1::GetChurnRequest>(in.wire, [&](const auto& r) { return j.GetChurn(p, r); }); break;
    case 13:
      f::Serve<v1::GetCustomerLifetimeValueRequest>(in.wire,
                                                    [&](const auto& r) { return j.GetCustomerLifetimeValue(p, r); });
      break;
    case 14:
      f::Serve<v1::GetSupportMetricsRequest>(in.wire, [&](const auto& r) { return j.GetSupportMetrics(p, r); });
      break;
    case 15:
      f::Serve<v1::GetCustomerHealthRequest>(in.wire, [&](const auto& r) { return j.GetCustomerHealth(p, r); });
      break;
    case 16:
      f::Serve<v1::ListCustomerHealthRequest>(in.wire, [&](const auto& r) { return j.ListCustomerHealth(p, r); });
      break;
    case 17: f::Serve<v1::GetNextStepsRequest>(in.wire, [&](const auto& r) { return j.GetNextSteps(p, r); }); break;
    case 18:
      f::Serve<v1::WatchCustomerHealthRequest>(in.wire, [&](const auto& r) { return j.WatchHealthScope(p, r); });
      break;
  }
  return 0;
}
