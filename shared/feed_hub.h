// Serves WatchChanges streams for a change feed. One pump thread feeds every
// open stream: when a commit is announced (Notify) or the poll interval
// passes (commits by other replicas), each idle stream gets the next changes
// after its cursor. A stream is owned by one party at a time (the pump while
// it fetches and writes, gRPC while a write is in flight), so reactor
// callbacks never block and a cancelled stream is finished exactly once.
#ifndef CX_SHARED_FEED_HUB_H_
#define CX_SHARED_FEED_HUB_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "shared/request_parser.h"
#include "shared/rpc.h"
#include "shared/status.h"

namespace cx::shared {

// Where a stream response holds its items: `changes` unless specialised
// (e.g. metrics-service's WatchAlertsResponse holds `alerts`).
template <class Response>
struct FeedItems {
  static auto* Mutable(Response& r) { return r.mutable_changes(); }
};

// The cursor a watch request starts after: `after_sequence` unless
// specialised.
template <class Request>
struct WatchCursor {
  static int64_t Of(const Request& r) { return r.after_sequence(); }
};

template <class Change, class Response>
class FeedHub {
 public:
  // Changes with sequence > after, in order; all tenants when tenant is empty.
  using Fetch = std::function<absl::StatusOr<std::vector<Change>>(
      const std::optional<std::string>& tenant, int64_t after, int limit)>;
  // The sequence number of a change.
  using SequenceOf = std::function<int64_t(const Change&)>;

  FeedHub(Fetch fetch, SequenceOf sequence_of, absl::Duration poll_interval = absl::Milliseconds(200),
          int batch_limit = 500)
      : fetch_(std::move(fetch)), sequence_of_(std::move(sequence_of)),
        poll_interval_(poll_interval), batch_limit_(batch_limit) {
    pump_ = std::thread([this] { Pump(); });
  }

  ~FeedHub() { Stop(); }

