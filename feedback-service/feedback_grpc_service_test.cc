// feedback-service over a real gRPC server on 127.0.0.1 (in-process), with
// the embedded SQLite store: every RPC, authentication and roles, bad input
// with field violations, tenant isolation, idempotency and the change feed.
#include <grpcpp/generic/generic_stub.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <grpcpp/health_check_service_interface.h>

#include <future>
#include <thread>

#include <google/protobuf/util/message_differencer.h>

#include "absl/strings/str_cat.h"
#include "feedback-service/feedback_server.h"
#include "shared/testing/test_util.h"

namespace cx::feedback {
namespace {

using google::protobuf::util::MessageDifferencer;
using shared::testing::StatusIs;
using shared::testing::StatusIsField;
namespace t = shared::testing;

v1::SubmitFeedbackRequest ValidRequest(const std::string& id, int score = 9) {
  v1::SubmitFeedbackRequest r;
  r.set_request_id(id);
  auto* f = r.mutable_feedback();
  f->set_customer_id("cust-1");
  f->set_kind(v1::FEEDBACK_KIND_NPS);
  f->set_score(score);
  f->set_comment("Delivery was quick");
  f->set_source(cx::common::v1::SOURCE_SURVEY);
  f->set_channel(cx::common::v1::CHANNEL_EMAIL);
  return r;
}

// An in-memory service on an ephemeral 127.0.0.1 port with the test tokens.
FeedbackServerOptions TestServerOptions() {
  FeedbackServerOptions options;
  options.db_url = "sqlite::memory:";
  options.tokens = t::TestTokens();
  options.server.listen = "127.0.0.1:0";
  options.server.drain_grace = absl::ZeroDuration();
  options.page_token_key = "k";
  return options;
}

class FeedbackGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = FeedbackServer::Start(TestServerOptions());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials());
    stub_ = v1::FeedbackService::NewStub(channel_);
  }

  static void Auth(grpc::ClientContext* ctx, const std::string& token) {
    if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  }

  absl::StatusOr<v1::SubmitFeedbackResponse> Submit(const v1::SubmitFeedbackRequest& r,
                                                    const std::string& token = t::kAcmeIngest) {
    grpc::ClientContext ctx;
    Auth(&ctx, token);
    v1::SubmitFeedbackResponse resp;
    grpc::Status s = stub_->SubmitFeedback(&ctx, r, &resp);
    if (!s.ok()) return shared::FromGrpcStatus(s);
    return resp;
  }

  // Everything stored, as the service identity sees it.
  int StoredCount() {
    grpc::ClientContext ctx;
    Auth(&ctx, t::kServiceToken);
    v1::ListChangesRequest req;
    req.set_limit(1000);
    v1::ListChangesResponse resp;
    EXPECT_TRUE(stub_->ListChanges(&ctx, req, &resp).ok());
    return resp.changes_size();
  }

  std::unique_ptr<FeedbackServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::FeedbackService::Stub> stub_;
};

TEST_F(FeedbackGrpcTest, SubmitGetAndListRoundTrip) {
  auto submitted = Submit(ValidRequest("r1"));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  EXPECT_EQ(submitted->feedback().nps_category(), v1::NPS_CATEGORY_PROMOTER);

  grpc::ClientContext get_ctx;
  Auth(&get_ctx, t::kAcmeRead);
  v1::GetFeedbackRequest get;
  get.set_name(submitted->feedback().name());
  v1::GetFeedbackResponse got;
  ASSERT_TRUE(stub_->GetFeedback(&get_ctx, get, &got).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(got.feedback(), submitted->feedback()));

  grpc::ClientContext list_ctx;
  Auth(&list_ctx, t::kAcmeRead);
  v1::ListFeedbackRequest list;
  list.set_customer_id("cust-1");
  v1::ListFeedbackResponse listed;
  ASSERT_TRUE(stub_->ListFeedback(&list_ctx, list, &listed).ok());
  ASSERT_EQ(listed.feedback_size(), 1);
  EXPECT_EQ(listed.feedback(0).request_id(), "r1");
}

