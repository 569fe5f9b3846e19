#include "shared/feed_hub.h"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cx/feedback/v1/feedback_service.grpc.pb.h"
#include "shared/testing/test_util.h"

namespace cx::shared {
namespace {

using Hub = FeedHub<feedback::v1::FeedbackChange, feedback::v1::WatchChangesResponse>;

// With no WatchChanges stream open, a commit wakes no thread: the pump
// neither runs a round nor reads the feed. (Before, every commit woke it, so
// an ingest service with no watcher paid a thread wake-up per transaction.)
TEST(FeedHubTest, ACommitWithNoStreamOpenWakesNobody) {
  std::atomic<int> fetches{0};
  Hub hub(
      [&](const std::optional<std::string>&, int64_t, int) {
        ++fetches;
        return absl::StatusOr<std::vector<feedback::v1::FeedbackChange>>(
            std::vector<feedback::v1::FeedbackChange>());
      },
      [](const feedback::v1::FeedbackChange& c) { return c.sequence(); }, absl::Hours(1));
  for (int i = 0; i < 1000; ++i) hub.Notify();
  // Give a wrongly woken pump time to show up in the count.
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(hub.pump_rounds(), 0u);
  EXPECT_EQ(fetches.load(), 0);
  EXPECT_EQ(hub.open_streams(), 0u);
  hub.Stop();
}

// A server whose only method, WatchChanges, opens a stream on the hub.
class WatchOnlyService final
    : public feedback::v1::FeedbackService::WithRawCallbackMethod_WatchChanges<feedback::v1::FeedbackService::Service> {
 public:
  explicit WatchOnlyService(Hub* hub) : hub_(hub) {}
  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchChanges(grpc::CallbackServerContext*,
                                                           const grpc::ByteBuffer*) override {
    return hub_->Watch(std::nullopt, 0);
  }

 private:
  Hub* hub_;
};

// A commit announced while the pump is reading the feed for a stream (which
// may have read just before that commit) is not lost: the pump reads again
// at once, not at the next poll (an hour here).
TEST(FeedHubTest, ACommitDuringAReadForAStreamGetsAnotherRead) {
  std::mutex mu;
  std::condition_variable cv;
  int fetches = 0;
  bool release = false;
  auto wait_for_fetches = [&](int n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(30), [&] { return fetches >= n; });
  };
  Hub hub(
      [&](const std::optional<std::string>&, int64_t, int) {
        std::unique_lock<std::mutex> lock(mu);
        const int n = ++fetches;
        cv.notify_all();
        if (n == 2) cv.wait(lock, [&] { return release; });  // the read the commit lands in
        return absl::StatusOr<std::vector<feedback::v1::FeedbackChange>>(
            std::vector<feedback::v1::FeedbackChange>());
      },
      [](const feedback::v1::FeedbackChange& c) { return c.sequence(); }, absl::Hours(1));
  WatchOnlyService service(&hub);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);

  auto stub = feedback::v1::FeedbackService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  auto reader = stub->WatchChanges(&ctx, feedback::v1::WatchChangesRequest());
  ASSERT_TRUE(wait_for_fetches(1));  // the new stream's first read
  hub.Notify();                      // a commit: a second read starts and holds
  ASSERT_TRUE(wait_for_fetches(2));
  hub.Notify();  // another commit while the stream is being read
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  EXPECT_TRUE(wait_for_fetches(3)) << "the commit announced during the read was dropped";

  ctx.TryCancel();
  reader->Finish();
  hub.Stop();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

}  // namespace
}  // namespace cx::shared
