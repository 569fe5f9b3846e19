// TLS and mTLS on real sockets: a TLS feedback-service refuses a plaintext
// client; with --tls-client-ca it refuses a client without a certificate and
// serves one with a certificate its CA signed; metrics-service follows a
// feed over mTLS presenting its client certificate; the plaintext health
// listener answers the probes' question and nothing else; the liveness name
// stays SERVING while the database is unreachable. Certificates are made
// for the test with the openssl command.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "cx/feedback/v1/feedback_service.grpc.pb.h"
#include "cx/metrics/v1/metrics_service.grpc.pb.h"
#include "feedback-service/feedback_server.h"
#include "metrics-service/metrics_server.h"
#include "shared/proto_util.h"
#include "shared/server_runner.h"
#include "shared/testing/test_util.h"
#include "shared/tls.h"

namespace cx {
namespace {

namespace t = shared::testing;
namespace fs = std::filesystem;

// A CA, a server certificate for 127.0.0.1 and a client certificate, in a
// fresh directory.
class Certificates {
 public:
  Certificates() : dir_(fs::temp_directory_path() / absl::StrCat("cx-tls-", getpid(), "-", rand())) {
    fs::create_directories(dir_);
    std::ofstream(dir_ / "server.ext") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
    std::ofstream(dir_ / "client.ext") << "extendedKeyUsage=clientAuth\n";
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string script = absl::StrCat(
        "cd '", dir_.string(), "' && ",
        "openssl req -x509 ", ec, " -keyout ca.key -out ca.crt -days 2 -subj /CN=cx-test-ca && ",
        "openssl req ", ec, " -keyout server.key -out server.csr -subj /CN=cx-test-server && ",
        "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.crt && ",
        "openssl req ", ec, " -keyout client.key -out client.csr -subj /CN=metrics-service && ",
        "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile client.ext -out client.crt && ",
        // A second CA whose certificates the servers must not accept.
        "openssl req -x509 ", ec, " -keyout other-ca.key -out other-ca.crt -days 2 -subj /CN=other-ca && ",
        "openssl req ", ec, " -keyout other.key -out other.csr -subj /CN=intruder && ",
        "openssl x509 -req -in other.csr -CA other-ca.crt -CAkey other-ca.key -CAcreateserial -days 2 -extfile client.ext -out other.crt",
        " >openssl.log 2>&1");
    ok_ = std::system(script.c_str()) == 0;
  }
  ~Certificates() { fs::remove_all(dir_); }
  bool ok() const { return ok_; }
  std::string operator[](const std::string& name) const { return (dir_ / name).string(); }

 private:
  fs::path dir_;
  bool ok_ = false;
};

shared::ServiceOptions Options() {
  shared::ServiceOptions options;
  options.db_url = "sqlite::memory:";
  options.tokens = t::TestTokens();
  options.server.listen = "127.0.0.1:0";
  options.server.drain_grace = absl::ZeroDuration();
  options.page_token_key = "k";
  return options;
}

std::shared_ptr<grpc::Channel> Channel(int port, const shared::ClientTlsFiles& tls) {
  auto credentials = shared::MakeChannelCredentials(tls);
  EXPECT_TRUE(credentials.ok()) << credentials.status();
  return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), *credentials);
}

grpc::Status Submit(const std::shared_ptr<grpc::Channel>& channel, const std::string& request_id) {
  auto stub = feedback::v1::FeedbackService::NewStub(channel);
  feedback::v1::SubmitFeedbackRequest request;
  request.set_request_id(request_id);
  auto* f = request.mutable_feedback();
  f->set_customer_id("c-1");
  f->set_kind(feedback::v1::FEEDBACK_KIND_NPS);
  f->set_score(10);
  f->set_source(common::v1::SOURCE_SURVEY);
  f->set_channel(common::v1::CHANNEL_WEB);
  *f->mutable_occurred_at() = shared::ToProtoTime(absl::Now() - absl::Minutes(5));
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", absl::StrCat("Bearer ", t::kAcmeIngest));
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  feedback::v1::SubmitFeedbackResponse response;
  return stub->SubmitFeedback(&ctx, request, &response);
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(certs_.ok()) << "openssl could not make the test certificates"; }

  std::unique_ptr<feedback::FeedbackServer> StartFeedback(bool mutual, const std::string& health_listen = "") {
    auto options = Options();
    options.server.tls = {certs_["server.crt"], certs_["server.key"], mutual ? certs_["ca.crt"] : ""};
    options.server.health_listen = health_listen;
    auto server = feedback::FeedbackServer::Start(options);
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? *std::move(server) : nullptr;
  }

  Certificates certs_;
};

TEST_F(TlsTest, TlsServerServesTlsClientsAndRefusesPlaintext) {
  auto server = StartFeedback(/*mutual=*/false);
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(Submit(Channel(server->port(), {certs_["ca.crt"], "", ""}), "tls-1").ok());
  grpc::Status plaintext = Submit(Channel(server->port(), {}), "plain-1");
  EXPECT_EQ(plaintext.error_code(), grpc::StatusCode::UNAVAILABLE) << plaintext.error_message();
  // A client that does not trust the server's CA is refused too.
  grpc::Status untrusted = Submit(Channel(server->port(), {certs_["other-ca.crt"], "", ""}), "untrusted-1");
  EXPECT_EQ(untrusted.error_code(), grpc::StatusCode::UNAVAILABLE) << untrusted.error_message();
}

