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
#include "shared/local_net.h"
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
  void SetUp() override { StartWith(TestServerOptions()); }

  // (Re)starts the service with `options`.
  void StartWith(const FeedbackServerOptions& options) {
    stub_.reset();
    channel_.reset();
    server_.reset();
    auto server = FeedbackServer::Start(options);
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

  // Any unary call with `token`.
  template <class Req, class Resp>
  absl::StatusOr<Resp> Call(grpc::Status (v1::FeedbackService::Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                            const Req& request, const std::string& token) {
    grpc::ClientContext ctx;
    Auth(&ctx, token);
    Resp resp;
    grpc::Status s = (stub_.get()->*method)(&ctx, request, &resp);
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

// The stream looks for other replicas' commits only hourly here, so every
// live commit must reach it through the commit's own wake-up: one at a
// time, and in a burst that lands while the stream is being served.
TEST_F(FeedbackGrpcTest, WatchChangesGetsLiveCommitsWithoutWaitingForThePoll) {
  FeedbackServerOptions options = TestServerOptions();
  options.feed_poll = absl::Hours(1);
  StartWith(options);
  grpc::ClientContext ctx;
  Auth(&ctx, t::kServiceToken);
  auto reader = stub_->WatchChanges(&ctx, v1::WatchChangesRequest());
  std::vector<std::string> ids;
  auto read_until = [&](size_t n) {
    v1::WatchChangesResponse batch;
    while (ids.size() < n && reader->Read(&batch)) {
      for (const auto& c : batch.changes()) ids.push_back(c.feedback_created().request_id());
    }
  };
  std::vector<std::string> want;
  for (int i = 0; i < 5; ++i) {
    want.push_back(absl::StrCat("one-", i));
    ASSERT_TRUE(Submit(ValidRequest(want.back())).ok());
    read_until(want.size());
  }
  for (int i = 0; i < 20; ++i) {
    want.push_back(absl::StrCat("burst-", i));
    ASSERT_TRUE(Submit(ValidRequest(want.back())).ok());
  }
  read_until(want.size());
  EXPECT_EQ(ids, want);
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
  {
    grpc::ClientContext c; ctx(&c); v1::SetTopicRulesRequest req; v1::SetTopicRulesResponse r;
    auto* rule = req.mutable_rules()->add_rules();
    rule->set_topic("delivery");
    rule->add_keywords("deliver*");
    out["SetTopicRules"] = stub->SetTopicRules(&c, req, &r);
  }
  {
    grpc::ClientContext c; ctx(&c); v1::GetTopicRulesResponse r;
    out["GetTopicRules"] = stub->GetTopicRules(&c, v1::GetTopicRulesRequest(), &r);
  }
  {
    grpc::ClientContext c; ctx(&c); v1::SetFollowUpRulesRequest req; v1::SetFollowUpRulesResponse r;
    auto* rule = req.mutable_rules()->add_rules();
    rule->set_name("nps_detractor");
    rule->set_kind(v1::FEEDBACK_KIND_NPS);
    rule->set_max_score(6);
    out["SetFollowUpRules"] = stub->SetFollowUpRules(&c, req, &r);
  }
  {
    grpc::ClientContext c; ctx(&c); v1::GetFollowUpRulesResponse r;
    out["GetFollowUpRules"] = stub->GetFollowUpRules(&c, v1::GetFollowUpRulesRequest(), &r);
  }
  {
    grpc::ClientContext c; ctx(&c); v1::GetFollowUpRequest g; g.set_name("followups/2"); v1::GetFollowUpResponse r;
    out["GetFollowUp"] = stub->GetFollowUp(&c, g, &r);
  }
  {
    grpc::ClientContext c; ctx(&c); v1::ListFollowUpsResponse r;
    out["ListFollowUps"] = stub->ListFollowUps(&c, v1::ListFollowUpsRequest(), &r);
  }
  {
    grpc::ClientContext c; ctx(&c); v1::UpdateFollowUpRequest u; u.set_name("followups/2"); u.set_note("checked");
    v1::UpdateFollowUpResponse r;
    out["UpdateFollowUp"] = stub->UpdateFollowUp(&c, u, &r);
  }
  {
    grpc::ClientContext c; ctx(&c); v1::GetFollowUpStatsResponse r;
    out["GetFollowUpStats"] = stub->GetFollowUpStats(&c, v1::GetFollowUpStatsRequest(), &r);
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
  auto seed = Submit(ValidRequest("seed", 3));  // feedback/1 opens followups/2
  ASSERT_TRUE(seed.ok());
  ASSERT_EQ(seed->feedback().follow_up(), "followups/2");
  const std::set<std::string> writes{"SubmitFeedback", "BatchSubmitFeedback", "ImportFeedback", "UpdateFollowUp"};
  const std::set<std::string> admin_only{"SetTopicRules", "SetFollowUpRules"};
  const std::set<std::string> feeds{"ListChanges", "WatchChanges"};
  for (const auto& [rpc, status] : CallEveryRpc(stub_.get(), t::kAcmeRead)) {
    EXPECT_EQ(status.error_code(), writes.count(rpc) || admin_only.count(rpc) ? grpc::StatusCode::PERMISSION_DENIED
                                                                              : grpc::StatusCode::OK)
        << rpc;
  }
  for (const auto& [rpc, status] : CallEveryRpc(stub_.get(), t::kAcmeIngest)) {
    EXPECT_EQ(status.error_code(), writes.count(rpc) ? grpc::StatusCode::OK : grpc::StatusCode::PERMISSION_DENIED) << rpc;
  }
  for (const auto& [rpc, status] : CallEveryRpc(stub_.get(), t::kAcmeAdmin)) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::OK) << rpc;
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

TEST_F(FeedbackGrpcTest, EraseAndExportCheckTheirInputAndPageThroughACustomer) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Submit(ValidRequest(absl::StrCat("ex", i), 9)).ok());
  ASSERT_TRUE(Submit(ValidRequest("ex-other", 2)).ok());  // the fourth, opens a case
  v1::EraseCustomerRequest erase;
  EXPECT_THAT(Call(&v1::FeedbackService::Stub::EraseCustomer, erase, t::kAcmeAdmin),
              StatusIsField(absl::StatusCode::kInvalidArgument, "customer_id"));
  erase.set_customer_id("has space");
  EXPECT_THAT(Call(&v1::FeedbackService::Stub::EraseCustomer, erase, t::kAcmeAdmin),
              StatusIsField(absl::StatusCode::kInvalidArgument, "customer_id"));
  v1::ExportCustomerDataRequest ex;
  ex.set_customer_id("cust-1");
  ex.set_page_size(1001);
  EXPECT_THAT(Call(&v1::FeedbackService::Stub::ExportCustomerData, ex, t::kAcmeAdmin),
              StatusIsField(absl::StatusCode::kInvalidArgument, "page_size"));
  ex.set_page_size(2);
  ex.set_page_token("OTk5OTk5OTk5LDk5OTl8AAAAAAAAAAAAAAAAAAAAAA");
  EXPECT_THAT(Call(&v1::FeedbackService::Stub::ExportCustomerData, ex, t::kAcmeAdmin),
              StatusIsField(absl::StatusCode::kInvalidArgument, "page_token"));
  EXPECT_EQ(StoredCount(), 5);  // four feedback and the case: nothing erased
  // Two pages of the customer's feedback, oldest first, with the case on each.
  ex.clear_page_token();
  auto first = Call(&v1::FeedbackService::Stub::ExportCustomerData, ex, t::kAcmeAdmin);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->feedback_size(), 2);
  EXPECT_EQ(first->feedback(0).request_id(), "ex0");
  EXPECT_EQ(first->follow_ups_size(), 1);
  ASSERT_FALSE(first->next_page_token().empty());
  // The token is bound to the customer and the tenant.
  v1::ExportCustomerDataRequest other = ex;
  other.set_customer_id("cust-2");
  other.set_page_token(first->next_page_token());
  EXPECT_THAT(Call(&v1::FeedbackService::Stub::ExportCustomerData, other, t::kAcmeAdmin),
              StatusIsField(absl::StatusCode::kInvalidArgument, "page_token"));
  ex.set_page_token(first->next_page_token());
  EXPECT_THAT(Call(&v1::FeedbackService::Stub::ExportCustomerData, ex, t::kGlobexAdmin),
              StatusIsField(absl::StatusCode::kInvalidArgument, "page_token"));
  auto second = Call(&v1::FeedbackService::Stub::ExportCustomerData, ex, t::kAcmeAdmin);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->feedback_size(), 2);
  EXPECT_EQ(second->feedback(1).request_id(), "ex-other");
  EXPECT_TRUE(second->next_page_token().empty());

  // Erasure empties the export and refuses the id from then on.
  erase.set_customer_id("cust-1");
  auto erased = Call(&v1::FeedbackService::Stub::EraseCustomer, erase, t::kAcmeAdmin);
  ASSERT_TRUE(erased.ok()) << erased.status();
  EXPECT_EQ(erased->erasure().records_erased(), 5);
  ex.clear_page_token();
  auto after = Call(&v1::FeedbackService::Stub::ExportCustomerData, ex, t::kAcmeAdmin);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->feedback_size() + after->follow_ups_size(), 0);
  EXPECT_THAT(Submit(ValidRequest("ex-late", 9)), StatusIsField(absl::StatusCode::kFailedPrecondition,
                                                                "feedback.customer_id"));
  // A retry of a request stored before the erasure is refused too.
  EXPECT_THAT(Submit(ValidRequest("ex0", 9)), StatusIsField(absl::StatusCode::kFailedPrecondition,
                                                            "feedback.customer_id"));
}