TEST_F(FeedbackGrpcTest, BatchSubmitReportsPerItem) {
  v1::BatchSubmitFeedbackRequest batch;
  *batch.add_requests() = ValidRequest("b1");
  *batch.add_requests() = ValidRequest("b2", 77);
  *batch.add_requests() = ValidRequest("b1");
  grpc::ClientContext ctx;
  Auth(&ctx, t::kAcmeIngest);
  v1::BatchSubmitFeedbackResponse resp;
  ASSERT_TRUE(stub_->BatchSubmitFeedback(&ctx, batch, &resp).ok());
  EXPECT_EQ(resp.accepted_count(), 1);
  EXPECT_EQ(resp.rejected_count(), 1);
  EXPECT_EQ(resp.duplicate_count(), 1);
  EXPECT_EQ(resp.results(1).error().field_violations(0).field(), "requests[1].feedback.score");
  EXPECT_EQ(StoredCount(), 1);
}

TEST_F(FeedbackGrpcTest, ImportStreamsChunksAndSummarises) {
  grpc::ClientContext ctx;
  Auth(&ctx, t::kAcmeIngest);
  v1::ImportFeedbackResponse summary;
  auto writer = stub_->ImportFeedback(&ctx, &summary);
  for (int i = 0; i < 1203; ++i) {
    v1::ImportFeedbackRequest item;
    *item.mutable_item() = ValidRequest(absl::StrCat("imp-", i % 1200), i == 5 ? 99 : (i % 1200) % 11);
    ASSERT_TRUE(writer->Write(item));
  }
  writer->WritesDone();
  ASSERT_TRUE(writer->Finish().ok());
  EXPECT_EQ(summary.received_count(), 1203);
  EXPECT_EQ(summary.accepted_count(), 1199);
  EXPECT_EQ(summary.duplicate_count(), 3);  // imp-0..2 repeat with the same payload
  EXPECT_EQ(summary.rejected_count(), 1);
  ASSERT_EQ(summary.rejected_size(), 1);
  EXPECT_EQ(summary.rejected(0).index(), 5);
  EXPECT_EQ(summary.rejected(0).error().field_violations(0).field(), "stream[5].item.feedback.score");
  EXPECT_EQ(StoredCount(), 1000);  // ListChanges caps at 1000 per call
}

TEST_F(FeedbackGrpcTest, WatchChangesStreamsBacklogThenLiveCommits) {
  ASSERT_TRUE(Submit(ValidRequest("w1")).ok());
  ASSERT_TRUE(Submit(ValidRequest("w2")).ok());
  grpc::ClientContext ctx;
  Auth(&ctx, t::kServiceToken);
  v1::WatchChangesRequest req;
  auto reader = stub_->WatchChanges(&ctx, req);
  std::vector<std::string> ids;
  v1::WatchChangesResponse batch;
  while (ids.size() < 2 && reader->Read(&batch)) {
    for (const auto& c : batch.changes()) ids.push_back(c.feedback_created().request_id());
  }
  ASSERT_TRUE(Submit(ValidRequest("w3")).ok());
  while (ids.size() < 3 && reader->Read(&batch)) {
    for (const auto& c : batch.changes()) ids.push_back(c.feedback_created().request_id());
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"w1", "w2", "w3"}));
  ctx.TryCancel();
  reader->Finish();
}

TEST_F(FeedbackGrpcTest, WatchChangesOfATenantSeesOnlyItsOwn) {
  ASSERT_TRUE(Submit(ValidRequest("mine")).ok());
  ASSERT_TRUE(Submit(ValidRequest("theirs"), t::kGlobexAdmin).ok());
  ASSERT_TRUE(Submit(ValidRequest("mine-2")).ok());
  grpc::ClientContext ctx;
  Auth(&ctx, t::kAcmeRead);
  auto reader = stub_->WatchChanges(&ctx, v1::WatchChangesRequest());
  std::vector<std::string> ids;
  v1::WatchChangesResponse batch;
  while (ids.size() < 2 && reader->Read(&batch)) {
    for (const auto& c : batch.changes()) {
      EXPECT_EQ(c.tenant(), "acme");
      ids.push_back(c.feedback_created().request_id());
    }
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"mine", "mine-2"}));
  ctx.TryCancel();
  reader->Finish();
}

