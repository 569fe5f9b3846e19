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
constexpr RpcSpec kGetFunnel{"GetFunnel", kRoleRead};
constexpr RpcSpec kGetRetention{"GetRetention", kRoleRead};
constexpr RpcSpec kGetChurn{"GetChurn", kRoleRead};
constexpr RpcSpec kGetCustomerLifetimeValue{"GetCustomerLifetimeValue", kRoleRead};
constexpr RpcSpec kGetSupportMetrics{"GetSupportMetrics", kRoleRead};
constexpr RpcSpec kGetCustomerHealth{"GetCustomerHealth", kRoleRead};
constexpr RpcSpec kListCustomerHealth{"ListCustomerHealth", kRoleRead};
constexpr RpcSpec kWatchCustomerHealth{"WatchCustomerHealth", kRoleRead};
constexpr RpcSpec kGetNextSteps{"GetNextSteps", kRoleRead};

}  // namespace

std::vector<shared::RpcSpec> MetricsRpcRoles() {
  return {
      kGetScore, kGetTrend, kGetBreakdown, kCompareScores, kGetDrivers, kCreateAlertRule, kListAlertRules,
      kDeleteAlertRule, kListAlerts, kWatchAlerts, kGetFunnel, kGetRetention, kGetChurn,
      kGetCustomerLifetimeValue, kGetSupportMetrics, kGetCustomerHealth, kListCustomerHealth,
      kWatchCustomerHealth, kGetNextSteps};
}

// Each unary RPC: the method of the same name of the rollup manager or
// the journey metrics.
#define CX_METRICS_UNARY(Method) CX_SERVE_UNARY(MetricsGrpcService, manager_, Method, Method)
#define CX_JOURNEY_UNARY(Method) CX_SERVE_UNARY(MetricsGrpcService, journeys_, Method, Method)

CX_METRICS_UNARY(GetScore)
CX_METRICS_UNARY(GetTrend)
CX_METRICS_UNARY(GetBreakdown)
CX_METRICS_UNARY(CompareScores)
CX_METRICS_UNARY(GetDrivers)
CX_METRICS_UNARY(CreateAlertRule)
CX_METRICS_UNARY(ListAlertRules)
CX_METRICS_UNARY(DeleteAlertRule)
CX_METRICS_UNARY(ListAlerts)
CX_JOURNEY_UNARY(GetFunnel)
CX_JOURNEY_UNARY(GetRetention)
CX_JOURNEY_UNARY(GetChurn)
CX_JOURNEY_UNARY(GetCustomerLifetimeValue)
CX_JOURNEY_UNARY(GetSupportMetrics)
CX_JOURNEY_UNARY(GetCustomerHealth)
CX_JOURNEY_UNARY(ListCustomerHealth)
CX_JOURNEY_UNARY(GetNextSteps)

#undef CX_METRICS_UNARY
#undef CX_JOURNEY_UNARY

grpc::ServerWriteReactor<grpc::ByteBuffer>* MetricsGrpcService::WatchAlerts(Ctx* ctx, const Buf* req) {
  return shared::ServeWatch<v1::WatchAlertsRequest>(env_.get(), kWatchAlerts, ctx, req, hub_.get(),
      [this](const Principal& p, const v1::WatchAlertsRequest& r) { return manager_->WatchAlertsScope(p, r); });
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* MetricsGrpcService::WatchCustomerHealth(Ctx* ctx, const Buf* req) {
  return shared::ServeWatch<v1::WatchCustomerHealthRequest>(
      env_.get(), kWatchCustomerHealth, ctx, req, health_hub_.get(),
      [this](const Principal& p, const v1::WatchCustomerHealthRequest& r) { return journeys_->WatchHealthScope(p, r); });
}

}  // namespace cx::metrics
