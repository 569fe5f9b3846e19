#include "metrics-service/metrics_grpc_service.h"

namespace cx::metrics {
namespace {

using shared::kRoleAdmin;
using shared::kRoleRead;
using shared::Principal;
using shared::Reply;
using shared::RpcSpec;

// RPC -> roles allowed to call it (admin holds read).
constexpr RpcSpec kGetScore{"GetScore", kRoleRead};
constexpr RpcSpec kGetTrend{"GetTrend", kRoleRead};
constexpr RpcSpec kGetBreakdown{"GetBreakdown", kRoleRead};
constexpr RpcSpec kCompareScores{"CompareScores", kRoleRead};
constexpr RpcSpec kGetDrivers{"GetDrivers", kRoleRead};
constexpr RpcSpec kCreateAlertRule{"CreateAlertRule", kRoleAdmin};
constexpr RpcSpec kListAlertRules{"ListAlertRules", kRoleRead};
constexpr RpcSpec kDeleteAlertRule{"DeleteAlertRule", kRoleAdmin};
constexpr RpcSpec kListAlerts{"ListAlerts", kRoleRead};
constexpr RpcSpec kWatchAlerts{"WatchAlerts", kRoleRead};

}  // namespace

// Each unary RPC: the manager method of the same name, answered at once.
#define CX_METRICS_UNARY(Method)                                                              \
  grpc::ServerUnaryReactor* MetricsGrpcService::Method(Ctx* ctx, const Buf* req, Buf* resp) {            \
    return shared::ServeUnary<v1::Method##Request, v1::Method##Response>(                                \
        env_.get(), k##Method, ctx, req, resp,                                                           \
        [this](const Principal& p, v1::Method##Request& r, Reply<v1::Method##Response> reply) {          \
          reply(manager_->Method(p, r));                                                                 \
        });                                                                                              \
  }

CX_METRICS_UNARY(GetScore)
CX_METRICS_UNARY(GetTrend)
CX_METRICS_UNARY(GetBreakdown)
CX_METRICS_UNARY(CompareScores)
CX_METRICS_UNARY(GetDrivers)
CX_METRICS_UNARY(CreateAlertRule)
CX_METRICS_UNARY(ListAlertRules)
CX_METRICS_UNARY(DeleteAlertRule)
CX_METRICS_UNARY(ListAlerts)

#undef CX_METRICS_UNARY

grpc::ServerWriteReactor<grpc::ByteBuffer>* MetricsGrpcService::WatchAlerts(Ctx* ctx, const Buf* req) {
  return shared::ServeWatch<v1::WatchAlertsRequest>(env_.get(), kWatchAlerts, ctx, req, hub_.get(),
      [this](const Principal& p, const v1::WatchAlertsRequest& r) { return manager_->WatchAlertsScope(p, r); });
}

}  // namespace cx::metrics