// Calls every RPC once with `token`; returns each call's status.
std::map<std::string, grpc::Status> CallEveryRpc(v1::FeedbackService::Stub* stub, const std::string& token) {
  std::map<std::string, grpc::Status> out;
  auto ctx = [&](grpc::ClientContext* c) {
    if (!token.empty()) c->AddMetadata("authorization", "Bearer " + token);
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  };
  {
    grpc::ClientContext c; ctx(&c); v1::SubmitFeedbackResponse r;
    out["SubmitFeedback"] = stub->SubmitFeedback(&c, ValidRequest(absl::StrCat("auth-", token)), &r);
  }
  {
    grpc::ClientContext c; ctx(&c); v1::BatchSubmitFeedbackRequest b; *b.add_requests() = ValidRequest("auth-b");
    v1::BatchSubmitFeedbackResponse r;
    out["BatchSubmitFeedback"] = stub->BatchSubmitFeedback(&c, b, &r);
  }
  {
    grpc::ClientContext c; ctx(&c); v1::ImportFeedbackResponse r;
    auto w = stub->ImportFeedback(&c, &r);
    w->WritesDone();
    out["ImportFeedback"] = w->Finish();
  }
  {
    grpc::ClientContext c; ctx(&c); v1::GetFeedbackRequest g; g.set_name("feedback/1"); v1::GetFeedbackResponse r;
    out["GetFeedback"] = stub->GetFeedback(&c, g, &r);
  }
  {
    grpc::ClientContext c; ctx(&c); v1::ListFeedbackResponse r;
    out["ListFeedback"] = stub->ListFeedback(&c, v1::ListFeedbackRequest(), &r);
  }
  {
    grpc::ClientContext c; ctx(&c); v1::ListChangesResponse r;
    out["ListChanges"] = stub->ListChanges(&c, v1::ListChangesRequest(), &r);
  }
  {
    grpc::ClientContext c; ctx(&c);
    c.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    auto reader = stub->WatchChanges(&c, v1::WatchChangesRequest());
    v1::WatchChangesResponse r;
    while (reader->Read(&r)) {}
    grpc::Status s = reader->Finish();
    // An authorised watch simply runs until its deadline.
    out["WatchChanges"] = s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ? grpc::Status::OK : s;
  }
  return out;
}

TEST_F(FeedbackGrpcTest, EveryRpcRefusesMissingAndUnknownTokens) {
  for (const std::string token : {"", "not-a-real-token"}) {
    for (const auto& [rpc, status] : CallEveryRpc(stub_.get(), token)) {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << rpc << " token='" << token << "'";
    }
  }
  EXPECT_EQ(StoredCount(), 0);
}

TEST_F(FeedbackGrpcTest, EveryRpcChecksItsRole) {
  ASSERT_TRUE(Submit(ValidRequest("seed")).ok());
  const std::set<std::string> writes{"SubmitFeedback", "BatchSubmitFeedback", "ImportFeedback"};
  const std::set<std::string> feeds{"ListChanges", "WatchChanges"};
  for (const auto& [rpc, status] : CallEveryRpc(stub_.get(), t::kAcmeRead)) {
    EXPECT_EQ(status.error_code(), writes.count(rpc) ? grpc::StatusCode::PERMISSION_DENIED : grpc::StatusCode::OK) << rpc;
  }
  for (const auto& [rpc, status] : CallEveryRpc(stub_.get(), t::kAcmeIngest)) {
    EXPECT_EQ(status.error_code(), writes.count(rpc) ? grpc::StatusCode::OK : grpc::StatusCode::PERMISSION_DENIED) << rpc;
  }
  for (const auto& [rpc, status] : CallEveryRpc(stub_.get(), t::kServiceToken)) {
    EXPECT_EQ(status.error_code(), feeds.count(rpc) ? grpc::StatusCode::OK : grpc::StatusCode::PERMISSION_DENIED) << rpc;
  }
}

