// The gRPC adapter of metrics-service: raw callback methods that hand each
// call to the shared edge (auth, parsing, status mapping, metrics) and the
// MetricsManager. The RPC -> role table is at the top of the .cc file.
#ifndef CX_METRICS_METRICS_GRPC_SERVICE_H_
#define CX_METRICS_METRICS_GRPC_SERVICE_H_

#include <memory>
#include <vector>

#include "cx/metrics/v1/metrics_service.grpc.pb.h"
#include "metrics-service/journey_metrics.h"
#include "metrics-service/metrics_manager.h"
#include "shared/feed_hub.h"
#include "shared/rpc.h"

namespace cx::shared {
// WatchAlertsResponse holds its items in `alerts`.
template <>
struct FeedItems<cx::metrics::v1::WatchAlertsResponse> {
  static auto* Mutable(cx::metrics::v1::WatchAlertsResponse& r) { return r.mutable_alerts(); }
};
// WatchCustomerHealthResponse holds its items in `customers`, and the
// request's cursor is `changed_since` (a health version).
template <>
struct FeedItems<cx::metrics::v1::WatchCustomerHealthResponse> {
  static auto* Mutable(cx::metrics::v1::WatchCustomerHealthResponse& r) { return r.mutable_customers(); }
};
template <>
struct WatchCursor<cx::metrics::v1::WatchCustomerHealthRequest> {
  static int64_t Of(const cx::metrics::v1::WatchCustomerHealthRequest& r) { return r.changed_since(); }
};
}  // namespace cx::shared

namespace cx::metrics {

using AlertHub = shared::FeedHub<v1::Alert, v1::WatchAlertsResponse>;
using HealthHub = shared::FeedHub<v1::CustomerHealth, v1::WatchCustomerHealthResponse>;

using RawMetricsService = v1::MetricsService::WithRawCallbackMethod_GetScore<
    v1::MetricsService::WithRawCallbackMethod_GetFunnel<
    v1::MetricsService::WithRawCallbackMethod_GetRetention<
    v1::MetricsService::WithRawCallbackMethod_GetChurn<
    v1::MetricsService::WithRawCallbackMethod_GetCustomerLifetimeValue<
    v1::MetricsService::WithRawCallbackMethod_GetSupportMetrics<
    v1::MetricsService::WithRawCallbackMethod_GetCustomerHealth<
    v1::MetricsService::WithRawCallbackMethod_ListCustomerHealth<
    v1::MetricsService::WithRawCallbackMethod_WatchCustomerHealth<
    v1::MetricsService::WithRawCallbackMethod_GetNextSteps<
    v1::MetricsService::WithRawCallbackMethod_GetTrend<
    v1::MetricsService::WithRawCallbackMethod_GetBreakdown<
    v1::MetricsService::WithRawCallbackMethod_CompareScores<
    v1::MetricsService::WithRawCallbackMethod_GetDrivers<
    v1::MetricsService::WithRawCallbackMethod_CreateAlertRule<
    v1::MetricsService::WithRawCallbackMethod_ListAlertRules<
    v1::MetricsService::WithRawCallbackMethod_DeleteAlertRule<
    v1::MetricsService::WithRawCallbackMethod_ListAlerts<
    v1::MetricsService::WithRawCallbackMethod_WatchAlerts<
    v1::MetricsService::Service>>>>>>>>>>>>>>>>>>>;

// Every RPC of the service with the roles it needs (any of them): the one
// table the edge checks, the README prints and the isolation test walks.
std::vector<shared::RpcSpec> MetricsRpcRoles();

class MetricsGrpcService final : public RawMetricsService {
 public:
  MetricsGrpcService(std::shared_ptr<MetricsManager> manager, std::shared_ptr<JourneyMetrics> journeys,
                     std::shared_ptr<AlertHub> hub, std::shared_ptr<HealthHub> health_hub,
                     std::shared_ptr<const shared::RpcEnv> env)
      : manager_(std::move(manager)), journeys_(std::move(journeys)), hub_(std::move(hub)),
        health_hub_(std::move(health_hub)), env_(std::move(env)) {}

  using Unary = grpc::ServerUnaryReactor;
  using Ctx = grpc::CallbackServerContext;
  using Buf = grpc::ByteBuffer;
  Unary* GetScore(Ctx* ctx, const Buf* req, Buf* resp) override;
  Unary* GetTrend(Ctx* ctx, const Buf* req, Buf* resp) override;
  Unary* GetBreakdown(Ctx* ctx, const Buf* req, Buf* resp) override;
  Unary* CompareScores(Ctx* ctx, const Buf* req, Buf* resp) override;
  Unary* GetDrivers(Ctx* ctx, const Buf* req, Buf* resp) override;
  Unary* CreateAlertRule(Ctx* ctx, const Buf* req, Buf* resp) override;
  Unary* ListAlertRules(Ctx* ctx, const Buf* req, Buf* resp) override;
  Unary* DeleteAlertRule(Ctx* ctx, const Buf* req, Buf* resp) override;
  Unary* ListAlerts(Ctx* ctx, const Buf* req, Buf* resp) override;
  grpc::ServerWriteReactor<Buf>* WatchAlerts(Ctx* ctx, const Buf* req) override;
  Unary* GetFunnel(Ctx* ctx, const Buf* req, Buf* resp) override;
  Unary* GetRetention(Ctx* ctx, const Buf* req, Buf* resp) override;
  Unary* GetChurn(Ctx* ctx, const Buf* req, Buf* resp) override;
  Unary* GetCustomerLifetimeValue(Ctx* ctx, const Buf* req, Buf* resp) override;
  Unary* GetSupportMetrics(Ctx* ctx, const Buf* req, Buf* resp) override;
  Unary* GetCustomerHealth(Ctx* ctx, const Buf* req, Buf* resp) override;
  Unary* ListCustomerHealth(Ctx* ctx, const Buf* req, Buf* resp) override;
  grpc::ServerWriteReactor<Buf>* WatchCustomerHealth(Ctx* ctx, const Buf* req) override;
  Unary* GetNextSteps(Ctx* ctx, const Buf* req, Buf* resp) override;

 private:
  std::shared_ptr<MetricsManager> manager_;
  std::shared_ptr<JourneyMetrics> journeys_;
  std::shared_ptr<AlertHub> hub_;
  std::shared_ptr<HealthHub> health_hub_;
  std::shared_ptr<const shared::RpcEnv> env_;
};

}  // namespace cx::metrics

#endif  // CX_METRICS_METRICS_GRPC_SERVICE_H_
