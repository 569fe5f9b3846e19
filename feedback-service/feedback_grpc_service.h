// The gRPC adapter of feedback-service: raw callback methods that hand each
// call to the shared edge (auth, parsing, status mapping, metrics) and the
// FeedbackManager. The RPC -> role table is FeedbackRpcRoles().
#ifndef CX_FEEDBACK_FEEDBACK_GRPC_SERVICE_H_
#define CX_FEEDBACK_FEEDBACK_GRPC_SERVICE_H_

#include <memory>
#include <vector>

#include "cx/feedback/v1/feedback_service.grpc.pb.h"
#include "feedback-service/feedback_manager.h"
#include "feedback-service/follow_up_manager.h"
#include "shared/feed_hub.h"
#include "shared/rpc.h"

namespace cx::feedback {

using FeedbackFeedHub = shared::FeedHub<v1::FeedbackChange, v1::WatchChangesResponse>;

using RawFeedbackService = v1::FeedbackService::WithRawCallbackMethod_SubmitFeedback<
    v1::FeedbackService::WithRawCallbackMethod_BatchSubmitFeedback<
    v1::FeedbackService::WithRawCallbackMethod_ImportFeedback<
    v1::FeedbackService::WithRawCallbackMethod_GetFeedback<
    v1::FeedbackService::WithRawCallbackMethod_ListFeedback<
    v1::FeedbackService::WithRawCallbackMethod_ListChanges<
    v1::FeedbackService::WithRawCallbackMethod_WatchChanges<
    v1::FeedbackService::WithRawCallbackMethod_SetTopicRules<
    v1::FeedbackService::WithRawCallbackMethod_GetTopicRules<
    v1::FeedbackService::WithRawCallbackMethod_SetFollowUpRules<
    v1::FeedbackService::WithRawCallbackMethod_GetFollowUpRules<
    v1::FeedbackService::WithRawCallbackMethod_GetFollowUp<
    v1::FeedbackService::WithRawCallbackMethod_ListFollowUps<
    v1::FeedbackService::WithRawCallbackMethod_UpdateFollowUp<
    v1::FeedbackService::WithRawCallbackMethod_GetFollowUpStats<
    v1::FeedbackService::WithRawCallbackMethod_EraseCustomer<
    v1::FeedbackService::WithRawCallbackMethod_ExportCustomerData<
    v1::FeedbackService::Service>>>>>>>>>>>>>>>>>;

// Every RPC of the service with the roles it needs (any of them): the one
// table the edge checks, the README prints and the isolation test walks.
std::vector<shared::RpcSpec> FeedbackRpcRoles();

class FeedbackGrpcService final : public RawFeedbackService {
 public:
  FeedbackGrpcService(std::shared_ptr<FeedbackManager> manager, std::shared_ptr<FollowUpManager> follow_ups,
                      std::shared_ptr<FeedbackFeedHub> hub, std::shared_ptr<const shared::RpcEnv> env)
      : manager_(std::move(manager)), follow_ups_(std::move(follow_ups)), hub_(std::move(hub)), env_(std::move(env)) {}

  grpc::ServerUnaryReactor* SubmitFeedback(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                           grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* BatchSubmitFeedback(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                                grpc::ByteBuffer* resp) override;
  grpc::ServerReadReactor<grpc::ByteBuffer>* ImportFeedback(grpc::CallbackServerContext* ctx,
                                                            grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* GetFeedback(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                        grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* ListFeedback(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                         grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* ListChanges(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                        grpc::ByteBuffer* resp) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchChanges(grpc::CallbackServerContext* ctx,
                                                           const grpc::ByteBuffer* req) override;

  using Ctx = grpc::CallbackServerContext;
  using Buf = grpc::ByteBuffer;
  grpc::ServerUnaryReactor* SetTopicRules(Ctx* ctx, const Buf* req, Buf* resp) override;
  grpc::ServerUnaryReactor* GetTopicRules(Ctx* ctx, const Buf* req, Buf* resp) override;
  grpc::ServerUnaryReactor* SetFollowUpRules(Ctx* ctx, const Buf* req, Buf* resp) override;
  grpc::ServerUnaryReactor* GetFollowUpRules(Ctx* ctx, const Buf* req, Buf* resp) override;
  grpc::ServerUnaryReactor* GetFollowUp(Ctx* ctx, const Buf* req, Buf* resp) override;
  grpc::ServerUnaryReactor* ListFollowUps(Ctx* ctx, const Buf* req, Buf* resp) override;
  grpc::ServerUnaryReactor* UpdateFollowUp(Ctx* ctx, const Buf* req, Buf* resp) override;
  grpc::ServerUnaryReactor* GetFollowUpStats(Ctx* ctx, const Buf* req, Buf* resp) override;
  grpc::ServerUnaryReactor* EraseCustomer(Ctx* ctx, const Buf* req, Buf* resp) override;
  grpc::ServerUnaryReactor* ExportCustomerData(Ctx* ctx, const Buf* req, Buf* resp) override;

 private:
  std::shared_ptr<FeedbackManager> manager_;
  std::shared_ptr<FollowUpManager> follow_ups_;
  std::shared_ptr<FeedbackFeedHub> hub_;
  std::shared_ptr<const shared::RpcEnv> env_;
};

}  // namespace cx::feedback

#endif  // CX_FEEDBACK_FEEDBACK_GRPC_SERVICE_H_
