#include "journey-service/journey_grpc_service.h"

namespace cx::journey {
namespace {

using shared::kRoleAdmin;
using shared::kRoleIngest;
using shared::kRoleRead;
using shared::kRoleService;
using shared::Principal;
using shared::Reply;
using shared::RpcSpec;

// RPC -> roles allowed to call it (admin holds ingest and read).
constexpr RpcSpec kUpsertCustomer{"UpsertCustomer", kRoleIngest};
constexpr RpcSpec kGetCustomer{"GetCustomer", kRoleRead};
constexpr RpcSpec kLookupCustomer{"LookupCustomer", kRoleRead};
constexpr RpcSpec kListCustomers{"ListCustomers", kRoleRead};
constexpr RpcSpec kMergeCustomers{"MergeCustomers", kRoleIngest};
constexpr RpcSpec kUnmergeCustomers{"UnmergeCustomers", kRoleAdmin};
constexpr RpcSpec kRecordEvent{"RecordEvent", kRoleIngest};
constexpr RpcSpec kBatchRecordEvents{"BatchRecordEvents", kRoleIngest};
constexpr RpcSpec kImportEvents{"ImportEvents", kRoleIngest};
constexpr RpcSpec kSetStageMapping{"SetStageMapping", kRoleAdmin};
constexpr RpcSpec kGetStageMapping{"GetStageMapping", kRoleRead};
constexpr RpcSpec kGetJourney{"GetJourney", kRoleRead};
constexpr RpcSpec kListChanges{"ListChanges", kRoleRead | kRoleService};
constexpr RpcSpec kWatchChanges{"WatchChanges", kRoleRead | kRoleService};
constexpr RpcSpec kEraseCustomer{"EraseCustomer", kRoleAdmin};
constexpr RpcSpec kExportCustomerData{"ExportCustomerData", kRoleAdmin};

}  // namespace

std::vector<shared::RpcSpec> JourneyRpcRoles() {
  return {
      kUpsertCustomer, kGetCustomer, kLookupCustomer, kListCustomers, kMergeCustomers, kUnmergeCustomers,
      kRecordEvent, kBatchRecordEvents, kImportEvents, kSetStageMapping, kGetStageMapping, kGetJourney,
      kListChanges, kWatchChanges, kEraseCustomer, kExportCustomerData};
}

grpc::ServerUnaryReactor* JourneyGrpcService::UpsertCustomer(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                                grpc::ByteBuffer* resp) {
  return shared::ServeUnary<v1::UpsertCustomerRequest, v1::UpsertCustomerResponse>(
      env_.get(), kUpsertCustomer, ctx, req, resp,
      [this](const Principal& p, v1::UpsertCustomerRequest& r, Reply<v1::UpsertCustomerResponse> reply) { reply(manager_->UpsertCustomer(p, r)); });
}

grpc::ServerUnaryReactor* JourneyGrpcService::GetCustomer(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                                grpc::ByteBuffer* resp) {
  return shared::ServeUnary<v1::GetCustomerRequest, v1::GetCustomerResponse>(
      env_.get(), kGetCustomer, ctx, req, resp,
      [this](const Principal& p, v1::GetCustomerRequest& r, Reply<v1::GetCustomerResponse> reply) { reply(manager_->GetCustomer(p, r)); });
}

grpc::ServerUnaryReactor* JourneyGrpcService::LookupCustomer(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                                grpc::ByteBuffer* resp) {
  return shared::ServeUnary<v1::LookupCustomerRequest, v1::LookupCustomerResponse>(
      env_.get(), kLookupCustomer, ctx, req, resp,
      [this](const Principal& p, v1::LookupCustomerRequest& r, Reply<v1::LookupCustomerResponse> reply) { reply(manager_->LookupCustomer(p, r)); });
}

grpc::ServerUnaryReactor* JourneyGrpcService::ListCustomers(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                                grpc::ByteBuffer* resp) {
  return shared::ServeUnary<v1::ListCustomersRequest, v1::ListCustomersResponse>(
      env_.get(), kListCustomers, ctx, req, resp,
      [this](const Principal& p, v1::ListCustomersRequest& r, Reply<v1::ListCustomersResponse> reply) { reply(manager_->ListCustomers(p, r)); });
}

grpc::ServerUnaryReactor* JourneyGrpcService::MergeCustomers(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                                grpc::ByteBuffer* resp) {
  return shared::ServeUnary<v1::MergeCustomersRequest, v1::MergeCustomersResponse>(
      env_.get(), kMergeCustomers, ctx, req, resp,
      [this](const Principal& p, v1::MergeCustomersRequest& r, Reply<v1::MergeCustomersResponse> reply) { reply(manager_->MergeCustomers(p, r)); });
}

grpc::ServerUnaryReactor* JourneyGrpcService::UnmergeCustomers(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                                grpc::ByteBuffer* resp) {
  return shared::ServeUnary<v1::UnmergeCustomersRequest, v1::UnmergeCustomersResponse>(
      env_.get(), kUnmergeCustomers, ctx, req, resp,
      [this](const Principal& p, v1::UnmergeCustomersRequest& r, Reply<v1::UnmergeCustomersResponse> reply) { reply(manager_->UnmergeCustomers(p, r)); });
}

grpc::ServerUnaryReactor* JourneyGrpcService::RecordEvent(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                                grpc::ByteBuffer* resp) {
  return shared::ServeUnary<v1::RecordEventRequest, v1::RecordEventResponse>(
      env_.get(), kRecordEvent, ctx, req, resp,
      [this](const Principal& p, v1::RecordEventRequest& r, Reply<v1::RecordEventResponse> reply) {
        manager_->RecordEvent(p, r, std::move(reply));
      });
}

grpc::ServerUnaryReactor* JourneyGrpcService::BatchRecordEvents(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                                grpc::ByteBuffer* resp) {
  return shared::ServeUnary<v1::BatchRecordEventsRequest, v1::BatchRecordEventsResponse>(
      env_.get(), kBatchRecordEvents, ctx, req, resp,
      [this](const Principal& p, v1::BatchRecordEventsRequest& r, Reply<v1::BatchRecordEventsResponse> reply) {
        manager_->BatchRecordEvents(p, r, std::move(reply));
      });
}

grpc::ServerReadReactor<grpc::ByteBuffer>* JourneyGrpcService::ImportEvents(grpc::CallbackServerContext* ctx,
                                                                           grpc::ByteBuffer* resp) {
  return new shared::ImportReactor<v1::ImportEventsRequest, v1::ImportEventsResponse>(
      env_.get(), kImportEvents, ctx, resp, shared::ImportLimits{}, [this](const Principal& p) { return manager_->StartImport(p); });
}

grpc::ServerUnaryReactor* JourneyGrpcService::SetStageMapping(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                                grpc::ByteBuffer* resp) {
  return shared::ServeUnary<v1::SetStageMappingRequest, v1::SetStageMappingResponse>(
      env_.get(), kSetStageMapping, ctx, req, resp,
      [this](const Principal& p, v1::SetStageMappingRequest& r, Reply<v1::SetStageMappingResponse> reply) { reply(manager_->SetStageMapping(p, r)); });
}

grpc::ServerUnaryReactor* JourneyGrpcService::GetStageMapping(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                                grpc::ByteBuffer* resp) {
  return shared::ServeUnary<v1::GetStageMappingRequest, v1::GetStageMappingResponse>(
      env_.get(), kGetStageMapping, ctx, req, resp,
      [this](const Principal& p, v1::GetStageMappingRequest& r, Reply<v1::GetStageMappingResponse> reply) { reply(manager_->GetStageMapping(p, r)); });
}

grpc::ServerUnaryReactor* JourneyGrpcService::GetJourney(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                                grpc::ByteBuffer* resp) {
  return shared::ServeUnary<v1::GetJourneyRequest, v1::GetJourneyResponse>(
      env_.get(), kGetJourney, ctx, req, resp,
      [this](const Principal& p, v1::GetJourneyRequest& r, Reply<v1::GetJourneyResponse> reply) { reply(manager_->GetJourney(p, r)); });
}

grpc::ServerUnaryReactor* JourneyGrpcService::ListChanges(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                                grpc::ByteBuffer* resp) {
  return shared::ServeUnary<v1::ListChangesRequest, v1::ListChangesResponse>(
      env_.get(), kListChanges, ctx, req, resp,
      [this](const Principal& p, v1::ListChangesRequest& r, Reply<v1::ListChangesResponse> reply) { reply(manager_->ListChanges(p, r)); });
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* JourneyGrpcService::WatchChanges(grpc::CallbackServerContext* ctx,
                                                                            const grpc::ByteBuffer* req) {
  return shared::ServeWatch<v1::WatchChangesRequest>(env_.get(), kWatchChanges, ctx, req, hub_.get(),
      [this](const Principal& p, const v1::WatchChangesRequest& r) { return manager_->WatchScope(p, r); });
}

CX_SERVE_UNARY(JourneyGrpcService, manager_, EraseCustomer, EraseCustomer)
CX_SERVE_UNARY(JourneyGrpcService, manager_, ExportCustomerData, ExportCustomerData)

}  // namespace cx::journey