TEST_F(FeedbackGrpcTest, BadInputGetsInvalidArgumentWithTheFieldAndStoresNothing) {
  struct Case {
    const char* name;
    std::function<void(v1::SubmitFeedbackRequest*)> mutate;
    const char* field;
  };
  const std::vector<Case> cases = {
      {"score outside NPS", [](auto* r) { r->mutable_feedback()->set_score(11); }, "feedback.score"},
      {"score outside CSAT", [](auto* r) { r->mutable_feedback()->set_kind(v1::FEEDBACK_KIND_CSAT); r->mutable_feedback()->set_score(9); }, "feedback.score"},
      {"missing customer", [](auto* r) { r->mutable_feedback()->clear_customer_id(); }, "feedback.customer_id"},
      {"over-long comment", [](auto* r) { r->mutable_feedback()->set_comment(std::string(5000, 'a')); }, "feedback.comment"},
      {"unknown enum value", [](auto* r) { r->mutable_feedback()->set_source(static_cast<cx::common::v1::Source>(99)); }, "feedback.source"},
      {"missing request_id", [](auto* r) { r->clear_request_id(); }, "request_id"},
  };
  for (const auto& c : cases) {
    auto req = ValidRequest("bad");
    c.mutate(&req);
    EXPECT_THAT(Submit(req), StatusIsField(absl::StatusCode::kInvalidArgument, c.field)) << c.name;
  }
  v1::BatchSubmitFeedbackRequest too_big;
  for (int i = 0; i < 501; ++i) *too_big.add_requests() = ValidRequest(absl::StrCat("x", i));
  grpc::ClientContext ctx;
  Auth(&ctx, t::kAcmeIngest);
  v1::BatchSubmitFeedbackResponse resp;
  EXPECT_THAT(shared::FromGrpcStatus(stub_->BatchSubmitFeedback(&ctx, too_big, &resp)),
              StatusIsField(absl::StatusCode::kInvalidArgument, "requests"));
  grpc::ClientContext list_ctx;
  Auth(&list_ctx, t::kAcmeRead);
  v1::ListFeedbackRequest list;
  list.set_page_size(1001);
  v1::ListFeedbackResponse listed;
  EXPECT_THAT(shared::FromGrpcStatus(stub_->ListFeedback(&list_ctx, list, &listed)),
              StatusIsField(absl::StatusCode::kInvalidArgument, "page_size"));
  grpc::ClientContext forged_ctx;
  Auth(&forged_ctx, t::kAcmeRead);
  v1::ListFeedbackRequest forged;
  forged.set_page_token("OTk5OTk5OTk5LDk5OTl8AAAAAAAAAAAAAAAAAAAAAA");
  EXPECT_THAT(shared::FromGrpcStatus(stub_->ListFeedback(&forged_ctx, forged, &listed)),
              StatusIsField(absl::StatusCode::kInvalidArgument, "page_token"));
  EXPECT_EQ(StoredCount(), 0);
}

TEST_F(FeedbackGrpcTest, InvalidUtf8OnTheWireNamesTheField) {
  auto req = ValidRequest("utf8");
  req.mutable_feedback()->set_comment("PLACEHOLDER");
  std::string wire = req.SerializeAsString();
  auto at = wire.find("PLACEHOLDER");
  wire[at] = '\xc3';
  wire[at + 1] = '\x28';  // an invalid two-byte sequence
  grpc::GenericStub generic(channel_);
  grpc::ClientContext ctx;
  Auth(&ctx, t::kAcmeIngest);
  grpc::Slice slice(wire);
  grpc::ByteBuffer request(&slice, 1), response;
  std::promise<grpc::Status> done;
  generic.UnaryCall(&ctx, "/cx.feedback.v1.FeedbackService/SubmitFeedback", grpc::StubOptions(), &request,
                    &response, [&](grpc::Status s) { done.set_value(s); });
  EXPECT_THAT(shared::FromGrpcStatus(done.get_future().get()),
              StatusIsField(absl::StatusCode::kInvalidArgument, "feedback.comment"));
  EXPECT_EQ(StoredCount(), 0);
}

