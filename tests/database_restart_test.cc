// feedback-service on MariaDB survives a database restart: while the
// database is down health reads NOT_SERVING and writes fail with UNAVAILABLE
// (nothing acknowledged); once it is back the pool reconnects by itself,
// health returns to SERVING and writes succeed. Runs its own MariaDB.
#include <unistd.h>

#include <cstdlib>
#include <future>

#include <grpcpp/generic/generic_stub.h>

#include "absl/strings/str_cat.h"
#include "feedback-service/feedback_server.h"
#include "shared/testing/test_util.h"

namespace cx::feedback {
namespace {

namespace t = shared::testing;

bool WaitForHealth(const std::shared_ptr<grpc::Channel>& channel, int wanted) {
  for (int i = 0; i < 150; ++i) {  // up to 15 s
    if (t::HealthCheck(channel) == wanted) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return false;
}

grpc::Status Submit(v1::FeedbackService::Stub* stub, const std::string& id) {
  v1::SubmitFeedbackRequest req;
  req.set_request_id(id);
  auto* f = req.mutable_feedback();
  f->set_customer_id("c1");
  f->set_kind(v1::FEEDBACK_KIND_CES);
  f->set_score(6);
  f->set_source(cx::common::v1::SOURCE_SUPPORT);
  f->set_channel(cx::common::v1::CHANNEL_PHONE);
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", std::string("Bearer ") + t::kAcmeAdmin);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::SubmitFeedbackResponse resp;
  return stub->SubmitFeedback(&ctx, req, &resp);
}

TEST(DatabaseRestartTest, PoolReconnectsAndHealthFollowsTheDatabase) {
  t::OwnMariaDb db(CX_MARIADB_SCRIPT);
  ASSERT_TRUE(db.Run("start"));
  FeedbackServerOptions options;
  options.db_url = db.url();
  options.tokens = t::TestTokens();
  options.server.listen = "127.0.0.1:0";
  options.server.drain_grace = absl::ZeroDuration();
  options.server.health_probe_interval = absl::Milliseconds(100);
  auto server = FeedbackServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()), grpc::InsecureChannelCredentials());
  auto stub = v1::FeedbackService::NewStub(channel);
  ASSERT_EQ(t::HealthCheck(channel), 1);
  ASSERT_TRUE(Submit(stub.get(), "before").ok());

  ASSERT_TRUE(db.Run("stop"));
  EXPECT_TRUE(WaitForHealth(channel, 2)) << "health did not report NOT_SERVING with the database down";
  grpc::Status during = Submit(stub.get(), "during");
  EXPECT_EQ(during.error_code(), grpc::StatusCode::UNAVAILABLE) << during.error_message();

  ASSERT_TRUE(db.Run("resume"));
  EXPECT_TRUE(WaitForHealth(channel, 1)) << "health did not return to SERVING";
  grpc::Status after = grpc::Status(grpc::StatusCode::UNKNOWN, "not tried");
  for (int i = 0; i < 50 && !after.ok(); ++i) {  // the first call may meet a connection the server dropped
    after = Submit(stub.get(), "after");
    if (!after.ok()) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(after.ok()) << after.error_message();
  // The retried write with the failed request's key goes through now.
  EXPECT_TRUE(Submit(stub.get(), "during").ok());

  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", std::string("Bearer ") + t::kAcmeAdmin);
  v1::ListChangesResponse changes;
  ASSERT_TRUE(stub->ListChanges(&ctx, v1::ListChangesRequest(), &changes).ok());
  std::vector<std::string> ids;
  for (const auto& c : changes.changes()) ids.push_back(c.feedback_created().request_id());
  EXPECT_EQ(ids, (std::vector<std::string>{"before", "after", "during"}));
  (*server)->Shutdown();
}

}  // namespace
}  // namespace cx::feedback
