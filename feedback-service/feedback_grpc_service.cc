#include "feedback-service/feedback_grpc_service.h"

namespace cx::feedback {
namespace {

using shared::kRoleAdmin;
using shared::kRoleIngest;
using shared::kRoleRead;
using shared::kRoleService;
using shared::Principal;
using shared::Reply;
using shared::RpcSpec;

// RPC -> roles allowed to call it (admin holds ingest and read).
constexpr RpcSpec kSubmit{"SubmitFeedback", kRoleIngest};
constexpr RpcSpec kBatchSubmit{"BatchSubmitFeedback", kRoleIngest};
constexpr RpcSpec kImport{"ImportFeedback", kRoleIngest};
constexpr RpcSpec kGet{"GetFeedback", kRoleRead};
constexpr RpcSpec kList{"ListFeedback", kRoleRead};
constexpr RpcSpec kListChanges{"ListChanges", kRoleRead | kRoleService};
constexpr RpcSpec kWatchChanges{"WatchChanges", kRoleRead | kRoleService};
constexpr RpcSpec kSetTopicRules{"SetTopicRules", kRoleAdmin};
constexpr RpcSpec kGetTopicRules{"GetTopicRules", kRoleRead};
constexpr RpcSpec kSetFollowUpRules{"SetFollowUpRules", kRoleAdmin};
constexpr RpcSpec kGetFollowUpRules{"GetFollowUpRules", kRoleRead};
constexpr RpcSpec kGetFollowUp{"GetFollowUp", kRoleRead};
constexpr RpcSpec kListFollowUps{"ListFollowUps", kRoleRead};
constexpr RpcSpec kUpdateFollowUp{"UpdateFollowUp", kRoleIngest};
constexpr RpcSpec kGetFollowUpStats{"GetFollowUpStats", kRoleRead};
constexpr RpcSpec kEraseCustomer{"EraseCustomer", kRoleAdmin};
constexpr RpcSpec kExportCustomerData{"ExportCustomerData", kRoleAdmin};

}  // namespace

std::vector<shared::RpcSpec> FeedbackRpcRoles() {
  return {
      kSubmit, kBatchSubmit, kImport, kGet, kList, kListChanges, kWatchChanges, kSetTopicRules,
      kGetTopicRules, kSetFollowUpRules, kGetFollowUpRules, kGetFollowUp, kListFollowUps, kUpdateFollowUp,
      kGetFollowUpStats, kEraseCustomer, kExportCustomerData};
}

grpc::ServerUnaryReactor* FeedbackGrpcService::SubmitFeedback(grpc::CallbackServerContext* ctx,
                                                              const grpc::ByteBuffer* req,
                                                              grpc::ByteBuffer* resp) {
  return shared::ServeUnary<v1::SubmitFeedbackRequest, v1::SubmitFeedbackResponse>(
      env_.get(), kSubmit, ctx, req, resp,
      [this](const Principal& p, v1::SubmitFeedbackRequest& r, Reply<v1::SubmitFeedbackResponse> reply) {
        manager_->Submit(p, r, std::move(reply));
      });
}

grpc::ServerUnaryReactor* FeedbackGrpcService::BatchSubmitFeedback(grpc::CallbackServerContext* ctx,
                                                                   const grpc::ByteBuffer* req,
                                                                   grpc::ByteBuffer* resp) {
  return shared::ServeUnary<v1::BatchSubmitFeedbackRequest, v1::BatchSubmitFeedbackResponse>(
      env_.get(), kBatchSubmit, ctx, req, resp,
      [this](const Principal& p, v1::BatchSubmitFeedbackRequest& r,
             Reply<v1::BatchSubmitFeedbackResponse> reply) { manager_->BatchSubmit(p, r, std::move(reply)); });
}

grpc::ServerReadReactor<grpc::ByteBuffer>* FeedbackGrpcService::ImportFeedback(grpc::CallbackServerContext* ctx,
                                                                               grpc::ByteBuffer* resp) {
  return new shared::ImportReactor<v1::ImportFeedbackRequest, v1::ImportFeedbackResponse>(
      env_.get(), kImport, ctx, resp, shared::ImportLimits{},
      [this](const Principal& p) { return manager_->StartImport(p); });
}

grpc::ServerUnaryReactor* FeedbackGrpcService::GetFeedback(grpc::CallbackServerContext* ctx,
                                                           const grpc::ByteBuffer* req, grpc::ByteBuffer* resp) {
  return shared::ServeUnary<v1::GetFeedbackRequest, v1::GetFeedbackResponse>(
      env_.get(), kGet, ctx, req, resp,
      [this](const Principal& p, v1::GetFeedbackRequest& r, Reply<v1::GetFeedbackResponse> reply) {
        reply(manager_->Get(p, r));
      });
}

grpc::ServerUnaryReactor* FeedbackGrpcService::ListFeedback(grpc::CallbackServerContext* ctx,
                                                            const grpc::ByteBuffer* req, grpc::ByteBuffer* resp) {
  return shared::ServeUnary<v1::ListFeedbackRequest, v1::ListFeedbackResponse>(
      env_.get(), kList, ctx, req, resp,
      [this](const Principal& p, v1::ListFeedbackRequest& r, Reply<v1::ListFeedbackResponse> reply) {
        reply(manager_->List(p, r));
      });
}

grpc::ServerUnaryReactor* FeedbackGrpcService::ListChanges(grpc::CallbackServerContext* ctx,
                                                           const grpc::ByteBuffer* req, grpc::ByteBuffer* resp) {
  return shared::ServeUnary<v1::ListChangesRequest, v1::ListChangesResponse>(
      env_.get(), kListChanges, ctx, req, resp,
      [this](const Principal& p, v1::ListChangesRequest& r, Reply<v1::ListChangesResponse> reply) {
        reply(manager_->ListChanges(p, r));
      });
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* FeedbackGrpcService::WatchChanges(grpc::CallbackServerContext* ctx,
                                                                              const grpc::ByteBuffer* req) {
  return shared::ServeWatch<v1::WatchChangesRequest>(
      env_.get(), kWatchChanges, ctx, req, hub_.get(),
      [this](const Principal& p, const v1::WatchChangesRequest& r) { return manager_->WatchScope(p, r); });
}

#define CX_FOLLOW_UP_UNARY(Method, Call) CX_SERVE_UNARY(FeedbackGrpcService, follow_ups_, Method, Call)
CX_FOLLOW_UP_UNARY(SetTopicRules, SetTopicRules)
CX_FOLLOW_UP_UNARY(GetTopicRules, GetTopicRules)
CX_FOLLOW_UP_UNARY(SetFollowUpRules, SetFollowUpRules)
CX_FOLLOW_UP_UNARY(GetFollowUpRules, GetFollowUpRules)
CX_FOLLOW_UP_UNARY(GetFollowUp, Get)
CX_FOLLOW_UP_UNARY(ListFollowUps, List)
CX_FOLLOW_UP_UNARY(UpdateFollowUp, Update)
CX_FOLLOW_UP_UNARY(GetFollowUpStats, Stats)
#undef CX_FOLLOW_UP_UNARY
CX_SERVE_UNARY(FeedbackGrpcService, manager_, EraseCustomer, EraseCustomer)
CX_SERVE_UNARY(FeedbackGrpcService, manager_, ExportCustomerData, ExportCustomerData)

}  // namespace cx::feedback
