// The gRPC adapter of journey-service: raw callback methods that hand each
// call to the shared edge (auth, parsing, status mapping, metrics) and the
// JourneyManager. The RPC -> role table is at the top of the .cc file.
#ifndef CX_JOURNEY_JOURNEY_GRPC_SERVICE_H_
#define CX_JOURNEY_JOURNEY_GRPC_SERVICE_H_

#include <memory>
#include <vector>

#include "cx/journey/v1/journey_service.grpc.pb.h"
#include "journey-service/journey_manager.h"
#include "shared/feed_hub.h"
#include "shared/rpc.h"

namespace cx::journey {

using JourneyFeedHub = shared::FeedHub<v1::JourneyChange, v1::WatchChangesResponse>;

using RawJourneyService = v1::JourneyService::WithRawCallbackMethod_UpsertCustomer<
    v1::JourneyService::WithRawCallbackMethod_GetCustomer<
    v1::JourneyService::WithRawCallbackMethod_LookupCustomer<
    v1::JourneyService::WithRawCallbackMethod_ListCustomers<
    v1::JourneyService::WithRawCallbackMethod_MergeCustomers<
    v1::JourneyService::WithRawCallbackMethod_UnmergeCustomers<
    v1::JourneyService::WithRawCallbackMethod_RecordEvent<
    v1::JourneyService::WithRawCallbackMethod_BatchRecordEvents<
    v1::JourneyService::WithRawCallbackMethod_ImportEvents<
    v1::JourneyService::WithRawCallbackMethod_SetStageMapping<
    v1::JourneyService::WithRawCallbackMethod_GetStageMapping<
    v1::JourneyService::WithRawCallbackMethod_GetJourney<
    v1::JourneyService::WithRawCallbackMethod_ListChanges<
    v1::JourneyService::WithRawCallbackMethod_WatchChanges<
    v1::JourneyService::WithRawCallbackMethod_EraseCustomer<
    v1::JourneyService::WithRawCallbackMethod_ExportCustomerData<
    v1::JourneyService::Service>>>>>>>>>>>>>>>>;

// Every RPC of the service with the roles it needs (any of them): the one
// table the edge checks, the README prints and the isolation test walks.
std::vector<shared::RpcSpec> JourneyRpcRoles();

class JourneyGrpcService final : public RawJourneyService {
 public:
  JourneyGrpcService(std::shared_ptr<JourneyManager> manager, std::shared_ptr<JourneyFeedHub> hub,
                     std::shared_ptr<const shared::RpcEnv> env)
      : manager_(std::move(manager)), hub_(std::move(hub)), env_(std::move(env)) {}

  grpc::ServerUnaryReactor* UpsertCustomer(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
      grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* GetCustomer(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
      grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* LookupCustomer(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
      grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* ListCustomers(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
      grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* MergeCustomers(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
      grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* UnmergeCustomers(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
      grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* RecordEvent(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
      grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* BatchRecordEvents(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
      grpc::ByteBuffer* resp) override;
  grpc::ServerReadReactor<grpc::ByteBuffer>* ImportEvents(grpc::CallbackServerContext* ctx,
      grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* SetStageMapping(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
      grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* GetStageMapping(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
      grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* GetJourney(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
      grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* ListChanges(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
      grpc::ByteBuffer* resp) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchChanges(grpc::CallbackServerContext* ctx,
      const grpc::ByteBuffer* req) override;
  grpc::ServerUnaryReactor* EraseCustomer(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
      grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* ExportCustomerData(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
      grpc::ByteBuffer* resp) override;

 private:
  std::shared_ptr<JourneyManager> manager_;
  std::shared_ptr<JourneyFeedHub> hub_;
  std::shared_ptr<const shared::RpcEnv> env_;
};

}  // namespace cx::journey

#endif  // CX_JOURNEY_JOURNEY_GRPC_SERVICE_H_
