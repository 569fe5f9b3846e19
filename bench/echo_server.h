// The bare echo service every benchmark compares to, served by the same
// shared ServerRunner (callback API) as the CX services.
#ifndef CX_BENCH_ECHO_SERVER_H_
#define CX_BENCH_ECHO_SERVER_H_

#include "cx/bench/v1/echo_service.grpc.pb.h"

namespace cx::bench {

class EchoServiceImpl final : public v1::EchoService::CallbackService {
 public:
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* ctx, const v1::EchoRequest* request,
                                 v1::EchoResponse* response) override {
    response->set_payload(request->payload());
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

}  // namespace cx::bench

#endif  // CX_BENCH_ECHO_SERVER_H_