TEST_F(TlsTest, MutualTlsRefusesClientsWithoutACertificateOfItsCa) {
  auto server = StartFeedback(/*mutual=*/true);
  ASSERT_NE(server, nullptr);
  grpc::Status no_cert = Submit(Channel(server->port(), {certs_["ca.crt"], "", ""}), "m-1");
  EXPECT_EQ(no_cert.error_code(), grpc::StatusCode::UNAVAILABLE) << no_cert.error_message();
  grpc::Status other_ca = Submit(Channel(server->port(), {certs_["ca.crt"], certs_["other.crt"], certs_["other.key"]}), "m-2");
  EXPECT_EQ(other_ca.error_code(), grpc::StatusCode::UNAVAILABLE) << other_ca.error_message();
  EXPECT_EQ(Submit(Channel(server->port(), {}), "m-3").error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(Submit(Channel(server->port(), {certs_["ca.crt"], certs_["client.crt"], certs_["client.key"]}), "m-4").ok());
}

TEST_F(TlsTest, HealthListenerAnswersProbesInPlaintextAndServesNothingElse) {
  auto server = StartFeedback(/*mutual=*/true, "127.0.0.1:0");
  ASSERT_NE(server, nullptr);
  const int health_port = server->health_port();
  ASSERT_GT(health_port, 0);
  auto plaintext = Channel(health_port, {});
  EXPECT_EQ(t::HealthCheck(plaintext), 1);
  EXPECT_EQ(t::HealthCheck(plaintext, "cx.feedback.v1.FeedbackService"), 1);
  EXPECT_EQ(t::HealthCheck(plaintext, shared::ServerRunner::kLivenessService), 1);
  // The RPCs are not on the health port.
  EXPECT_EQ(Submit(plaintext, "h-1").error_code(), grpc::StatusCode::UNIMPLEMENTED);
  // And the TLS port does not answer plaintext health checks.
  EXPECT_EQ(t::HealthCheck(Channel(server->port(), {})), 0);
}

TEST_F(TlsTest, MetricsServiceFollowsAFeedOverMutualTls) {
  auto feedback = StartFeedback(/*mutual=*/true);
  ASSERT_NE(feedback, nullptr);
  auto client = Channel(feedback->port(), {certs_["ca.crt"], certs_["client.crt"], certs_["client.key"]});
  ASSERT_TRUE(Submit(client, "feed-1").ok());

  metrics::MetricsServerOptions options;
  options.service = Options();
  options.feeds.feedback_endpoint = absl::StrCat("127.0.0.1:", feedback->port());
  options.feeds.token = t::kServiceToken;
  auto credentials = shared::MakeChannelCredentials({certs_["ca.crt"], certs_["client.crt"], certs_["client.key"]});
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  options.feeds.credentials = *credentials;
  options.feeds.min_backoff = absl::Milliseconds(20);
  options.feeds.max_backoff = absl::Milliseconds(200);
  auto metrics = metrics::MetricsServer::Start(std::move(options));
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((*metrics)->consumer().applied("feedback") < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE((*metrics)->consumer().applied("feedback"), 1);
}

TEST_F(TlsTest, BadTlsOptionsAreRefusedAtStart) {
  auto options = Options();
  options.server.tls = {certs_["server.crt"], "", ""};
  EXPECT_THAT(feedback::FeedbackServer::Start(options), t::StatusIs(absl::StatusCode::kInvalidArgument));
  options.server.tls = {"", "", certs_["ca.crt"]};
  EXPECT_THAT(feedback::FeedbackServer::Start(options), t::StatusIs(absl::StatusCode::kInvalidArgument));
  options.server.tls = {certs_["server.ext"], certs_["server.key"], ""};  // not PEM
  EXPECT_THAT(feedback::FeedbackServer::Start(options), t::StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(shared::MakeChannelCredentials({"", certs_["client.crt"], certs_["client.key"]}),
              t::StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(LivenessTest, LivenessStaysServingWhileTheDatabaseIsDown) {
  shared::ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.drain_grace = absl::ZeroDuration();
  options.health_probe_interval = absl::Milliseconds(20);
  shared::ServerRunner runner(options);
  std::atomic<bool> database_up{true};
  runner.SetHealthProbe([&] { return database_up ? absl::OkStatus() : absl::UnavailableError("database down"); });
  ASSERT_TRUE(runner.Start().ok());
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", runner.port()), grpc::InsecureChannelCredentials());
  EXPECT_EQ(t::HealthCheck(channel), 1);
  database_up = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (t::HealthCheck(channel) != 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(t::HealthCheck(channel), 2);                                          // readiness: NOT_SERVING
  EXPECT_EQ(t::HealthCheck(channel, shared::ServerRunner::kLivenessService), 1);  // liveness: SERVING
  database_up = true;
  while (t::HealthCheck(channel) != 1 && std::chrono::steady_clock::now() < deadline + std::chrono::seconds(10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(t::HealthCheck(channel), 1);
}

}  // namespace
}  // namespace cx
