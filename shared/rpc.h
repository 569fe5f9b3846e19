// The thin gRPC edge shared by every service adapter: authenticate and
// authorize from the "authorization" metadata, parse the raw request (naming
// invalid UTF-8 fields), call the domain handler, map its absl::Status in
// one place, and record metrics. Adapters register raw callback methods and
// hand each call to ServeUnary / ImportReactor / FeedHub.
#ifndef CX_SHARED_RPC_H_
#define CX_SHARED_RPC_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "shared/auth.h"
#include "shared/import_session.h"
#include "shared/metrics.h"
#include "shared/rate_limit.h"
#include "shared/request_parser.h"
#include "shared/status.h"

namespace cx::shared {

// One row of a service's RPC -> role table.
struct RpcSpec {
  const char* method;
  unsigned roles;  // any of these
};

class RpcEnv {
 public:
  RpcEnv(std::shared_ptr<const TokenSource> tokens, std::shared_ptr<ServiceMetrics> metrics,
         RateLimitOptions rate_limit = {})
      : tokens_(std::move(tokens)), metrics_(std::move(metrics)),
        limiter_(std::make_unique<TenantRateLimiter>(rate_limit)) {}

  // The token's principal when it holds one of `roles` and its tenant is
  // within its request rate (UNAUTHENTICATED, PERMISSION_DENIED,
  // RESOURCE_EXHAUSTED otherwise).
  absl::StatusOr<Principal> Authorize(const grpc::CallbackServerContext* ctx, unsigned roles) const;
  void Record(const RpcSpec& spec, const absl::Status& status, absl::Time start) const;
  ServiceMetrics* metrics() const { return metrics_.get(); }

 private:
  std::shared_ptr<const TokenSource> tokens_;
  std::shared_ptr<ServiceMetrics> metrics_;
  std::unique_ptr<TenantRateLimiter> limiter_;
};

// Completes a unary call with a domain result.
template <class Resp>
using Reply = std::function<void(absl::StatusOr<Resp>)>;

// Serves one unary call. `handler(principal, request, reply)` may reply on
// any thread (for example after a group commit).
template <class Req, class Resp, class Handler>
grpc::ServerUnaryReactor* ServeUnary(const RpcEnv* env, const RpcSpec& spec,
                                     grpc::CallbackServerContext* ctx,
                                     const grpc::ByteBuffer* raw_request,
                                     grpc::ByteBuffer* raw_response, Handler&& handler) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  const absl::Time start = absl::Now();
  Reply<Resp> reply = [env, spec, reactor, raw_response, start](absl::StatusOr<Resp> result) {
    env->Record(spec, result.status(), start);
    if (!result.ok()) {
      reactor->Finish(ToGrpcStatus(result.status()));
      return;
    }
    *raw_response = SerializeResponse(*result);
    reactor->Finish(grpc::Status::OK);
  };
  auto principal = env->Authorize(ctx, spec.roles);
  if (!principal.ok()) {
    reply(principal.status());
    return reactor;
  }
  Req request;
  if (absl::Status parsed = ParseRequest(*raw_request, &request); !parsed.ok()) {
    reply(parsed);
    return reactor;
  }
  handler(*principal, request, std::move(reply));
  return reactor;
}

struct ImportLimits {
  size_t chunk_items = 500;
  int64_t max_items = 1'000'000;
};

// Reads a client stream of `Item` messages, hands chunks to the session and
// waits for each to commit before reading on (back-pressure), then answers
// with the session's summary.
template <class Item, class Summary>
class ImportReactor final : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  using SessionFactory = std::function<std::unique_ptr<ImportSession<Item, Summary>>(const Principal&)>;

  ImportReactor(const RpcEnv* env, const RpcSpec& spec, grpc::CallbackServerContext* ctx,
                grpc::ByteBuffer* raw_response, ImportLimits limits, const SessionFactory& factory)
      : env_(env), spec_(spec), raw_response_(raw_response), limits_(limits), start_(absl::Now()) {
    auto principal = env_->Authorize(ctx, spec_.roles);
    if (!principal.ok()) {
      Complete(principal.status());
      return;
    }
    session_ = factory(*principal);
    StartRead(&buffer_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // client half-closed: flush the last chunk
      Flush(/*last=*/true);
      return;
    }
    Item item;
    if (absl::Status parsed = ParseRequest(buffer_, &item); !parsed.ok()) {
      Complete(PrefixFields(parsed, absl::StrCat("stream[", received_, "].")));
      return;
    }
    if (++received_ > limits_.max_items) {
      Complete(InvalidField("stream", absl::StrCat("holds more than ", limits_.max_items, " items")));
      return;
    }
    chunk_.push_back(std::move(item));
    if (chunk_.size() >= limits_.chunk_items) {
      Flush(/*last=*/false);
    } else {
      StartRead(&buffer_);
    }
  }

  void OnDone() override { delete this; }

 private:
  void Flush(bool last) {
    if (chunk_.empty()) {
      if (last) Complete(session_->Finish());
      else StartRead(&buffer_);
      return;
    }
    int64_t first = received_ - static_cast<int64_t>(chunk_.size());
    std::vector<Item> chunk;
    chunk.swap(chunk_);
    session_->Process(std::move(chunk), first, [this, last](absl::Status status) {
      if (!status.ok()) {
        Complete(status);
      } else if (last) {
        Complete(session_->Finish());
      } else {
        StartRead(&buffer_);
      }
    });
  }

  void Complete(absl::StatusOr<Summary> result) {
    env_->Record(spec_, result.status(), start_);
    if (result.ok()) {
      *raw_response_ = SerializeResponse(*result);
      Finish(grpc::Status::OK);
    } else {
      Finish(ToGrpcStatus(result.status()));
    }
  }

  const RpcEnv* env_;
  RpcSpec spec_;
  grpc::ByteBuffer* raw_response_;
  ImportLimits limits_;
  absl::Time start_;
  std::unique_ptr<ImportSession<Item, Summary>> session_;
  grpc::ByteBuffer buffer_;
  std::vector<Item> chunk_;
  int64_t received_ = 0;
};

}  // namespace cx::shared

// Defines `Class::Method` as a unary adapter: the RpcSpec `k##Method`
// authorizes, and `owner->Call(principal, request)` answers at once. The
// class holds `env_`; `v1` names the service's proto namespace.
#define CX_SERVE_UNARY(Class, owner, Method, Call)                                                       \
  grpc::ServerUnaryReactor* Class::Method(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,  \
                                          grpc::ByteBuffer* resp) {                                       \
    return ::cx::shared::ServeUnary<v1::Method##Request, v1::Method##Response>(                          \
        env_.get(), k##Method, ctx, req, resp,                                                           \
        [this](const ::cx::shared::Principal& p, v1::Method##Request& r,                                 \
               ::cx::shared::Reply<v1::Method##Response> reply) { reply(owner->Call(p, r)); });          \
  }


#endif  // CX_SHARED_RPC_H_