TEST_F(FeedbackGrpcTest, AnotherTenantCannotReachObjectsOrCursors) {
  auto mine = Submit(ValidRequest("secret"));
  ASSERT_TRUE(mine.ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Submit(ValidRequest(absl::StrCat("more", i))).ok());
  // Get: another tenant's id reads exactly like one that does not exist.
  auto get = [&](const std::string& name) {
    grpc::ClientContext ctx;
    Auth(&ctx, t::kGlobexAdmin);
    v1::GetFeedbackRequest req;
    req.set_name(name);
    v1::GetFeedbackResponse resp;
    return stub_->GetFeedback(&ctx, req, &resp);
  };
  grpc::Status existing = get(mine->feedback().name());
  grpc::Status missing = get("feedback/999999");
  EXPECT_EQ(existing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  // List: nothing of acme's.
  grpc::ClientContext lctx;
  Auth(&lctx, t::kGlobexAdmin);
  v1::ListFeedbackResponse listed;
  ASSERT_TRUE(stub_->ListFeedback(&lctx, v1::ListFeedbackRequest(), &listed).ok());
  EXPECT_EQ(listed.feedback_size(), 0);
  // Page token: acme's token is refused for globex.
  grpc::ClientContext actx;
  Auth(&actx, t::kAcmeRead);
  v1::ListFeedbackRequest page;
  page.set_page_size(1);
  ASSERT_TRUE(stub_->ListFeedback(&actx, page, &listed).ok());
  ASSERT_FALSE(listed.next_page_token().empty());
  grpc::ClientContext gctx;
  Auth(&gctx, t::kGlobexAdmin);
  page.set_page_token(listed.next_page_token());
  EXPECT_EQ(stub_->ListFeedback(&gctx, page, &listed).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // Changes: nothing of acme's.
  grpc::ClientContext cctx;
  Auth(&cctx, t::kGlobexAdmin);
  v1::ListChangesResponse changes;
  ASSERT_TRUE(stub_->ListChanges(&cctx, v1::ListChangesRequest(), &changes).ok());
  EXPECT_EQ(changes.changes_size(), 0);
  // The same request_id in another tenant is a separate record, not a duplicate.
  auto theirs = Submit(ValidRequest("secret"), t::kGlobexAdmin);
  ASSERT_TRUE(theirs.ok());
  EXPECT_NE(theirs->feedback().sequence(), mine->feedback().sequence());
}

TEST_F(FeedbackGrpcTest, ConcurrentRetriesOfOneRequestStoreOneRow) {
  std::vector<std::thread> threads;
  std::vector<absl::StatusOr<v1::SubmitFeedbackResponse>> results(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] { results[i] = Submit(ValidRequest("racy")); });
  }
  for (auto& th : threads) th.join();
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->SerializeAsString(), results[0]->SerializeAsString());
  }
  EXPECT_EQ(StoredCount(), 1);
}

TEST_F(FeedbackGrpcTest, HealthIsServing) {
  EXPECT_EQ(t::HealthCheck(channel_), 1);
}

// Whether the server answers the reflection service (a method it does not
// serve is UNIMPLEMENTED).
bool ServesReflection(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub generic(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  // ServerReflectionRequest{list_services: ""} is field 7, empty.
  grpc::Slice request_bytes(std::string("\x3a\x00", 2));
  grpc::ByteBuffer request(&request_bytes, 1), response;
  std::promise<grpc::Status> done;
  generic.UnaryCall(&ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", grpc::StubOptions(),
                    &request, &response, [&](grpc::Status s) { done.set_value(s); });
  return done.get_future().get().error_code() != grpc::StatusCode::UNIMPLEMENTED;
}

TEST(FeedbackReflectionTest, OnByDefaultAndOffByFlag) {
  for (bool reflection : {true, false}) {
    FeedbackServerOptions options = TestServerOptions();
    options.server.reflection = reflection;
    auto server = FeedbackServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()), grpc::InsecureChannelCredentials());
    EXPECT_EQ(ServesReflection(channel), reflection);
    EXPECT_EQ(t::HealthCheck(channel), 1);
  }
}

TEST(FeedbackMetricsTest, PrometheusEndpointCountsRequestsByMethodAndCode) {
  FeedbackServerOptions options = TestServerOptions();
  options.metrics_listen = "127.0.0.1:0";
  auto server = FeedbackServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->metrics_port(), 0);
  auto stub = v1::FeedbackService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()), grpc::InsecureChannelCredentials()));
  for (int score : {9, 42}) {  // one stored, one INVALID_ARGUMENT
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Bearer ") + t::kAcmeIngest);
    v1::SubmitFeedbackResponse resp;
    (void)stub->SubmitFeedback(&ctx, ValidRequest(absl::StrCat("m", score), score), &resp);
  }
  std::string page = t::HttpGet((*server)->metrics_port(), "/metrics");
  EXPECT_NE(page.find("cx_grpc_requests_total{code=\"OK\",method=\"SubmitFeedback\",service=\"feedback\"} 1"),
            std::string::npos) << page;
  EXPECT_NE(page.find("cx_grpc_requests_total{code=\"INVALID_ARGUMENT\",method=\"SubmitFeedback\",service=\"feedback\"} 1"),
            std::string::npos);
  EXPECT_NE(page.find("cx_grpc_request_duration_seconds_count{method=\"SubmitFeedback\",service=\"feedback\"} 2"),
            std::string::npos);
  EXPECT_NE(page.find("cx_write_batch_rows_count{service=\"feedback\"} 1"), std::string::npos);
  EXPECT_NE(page.find("cx_write_queue_rows{service=\"feedback\"}"), std::string::npos);
  (*server)->Shutdown();
}

}  // namespace
}  // namespace cx::feedback