TEST_F(FeedbackGrpcTest, CommentsGetSentimentAndTheTenantsTopics) {
  auto req = ValidRequest("s1", 8);
  req.mutable_feedback()->set_comment("The courier was late but the support agent was very helpful");
  auto stored = Submit(req);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->feedback().sentiment().label(), v1::SENTIMENT_LABEL_POSITIVE);
  EXPECT_THAT(stored->feedback().topics(), ::testing::ElementsAre("delivery", "support"));
  // Client-set output fields are ignored and do not change the payload hash.
  auto spoofed = req;
  spoofed.mutable_feedback()->add_topics("fake");
  spoofed.mutable_feedback()->mutable_sentiment()->set_score(-1);
  spoofed.mutable_feedback()->set_follow_up("followups/1");
  auto again = Submit(spoofed);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->feedback().sequence(), stored->feedback().sequence());
  EXPECT_EQ(again->feedback().topics_size(), 2);

  // The tenant's own topics apply from the next submission; defaults are reported until then.
  auto defaults = Call(&v1::FeedbackService::Stub::GetTopicRules, v1::GetTopicRulesRequest(), t::kAcmeRead);
  ASSERT_TRUE(defaults.ok());
  EXPECT_TRUE(defaults->rules().defaults());
  v1::SetTopicRulesRequest set;
  auto* rule = set.mutable_rules()->add_rules();
  rule->set_topic("couriers");
  rule->add_keywords("courier*");
  auto saved = Call(&v1::FeedbackService::Stub::SetTopicRules, set, t::kAcmeAdmin);
  ASSERT_TRUE(saved.ok()) << saved.status();
  EXPECT_FALSE(saved->rules().defaults());
  EXPECT_TRUE(saved->rules().has_update_time());
  auto read = Call(&v1::FeedbackService::Stub::GetTopicRules, v1::GetTopicRulesRequest(), t::kAcmeRead);
  ASSERT_TRUE(read.ok());
  EXPECT_TRUE(MessageDifferencer::Equals(read->rules(), saved->rules()));
  auto next = ValidRequest("s2", 8);
  next.mutable_feedback()->set_comment("Two couriers, both late");
  auto tagged = Submit(next);
  ASSERT_TRUE(tagged.ok());
  EXPECT_THAT(tagged->feedback().topics(), ::testing::ElementsAre("couriers"));
  // Another tenant still has the defaults.
  auto globex = Call(&v1::FeedbackService::Stub::GetTopicRules, v1::GetTopicRulesRequest(), t::kGlobexAdmin);
  ASSERT_TRUE(globex.ok());
  EXPECT_TRUE(globex->rules().defaults());
  // Bad rules are refused with the field named and change nothing.
  v1::SetTopicRulesRequest bad;
  auto* b = bad.mutable_rules()->add_rules();
  b->set_topic("ok");
  b->add_keywords("Capital");
  EXPECT_THAT(Call(&v1::FeedbackService::Stub::SetTopicRules, bad, t::kAcmeAdmin),
              StatusIsField(absl::StatusCode::kInvalidArgument, "rules.rules[0].keywords[0]"));
  read = Call(&v1::FeedbackService::Stub::GetTopicRules, v1::GetTopicRulesRequest(), t::kAcmeRead);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->rules().rules(0).topic(), "couriers");
}

