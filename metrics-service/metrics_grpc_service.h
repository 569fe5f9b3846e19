// The gRPC adapter of metrics-service: raw callback methods that hand each
// call to the shared edge (auth, parsing, status mapping, metrics) and the
// MetricsManager. The RPC -> role table is at the top of the .cc file.
#ifndef CX_METRICS_METRICS_GRPC_SERVICE_H_
#define CX_METRICS_METRICS_GRPC_SERVICE_H_

#include <memory>

#include "cx/metrics/v1/metrics_service.grpc.pb.h"
#include "metrics-service/metrics_manager.h"
#include "shared/feed_hub.h"
#include "shared/rpc.h"

namespace cx::shared {
// WatchAlertsResponse holds its items in `alerts`.
template <>
struct FeedItems<cx::metrics::v1::WatchAlertsResponse> {
  static auto* Mutable(cx::metrics::v1::WatchAlertsResponse& r) { return r.mutable_alerts(); }
};
}  // namespace cx::shared

namespace cx::metrics {

using AlertHub = shared::FeedHub<v1::Alert, v1::WatchAlertsResponse>;

using RawMetricsService = v1::MetricsService::WithRawCallbackMethod_GetScore<
    v1::MetricsService::WithRawCallbackMethod_GetTrend<
    v1::MetricsService::WithRawCallbackMethod_GetBreakdown<
    v1::MetricsService::WithRawCallbackMethod_CompareScores<
    v1::MetricsService::WithRawCallbackMethod_GetDrivers<
    v1::MetricsService::WithRawCallbackMethod_CreateAlertRule<
    v1::MetricsService::WithRawCallbackMethod_ListAlertRules<
    v1::MetricsService::WithRawCallbackMethod_DeleteAlertRule<
    v1::MetricsService::WithRawCallbackMethod_ListAlerts<
    v1::MetricsService::WithRawCallbackMethod_WatchAlerts<
    v1::MetricsService::Service>>>>>>>>>>;

class MetricsGrpcService final : public RawMetricsService {
 public:
  MetricsGrpcService(std::shared_ptr<MetricsManager> manager, std::shared_ptr<AlertHub> hub,
                     std::shared_ptr<const shared::RpcEnv> env)
      : manager_(std::move(manager)), hub_(std::move(hub)), env_(std::move(env)) {}

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

 private:
  std::shared_ptr<MetricsManager> manager_;
  std::shared_ptr<AlertHub> hub_;
  std::shared_ptr<const shared::RpcEnv> env_;
};

}  // namespace cx::metrics

#endif  // CX_METRICS_METRICS_GRPC_SERVICE_H_