  // A commit happened: the pump serves the open streams again. With no
  // stream open (the usual case for an ingest service) this wakes no thread,
  // and a round already due needs no second wake-up (it starts, clearing
  // dirty_, after this commit). A stream opened later wakes the pump itself.
  void Notify() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (watchers_.empty() || dirty_) return;
      dirty_ = true;
    }
    cv_.notify_one();
  }

  // Ends every stream with UNAVAILABLE (the client resumes from its cursor
  // elsewhere) and stops the pump. Called when the server drains.
  void Stop() {
    std::vector<Watcher*> to_finish;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      stopped_ = true;
      for (Watcher* w : watchers_) {
        if (w->state == State::kIdle) {
          w->state = State::kFinished;
          to_finish.push_back(w);
        } else {
          w->cancelled = true;
        }
      }
    }
    cv_.notify_all();
    if (pump_.joinable()) pump_.join();
    for (Watcher* w : to_finish) {
      w->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
    }
  }

  // Starts a stream of changes after `after` for `tenant` (empty: all).
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Watch(std::optional<std::string> tenant, int64_t after) {
    auto* w = new Watcher(this, std::move(tenant), after);
    bool stopped;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped = stopped_;
      if (!stopped) watchers_.insert(w);
      else w->state = State::kFinished;
    }
    if (stopped) {
      w->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
    } else {
      Notify();
    }
    return w;
  }

  // A stream that fails before it starts (bad token, bad argument).
  static grpc::ServerWriteReactor<grpc::ByteBuffer>* Reject(const absl::Status& status) {
    class Rejected final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
     public:
      explicit Rejected(const absl::Status& s) { Finish(ToGrpcStatus(s)); }
      void OnDone() override { delete this; }
    };
    return new Rejected(status);
  }

  size_t open_streams() const {
    std::lock_guard<std::mutex> lock(mu_);
    return watchers_.size();
  }

  // How many times the pump has woken to serve streams (tests).
  uint64_t pump_rounds() const {
    std::lock_guard<std::mutex> lock(mu_);
    return pump_rounds_;
  }

 private:
  enum class State { kIdle, kBusy, kFinished };

  class Watcher final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
   public:
    Watcher(FeedHub* hub, std::optional<std::string> tenant, int64_t cursor)
        : hub(hub), tenant(std::move(tenant)), cursor(cursor) {}

    void OnWriteDone(bool ok) override {
      bool finish = false;
      {
        std::lock_guard<std::mutex> lock(hub->mu_);
        if (!ok || cancelled) {
          state = State::kFinished;
          finish = true;
        } else {
          state = State::kIdle;
          hub->dirty_ = true;  // there may be more right away
        }
      }
      if (finish) {
        Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "stream ended"));
      } else {
        hub->cv_.notify_all();
      }
    }

    void OnCancel() override {
      bool finish = false;
      {
        std::lock_guard<std::mutex> lock(hub->mu_);
        cancelled = true;
        if (state == State::kIdle) {
          state = State::kFinished;
          finish = true;
        }
      }
      if (finish) Finish(grpc::Status::CANCELLED);
    }

    void OnDone() override {
      {
        std::lock_guard<std::mutex> lock(hub->mu_);
        hub->watchers_.erase(this);
      }
      delete this;
    }

    FeedHub* hub;
    std::optional<std::string> tenant;
    int64_t cursor;
    State state = State::kIdle;
    bool cancelled = false;
    grpc::ByteBuffer buffer;
  };

  void Pump() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopped_) {
      if (!dirty_) cv_.wait_for(lock, absl::ToChronoMilliseconds(poll_interval_));
      if (stopped_) break;
      dirty_ = false;
      ++pump_rounds_;
      std::vector<Watcher*> ready;
      for (Watcher* w : watchers_) {
        if (w->state == State::kIdle && !w->cancelled) {
          w->state = State::kBusy;  // the pump owns it now
          ready.push_back(w);
        }
      }
      lock.unlock();
      for (Watcher* w : ready) Serve(w);
      lock.lock();
    }
  }

  // Called by the pump on a watcher it owns.
  void Serve(Watcher* w) {
    auto changes = fetch_(w->tenant, w->cursor, batch_limit_);
    bool finish = false;
    bool write = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (w->cancelled) {
        w->state = State::kFinished;
        finish = true;
      } else if (!changes.ok() || changes->empty()) {
        w->state = State::kIdle;  // database down or nothing new: try again later
      } else {
        write = true;
      }
    }
    if (finish) {
      w->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "stream ended"));
      return;
    }
    if (!write) return;
    Response response;
    auto* items = FeedItems<Response>::Mutable(response);
    for (auto& c : *changes) *items->Add() = std::move(c);
    w->cursor = sequence_of_(items->Get(items->size() - 1));
    w->buffer = SerializeResponse(response);
    w->StartWrite(&w->buffer);
  }

  Fetch fetch_;
  SequenceOf sequence_of_;
  absl::Duration poll_interval_;
  int batch_limit_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::set<Watcher*> watchers_;
  bool dirty_ = false;
  bool stopped_ = false;
  uint64_t pump_rounds_ = 0;
  std::thread pump_;
};

// Serves one WatchChanges call: authorize, parse, let `scope_fn(principal,
// request)` check it and name the tenant scope, then hand the stream to the hub.
template <class Req, class Hub, class ScopeFn>
grpc::ServerWriteReactor<grpc::ByteBuffer>* ServeWatch(const RpcEnv* env, const RpcSpec& spec,
                                                       grpc::CallbackServerContext* ctx,
                                                       const grpc::ByteBuffer* raw_request, Hub* hub,
                                                       ScopeFn&& scope_fn) {
  const absl::Time start = absl::Now();
  auto principal = env->Authorize(ctx, spec.roles);
  absl::Status status = principal.status();
  Req request;
  if (status.ok()) status = ParseRequest(*raw_request, &request);
  absl::StatusOr<std::optional<std::string>> scope = status.ok() ? scope_fn(*principal, request) : status;
  env->Record(spec, scope.status(), start);
  if (!scope.ok()) return Hub::Reject(scope.status());
  return hub->Watch(*scope, WatchCursor<Req>::Of(request));
}

}  // namespace cx::shared

#endif  // CX_SHARED_FEED_HUB_H_