TEST_F(FeedbackGrpcTest, UnhappyFeedbackOpensOneCaseThatMovesToResolvedInTheFeed) {
  using Stub = v1::FeedbackService::Stub;
  // A detractor opens a case; its retry and a promoter do not.
  auto detractor = ValidRequest("d1", 2);
  detractor.mutable_feedback()->set_comment("Terrible, the parcel never arrived");
  detractor.mutable_feedback()->mutable_crm_reference()->set_system("salesforce");
  detractor.mutable_feedback()->mutable_crm_reference()->set_id("003A1");
  auto first = Submit(detractor);
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string name = first->feedback().follow_up();
  ASSERT_FALSE(name.empty());
  auto retry = Submit(detractor);
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(retry->feedback().follow_up(), name);
  v1::BatchSubmitFeedbackRequest batch;
  *batch.add_requests() = detractor;  // a duplicate inside a batch
  *batch.add_requests() = ValidRequest("p1", 10);
  ASSERT_TRUE(Call(&Stub::BatchSubmitFeedback, batch, t::kAcmeIngest).ok());
  auto open = Call(&Stub::ListFollowUps, v1::ListFollowUpsRequest(), t::kAcmeRead);
  ASSERT_TRUE(open.ok());
  ASSERT_EQ(open->follow_ups_size(), 1);
  const v1::FollowUp& c = open->follow_ups(0);
  EXPECT_EQ(c.name(), name);
  EXPECT_EQ(c.feedback(), first->feedback().name());
  EXPECT_EQ(c.crm_reference().id(), "003A1");
  EXPECT_THAT(c.reasons(), ::testing::ElementsAre("nps_detractor", "negative_comment"));
  EXPECT_EQ(c.priority(), v1::FOLLOW_UP_PRIORITY_HIGH);
  EXPECT_EQ(c.status(), v1::FOLLOW_UP_STATUS_OPEN);
  EXPECT_EQ(c.score(), 2);

  // Illegal moves are refused; legal ones move the case and bump its version.
  v1::UpdateFollowUpRequest resolve;
  resolve.set_name(name);
  resolve.set_status(v1::FOLLOW_UP_STATUS_RESOLVED);
  resolve.set_outcome(v1::FOLLOW_UP_OUTCOME_RESOLVED);
  EXPECT_THAT(Call(&Stub::UpdateFollowUp, resolve, t::kAcmeIngest),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  v1::UpdateFollowUpRequest start;
  start.set_name(name);
  start.set_status(v1::FOLLOW_UP_STATUS_IN_PROGRESS);
  start.set_assignee("agent-9");
  start.set_note("Called, left a voicemail");
  start.set_version(1);
  auto started = Call(&Stub::UpdateFollowUp, start, t::kAcmeIngest);
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(started->follow_up().version(), 2);
  EXPECT_EQ(started->follow_up().notes(0).author().substr(0, 6), "token:");
  EXPECT_THAT(Call(&Stub::UpdateFollowUp, start, t::kAcmeIngest), StatusIs(absl::StatusCode::kAborted));  // stale
  auto done = Call(&Stub::UpdateFollowUp, resolve, t::kAcmeIngest);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->follow_up().status(), v1::FOLLOW_UP_STATUS_RESOLVED);
  EXPECT_TRUE(done->follow_up().has_time_to_close());
  start.clear_version();  // a resolved case is final
  EXPECT_THAT(Call(&Stub::UpdateFollowUp, start, t::kAcmeIngest), StatusIs(absl::StatusCode::kFailedPrecondition));
  v1::GetFollowUpRequest get;
  get.set_name(name);
  auto got = Call(&Stub::GetFollowUp, get, t::kAcmeRead);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(MessageDifferencer::Equals(got->follow_up(), done->follow_up()));
  auto stats = Call(&Stub::GetFollowUpStats, v1::GetFollowUpStatsRequest(), t::kAcmeRead);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->resolved_count(), 1);
  EXPECT_EQ(stats->open_count(), 0);
  ASSERT_EQ(stats->resolved_by_outcome_size(), 1);
  EXPECT_EQ(stats->resolved_by_outcome(0).count(), 1);
  EXPECT_TRUE(MessageDifferencer::Equals(stats->time_to_close_median(), done->follow_up().time_to_close()));

  // The feed carries the case after its feedback, then each update, in order.
  v1::ListChangesRequest changes_req;
  auto changes = Call(&Stub::ListChanges, changes_req, t::kServiceToken);
  ASSERT_TRUE(changes.ok());
  std::vector<std::string> kinds;
  int64_t previous = 0;
  for (const auto& ch : changes->changes()) {
    EXPECT_EQ(ch.sequence(), previous + 1);
    previous = ch.sequence();
    kinds.push_back(ch.has_feedback_created() ? "feedback"
                                              : v1::FollowUpStatus_Name(ch.follow_up_changed().status()));
  }
  EXPECT_THAT(kinds, ::testing::ElementsAre("feedback", "FOLLOW_UP_STATUS_OPEN", "feedback",
                                            "FOLLOW_UP_STATUS_IN_PROGRESS", "FOLLOW_UP_STATUS_RESOLVED"));

  // Another tenant reads the case as missing, and cannot change it.
  EXPECT_THAT(Call(&Stub::GetFollowUp, get, t::kGlobexAdmin), StatusIs(absl::StatusCode::kNotFound));
  get.set_name("followups/999999");
  EXPECT_THAT(Call(&Stub::GetFollowUp, get, t::kGlobexAdmin), StatusIs(absl::StatusCode::kNotFound));
  v1::UpdateFollowUpRequest steal;
  steal.set_name(name);
  steal.set_note("mine now");
  EXPECT_THAT(Call(&Stub::UpdateFollowUp, steal, t::kGlobexAdmin), StatusIs(absl::StatusCode::kNotFound));
  auto globex_list = Call(&Stub::ListFollowUps, v1::ListFollowUpsRequest(), t::kGlobexAdmin);
  ASSERT_TRUE(globex_list.ok());
  EXPECT_EQ(globex_list->follow_ups_size(), 0);
}

