// SIGTERM under load against the real feedback-service binary: health turns
// NOT_SERVING while the listener is still open, every in-flight RPC
// completes, the process exits 0, and every acknowledged write is stored
// exactly once.
#include <signal.h>

#include <atomic>
#include <future>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "cx/feedback/v1/feedback_service.grpc.pb.h"
#include "feedback-service/sql_feedback_repository.h"
#include "shared/child_process.h"
#include "shared/testing/test_util.h"

namespace cx::feedback {
namespace {

namespace t = shared::testing;


TEST(SigtermTest, DrainsUnderLoadAndExitsZeroWithNothingLost) {
  auto dir = std::filesystem::temp_directory_path() / absl::StrCat("cx_sigterm_", getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "tokens") << t::TestTokensText();
  const std::string db = absl::StrCat("sqlite://", (dir / "feedback.db").string());
  shared::ChildProcess service(CX_FEEDBACK_SERVICE_BINARY,
                          {"--listen=127.0.0.1:0", "--db=" + db, "--tokens-file=" + (dir / "tokens").string(),
                           "--metrics-listen=", "--drain-grace-ms=1000", "--shutdown-timeout-ms=5000",
                           "--rate-limit-rps=0"});
  ASSERT_TRUE(service.Start());
  const int port = service.WaitForPort();
  ASSERT_GT(port, 0) << service.output();
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  ASSERT_EQ(t::HealthCheck(channel), 1);

  std::atomic<bool> stop_sending{false};
  std::atomic<int> failed{0};
  std::mutex mu;
  std::vector<std::string> acknowledged;
  std::vector<std::thread> clients;
  const absl::Time give_up = absl::Now() + absl::Seconds(30);  // bound the load in time
  for (int c = 0; c < 16; ++c) {
    clients.emplace_back([&, c] {
      auto stub = v1::FeedbackService::NewStub(
          grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(),
                                    grpc::ChannelArguments()));
      for (int i = 0; i < 100000 && !stop_sending && absl::Now() < give_up; ++i) {
        v1::SubmitFeedbackRequest req;
        req.set_request_id(absl::StrCat("c", c, "-", i));
        auto* f = req.mutable_feedback();
        f->set_customer_id("cust");
        f->set_kind(v1::FEEDBACK_KIND_CSAT);
        f->set_score(1 + i % 5);
        f->set_source(cx::common::v1::SOURCE_SUPPORT);
        f->set_channel(cx::common::v1::CHANNEL_CHAT);
        grpc::ClientContext ctx;
        ctx.AddMetadata("authorization", std::string("Bearer ") + t::kAcmeIngest);
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        v1::SubmitFeedbackResponse resp;
        grpc::Status s = stub->SubmitFeedback(&ctx, req, &resp);
        if (s.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          acknowledged.push_back(req.request_id());
        } else {
          ++failed;
          ADD_FAILURE() << "in-flight RPC failed: " << s.error_code() << " " << s.error_message();
        }
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(800));
  service.Signal(SIGTERM);
  // Like a load balancer: watch health, stop sending once it says NOT_SERVING.
  bool saw_not_serving = false;
  for (int i = 0; i < 400 && !saw_not_serving; ++i) {
    int h = t::HealthCheck(channel);
    ASSERT_NE(h, 0) << "the listener closed before health reported NOT_SERVING";
    saw_not_serving = (h == 2);
    if (!saw_not_serving) absl::SleepFor(absl::Milliseconds(5));
  }
  stop_sending = true;
  for (auto& th : clients) th.join();
  EXPECT_TRUE(saw_not_serving);
  auto exit_code = service.Wait(absl::Seconds(20));
  ASSERT_TRUE(exit_code.has_value()) << "did not exit";
  EXPECT_EQ(*exit_code, 0) << service.output();
  EXPECT_EQ(failed.load(), 0);
  ASSERT_GT(acknowledged.size(), 100u);

  // Every acknowledged write is in the database exactly once.
  auto pool = shared::db::OpenDatabase(db, "", 1);
  ASSERT_TRUE(pool.ok());
  auto repo = OpenFeedbackRepository(*pool);
  ASSERT_TRUE(repo.ok());
  std::map<std::string, int> stored;
  int64_t cursor = 0;
  while (true) {
    auto changes = (*repo)->ListChanges(std::nullopt, cursor, 1000);
    ASSERT_TRUE(changes.ok());
    if (changes->empty()) break;
    for (const auto& c : *changes) {
      // Follow-up cases the low scores open are changes of their own.
      if (c.has_feedback_created()) ++stored[c.feedback_created().request_id()];
      cursor = c.sequence();
    }
  }
  const size_t present = stored.size();  // before the lookups below add keys
  int lost = 0, duplicated = 0;
  for (const auto& id : acknowledged) {
    lost += stored[id] == 0;
    duplicated += stored[id] > 1;
  }
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(duplicated, 0);
  // "fault " lines are gathered into the test command's summary.
  std::cout << "fault SIGTERM under load (feedback-service): acknowledged=" << acknowledged.size()
            << " present=" << present << " lost=" << lost << " duplicated=" << duplicated
            << " failed in flight: " << failed.load() << ", exit status " << *exit_code << "\n";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cx::feedback
