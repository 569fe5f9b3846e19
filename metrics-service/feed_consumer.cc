#include "metrics-service/feed_consumer.h"

#include <algorithm>
#include <random>
#include <vector>

#include "cx/feedback/v1/feedback_service.grpc.pb.h"
#include "cx/journey/v1/journey_service.grpc.pb.h"
#include "shared/client.h"
#include "shared/log.h"

namespace cx::metrics {

FeedConsumer::FeedConsumer(std::shared_ptr<FeedApplier> applier, FeedConsumerOptions options)
    : applier_(std::move(applier)), options_(std::move(options)) {}

void FeedConsumer::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_) return;
  started_ = true;
  if (!options_.feedback_endpoint.empty()) {
    threads_.emplace_back([this] {
      Follow<feedback::v1::FeedbackService::Stub, feedback::v1::WatchChangesRequest,
             feedback::v1::WatchChangesResponse>(
          kFeedbackFeed, options_.feedback_endpoint,
          [this](int64_t after, feedback::v1::WatchChangesResponse& r) {
            std::vector<feedback::v1::FeedbackChange> changes;  // moved out of the response, not copied
            changes.reserve(static_cast<size_t>(r.changes_size()));
            for (auto& c : *r.mutable_changes()) changes.push_back(std::move(c));
            return applier_->ApplyFeedback(after, changes);
          },
          &feedback_applied_);
    });
  }
  if (!options_.journey_endpoint.empty()) {
    threads_.emplace_back([this] {
      Follow<journey::v1::JourneyService::Stub, journey::v1::WatchChangesRequest, journey::v1::WatchChangesResponse>(
          kJourneyFeed, options_.journey_endpoint,
          [this](int64_t after, journey::v1::WatchChangesResponse& r) {
            std::vector<journey::v1::JourneyChange> changes;  // moved out of the response, not copied
            changes.reserve(static_cast<size_t>(r.changes_size()));
            for (auto& c : *r.mutable_changes()) changes.push_back(std::move(c));
            return applier_->ApplyJourney(after, changes);
          },
          &journey_applied_);
    });
  }
}

void FeedConsumer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    for (grpc::ClientContext* ctx : open_) ctx->TryCancel();
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

bool FeedConsumer::Wait(absl::Duration d) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, absl::ToChronoMilliseconds(d), [this] { return stopped_; });
  return !stopped_;
}

template <class Stub, class Request, class Response, class Apply>
void FeedConsumer::Follow(const std::string& feed, const std::string& endpoint, Apply apply,
                          std::atomic<int64_t>* applied) {
  std::mt19937_64 random(std::random_device{}());
  auto channel = grpc::CreateCustomChannel(
      endpoint, options_.credentials != nullptr ? options_.credentials : grpc::InsecureChannelCredentials(),
      shared::ClientChannelArguments());
  auto stub = std::make_unique<Stub>(channel);
  absl::Duration backoff = options_.min_backoff;
  while (true) {
    std::string error;
    auto cursor = applier_->Cursor(feed);
    if (cursor.ok()) {
      grpc::ClientContext ctx;
      ctx.AddMetadata("authorization", "Bearer " + options_.token);
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopped_) return;
        open_.push_back(&ctx);
      }
      Request request;
      request.set_after_sequence(*cursor);
      auto reader = stub->WatchChanges(&ctx, request);
      int64_t after = *cursor;
      Response response;
      while (reader->Read(&response)) {
        if (response.changes_size() == 0) continue;
        const int count = response.changes_size();
        const int64_t last = response.changes(count - 1).sequence();
        absl::Status s = apply(after, response);
        if (!s.ok()) {
          error = std::string(s.message());
          ctx.TryCancel();
          break;
        }
        after = last;
        applied->fetch_add(count);
        if (options_.on_applied) options_.on_applied(feed, count, after);
        backoff = options_.min_backoff;  // progress: the next failure starts over
      }
      grpc::Status status = reader->Finish();
      if (error.empty()) error = status.error_message();
      {
        std::lock_guard<std::mutex> lock(mu_);
        open_.erase(std::remove(open_.begin(), open_.end(), &ctx), open_.end());
      }
    } else {
      error = std::string(cursor.status().message());
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
    }
    if (options_.on_reconnect) options_.on_reconnect(feed);
    shared::LogWarning("feed interrupted; reconnecting",
                       {{"feed", feed}, {"error", error}, {"backoff_ms", std::to_string(absl::ToInt64Milliseconds(backoff))}});
    // Full jitter: wait uniformly up to the backoff, then double it.
    const double fraction = std::uniform_real_distribution<double>(0.5, 1.0)(random);
    if (!Wait(backoff * fraction)) return;
    backoff = std::min(options_.max_backoff, backoff * 2);
  }
}

}  // namespace cx::metrics