TEST_F(FeedbackGrpcTest, FollowUpRulesAreTheTenantsOwnAndCheckedField) {
  using Stub = v1::FeedbackService::Stub;
  v1::SetFollowUpRulesRequest set;
  auto* rule = set.mutable_rules()->add_rules();
  rule->set_name("csat_very_low");
  rule->set_kind(v1::FEEDBACK_KIND_CSAT);
  rule->set_max_score(1);
  ASSERT_TRUE(Call(&Stub::SetFollowUpRules, set, t::kAcmeAdmin).ok());
  auto nps = ValidRequest("n1", 0);  // no longer a rule of acme's
  auto stored = Submit(nps);
  ASSERT_TRUE(stored.ok());
  EXPECT_TRUE(stored->feedback().follow_up().empty());
  auto csat = ValidRequest("c1", 1);
  csat.mutable_feedback()->set_kind(v1::FEEDBACK_KIND_CSAT);
  auto opened = Submit(csat);
  ASSERT_TRUE(opened.ok());
  EXPECT_FALSE(opened->feedback().follow_up().empty());
  // Bad rules: the field is named.
  v1::SetFollowUpRulesRequest bad;
  auto* b = bad.mutable_rules()->add_rules();
  b->set_name("x");
  b->set_kind(v1::FEEDBACK_KIND_CES);
  b->set_max_score(8);
  EXPECT_THAT(Call(&Stub::SetFollowUpRules, bad, t::kAcmeAdmin),
              StatusIsField(absl::StatusCode::kInvalidArgument, "rules.rules[0].max_score"));
  v1::ListFollowUpsRequest list;
  list.set_page_size(5000);
  EXPECT_THAT(Call(&Stub::ListFollowUps, list, t::kAcmeRead),
              StatusIsField(absl::StatusCode::kInvalidArgument, "page_size"));
  v1::GetFollowUpRequest get;
  get.set_name("feedback/1");
  EXPECT_THAT(Call(&Stub::GetFollowUp, get, t::kAcmeRead), StatusIsField(absl::StatusCode::kInvalidArgument, "name"));
  v1::UpdateFollowUpRequest empty;
  empty.set_name(opened->feedback().follow_up());
  EXPECT_THAT(Call(&Stub::UpdateFollowUp, empty, t::kAcmeIngest),
              StatusIsField(absl::StatusCode::kInvalidArgument, "status"));
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
  // A commit is observed when it ends, which can be just after its caller
  // is answered.
  std::string page;
  for (int i = 0; i < 200; ++i) {
    page = shared::HttpGet((*server)->metrics_port(), "/metrics");
    if (page.find("cx_write_commit_seconds_count{service=\"feedback\"} 1") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_NE(page.find("cx_grpc_requests_total{code=\"OK\",method=\"SubmitFeedback\",service=\"feedback\"} 1"),
            std::string::npos) << page;
  EXPECT_NE(page.find("cx_grpc_requests_total{code=\"INVALID_ARGUMENT\",method=\"SubmitFeedback\",service=\"feedback\"} 1"),
            std::string::npos);
  EXPECT_NE(page.find("cx_grpc_request_duration_seconds_count{method=\"SubmitFeedback\",service=\"feedback\"} 2"),
            std::string::npos);
  EXPECT_NE(page.find("cx_write_batch_rows_count{service=\"feedback\"} 1"), std::string::npos);
  EXPECT_NE(page.find("cx_write_queue_rows{service=\"feedback\"}"), std::string::npos);
  EXPECT_NE(page.find("cx_write_commit_seconds_count{service=\"feedback\"} 1"), std::string::npos) << page;
  EXPECT_NE(page.find("cx_write_queue_wait_seconds_count{service=\"feedback\"} 1"), std::string::npos);
  EXPECT_NE(page.find("cx_write_commit_seconds_bucket{service=\"feedback\",le=\"10\"} 1"), std::string::npos) << page;
  (*server)->Shutdown();
}

}  // namespace
}  // namespace cx::feedback

