// Follows the change feeds of feedback-service and journey-service over gRPC
// (WatchChanges with the `service` token) and hands every batch to the
// FeedApplier, which commits it with the feed's cursor. Each feed has its own
// thread; on any error (service down, stream ended, database unavailable) it
// waits with exponential backoff and jitter, reads the stored cursor again
// and reconnects from there, so a restart of either side resumes exactly.
#ifndef CX_METRICS_FEED_CONSUMER_H_
#define CX_METRICS_FEED_CONSUMER_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "metrics-service/feed_applier.h"

namespace cx::metrics {

struct FeedConsumerOptions {
  std::string feedback_endpoint;  // host:port; empty: do not follow
  std::string journey_endpoint;
  std::string token;  // a token with the `service` role
  std::shared_ptr<grpc::ChannelCredentials> credentials;  // TLS to the feeds; null: plaintext
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  // Optional observers (for /metrics): a batch of `changes` was applied and
  // the feed's cursor is now `cursor`; a stream broke and will reconnect.
  std::function<void(const std::string& feed, int64_t changes, int64_t cursor)> on_applied;
  std::function<void(const std::string& feed)> on_reconnect;
};

class FeedConsumer {
 public:
  FeedConsumer(std::shared_ptr<FeedApplier> applier, FeedConsumerOptions options);
  ~FeedConsumer() { Stop(); }

  void Start();
  // Cancels the open streams and joins the threads. Idempotent.
  void Stop();

  // Changes applied since start, per feed (for tests and /metrics).
  int64_t applied(const std::string& feed) const {
    return feed == kFeedbackFeed ? feedback_applied_.load() : journey_applied_.load();
  }

 private:
  template <class Stub, class Request, class Response, class Apply>
  void Follow(const std::string& feed, const std::string& endpoint, Apply apply, std::atomic<int64_t>* applied);
  // Sleeps up to `d` unless stopped; false when stopped.
  bool Wait(absl::Duration d);

  std::shared_ptr<FeedApplier> applier_;
  FeedConsumerOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  bool started_ = false;
  std::vector<grpc::ClientContext*> open_;
  std::vector<std::thread> threads_;
  std::atomic<int64_t> feedback_applied_{0};
  std::atomic<int64_t> journey_applied_{0};
};

}  // namespace cx::metrics

#endif  // CX_METRICS_FEED_CONSUMER_H_
