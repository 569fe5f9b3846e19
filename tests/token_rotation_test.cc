// Token rotation without a restart, against the real feedback-service
// binary: the tokens file is replaced (the way a Kubernetes Secret volume
// swaps it) or rewritten and signalled with SIGHUP; the old token stops
// working, the new one works, a broken file keeps the tokens in force, and
// the process id never changes.
#include <signal.h>

#include <filesystem>
#include <fstream>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "cx/feedback/v1/feedback_service.grpc.pb.h"
#include "shared/auth.h"
#include "shared/child_process.h"
#include "shared/testing/test_util.h"

namespace cx::feedback {
namespace {

namespace t = shared::testing;
using shared::Sha256Hex;

class TokenRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / absl::StrCat("cx_rotation_", getpid(), "_",
                                                                 ::testing::UnitTest::GetInstance()->random_seed());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes the file next to it and renames it over: what kubelet does.
  void ReplaceTokens(const std::string& text) {
    std::ofstream(dir_ / "tokens.new") << text;
    std::filesystem::rename(dir_ / "tokens.new", dir_ / "tokens");
  }

  std::unique_ptr<shared::ChildProcess> StartService(const std::string& poll_ms) {
    auto service = std::make_unique<shared::ChildProcess>(
        CX_FEEDBACK_SERVICE_BINARY,
        std::vector<std::string>{"--listen=127.0.0.1:0", "--db=sqlite::memory:",
                                 "--tokens-file=" + (dir_ / "tokens").string(), "--metrics-listen=",
                                 "--tokens-poll-ms=" + poll_ms, "--drain-grace-ms=0"});
    EXPECT_TRUE(service->Start());
    port_ = service->WaitForPort();
    EXPECT_GT(port_, 0) << service->output();
    stub_ = v1::FeedbackService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials()));
    return service;
  }

  grpc::StatusCode List(const std::string& token) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + token);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::ListFeedbackRequest req;
    v1::ListFeedbackResponse resp;
    return stub_->ListFeedback(&ctx, req, &resp).error_code();
  }

  // Polls (bounded) until `token` gets `code`.
  bool Eventually(const std::string& token, grpc::StatusCode code) {
    for (absl::Time end = absl::Now() + absl::Seconds(15); absl::Now() < end; absl::SleepFor(absl::Milliseconds(50))) {
      if (List(token) == code) return true;
    }
    return false;
  }

  std::filesystem::path dir_;
  int port_ = 0;
  std::unique_ptr<v1::FeedbackService::Stub> stub_;
};

TEST_F(TokenRotationTest, ReplacedFileIsPickedUpWithoutARestart) {
  ReplaceTokens(absl::StrCat(Sha256Hex("old-token"), " acme read\n"));
  auto service = StartService("100");
  const pid_t pid = service->pid();
  EXPECT_EQ(List("old-token"), grpc::StatusCode::OK);
  EXPECT_EQ(List("new-token"), grpc::StatusCode::UNAUTHENTICATED);

  ReplaceTokens(absl::StrCat(Sha256Hex("new-token"), " acme read\n"));
  EXPECT_TRUE(Eventually("old-token", grpc::StatusCode::UNAUTHENTICATED)) << service->output();
  EXPECT_EQ(List("new-token"), grpc::StatusCode::OK);

  // A file that does not parse keeps the tokens in force.
  ReplaceTokens("not a tokens line\n");
  ASSERT_TRUE(service->WaitForLine("tokens file not reloaded", absl::Seconds(15)).has_value()) << service->output();
  EXPECT_EQ(List("new-token"), grpc::StatusCode::OK);

  // Roles change too: the same token loses read.
  ReplaceTokens(absl::StrCat(Sha256Hex("new-token"), " acme ingest\n"));
  EXPECT_TRUE(Eventually("new-token", grpc::StatusCode::PERMISSION_DENIED)) << service->output();

  EXPECT_EQ(service->pid(), pid);
  service->Signal(SIGTERM);
  EXPECT_EQ(service->Wait(absl::Seconds(20)), 0);
  // Neither token nor its hash reaches the log.
  EXPECT_EQ(service->output().find("old-token"), std::string::npos);
  EXPECT_EQ(service->output().find(Sha256Hex("new-token")), std::string::npos);
}

TEST_F(TokenRotationTest, SighupReloadsWhenPollingIsOff) {
  ReplaceTokens(absl::StrCat(Sha256Hex("old-token"), " acme read\n"));
  auto service = StartService("0");
  EXPECT_EQ(List("old-token"), grpc::StatusCode::OK);

  ReplaceTokens(absl::StrCat(Sha256Hex("new-token"), " acme read\n"));
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(List("old-token"), grpc::StatusCode::OK) << "polling is off: nothing changes before SIGHUP";

  service->Signal(SIGHUP);
  EXPECT_TRUE(Eventually("old-token", grpc::StatusCode::UNAUTHENTICATED)) << service->output();
  EXPECT_EQ(List("new-token"), grpc::StatusCode::OK);
  service->Signal(SIGTERM);
  EXPECT_EQ(service->Wait(absl::Seconds(20)), 0) << "SIGHUP must not stop the server";
}

}  // namespace
}  // namespace cx::feedback