namespace cx::feedback {
namespace {

// The per-tenant rate limit over gRPC: a tenant past its bucket gets
// RESOURCE_EXHAUSTED and stores nothing; another tenant is not affected.
TEST(FeedbackRateLimitTest, TenantOverItsRateIsRefusedOthersAreNot) {
  FeedbackServerOptions options = TestServerOptions();
  options.rate_limit = {/*per_second=*/0.5, /*burst=*/3};
  auto server = FeedbackServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = v1::FeedbackService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()), grpc::InsecureChannelCredentials()));
  auto submit = [&](const std::string& id, const std::string& token) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + token);
    v1::SubmitFeedbackResponse resp;
    return stub->SubmitFeedback(&ctx, ValidRequest(id), &resp);
  };
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(submit(absl::StrCat("r", i), t::kAcmeIngest).ok()) << i;
  grpc::Status over = submit("r-over", t::kAcmeAdmin);  // same tenant, another token
  EXPECT_EQ(over.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(over.error_message().find("retry in"), std::string::npos) << over.error_message();
  EXPECT_TRUE(submit("g1", t::kGlobexAdmin).ok());

  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", std::string("Bearer ") + t::kServiceToken);
  v1::ListChangesRequest req;
  v1::ListChangesResponse resp;
  ASSERT_TRUE(stub->ListChanges(&ctx, req, &resp).ok());
  int acme = 0;
  for (const auto& c : resp.changes()) acme += c.tenant() == "acme";
  EXPECT_EQ(acme, 3) << "the refused call stored nothing";
}

}  // namespace
}  // namespace cx::feedback
