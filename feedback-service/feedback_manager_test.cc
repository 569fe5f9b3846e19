// FeedbackManager against an in-memory fake repository: validation,
// idempotency, batches, paging and change-feed scoping.
#include "feedback-service/feedback_manager.h"

#include <set>
#include <future>
#include <optional>
#include <map>
#include <mutex>

#include <google/protobuf/util/message_differencer.h>
#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "shared/change_feed.h"
#include "shared/testing/test_util.h"

namespace cx::feedback {
namespace {

using google::protobuf::util::MessageDifferencer;
using google::protobuf::util::TimeUtil;
using shared::testing::StatusIs;
using shared::testing::StatusIsField;

// Same contract as the SQL repository, kept in memory.
class FakeRepository final : public FeedbackRepository {
 public:
  absl::StatusOr<std::vector<WriteResult>> Write(absl::Span<const NewFeedback> batch) override {
    if (gate_) {  // a test holds the writer here
      if (entered_) std::exchange(entered_, std::nullopt)->set_value();
      gate_->wait();
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_writes_) return absl::UnavailableError("database down");
    std::vector<WriteResult> out;
    for (const auto& n : batch) {
      if (erased_.count({n.tenant, n.feedback.customer_id()})) {
        out.push_back({WriteOutcome::kErased, Feedback()});
        continue;
      }
      auto key = std::make_pair(n.tenant, n.request_id);
      if (auto it = keys_.find(key); it != keys_.end()) {
        const Row& row = rows_[it->second];
        out.push_back({row.hash == n.payload_hash ? WriteOutcome::kDuplicate : WriteOutcome::kConflict, row.f});
        continue;
      }
      Feedback f = n.feedback;
      f.set_sequence(++next_);
      f.set_id(absl::StrCat(next_));
      f.set_name(absl::StrCat("feedback/", next_));
      f.set_request_id(n.request_id);
      if (n.follow_up) {
        v1::FollowUp fu = *n.follow_up;
        fu.set_id(absl::StrCat(++next_));
        fu.set_name(absl::StrCat("followups/", next_));
        fu.set_feedback(f.name());
        f.set_follow_up(fu.name());
        follow_ups_[{n.tenant, next_}] = fu;
      }
      keys_[key] = rows_.size();
      rows_.push_back({n.tenant, n.payload_hash, f});
      out.push_back({WriteOutcome::kCreated, f});
    }
    ++commits_;
    return out;
  }
  absl::StatusOr<std::optional<Feedback>> Get(const std::string& tenant, int64_t sequence) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& r : rows_) {
      if (r.tenant == tenant && r.f.sequence() == sequence) return std::optional<Feedback>(r.f);
    }
    return std::optional<Feedback>();
  }
  absl::StatusOr<std::vector<Feedback>> List(const FeedbackQuery& q) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Feedback> out;
    for (auto it = rows_.rbegin(); it != rows_.rend(); ++it) {  // same occurred_at: newest sequence first
      if (it->tenant != q.filter.tenant) continue;
      if (!q.filter.customer_id.empty() && it->f.customer_id() != q.filter.customer_id) continue;
      if (q.after && it->f.sequence() >= q.after->sequence) continue;
      out.push_back(it->f);
      if (static_cast<int>(out.size()) == q.limit) break;
    }
    return out;
  }
  absl::StatusOr<std::vector<FeedbackChange>> ListChanges(const std::optional<std::string>& tenant,
                                                          int64_t after, int limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<FeedbackChange> out;
    for (const auto& r : rows_) {
      if (r.f.sequence() <= after || (tenant && *tenant != r.tenant)) continue;
      FeedbackChange c;
      c.set_sequence(r.f.sequence());
      c.set_tenant(r.tenant);
      *c.mutable_feedback_created() = r.f;
      out.push_back(c);
      if (static_cast<int>(out.size()) == limit) break;
    }
    return out;
  }
  absl::StatusOr<std::optional<v1::FollowUp>> GetFollowUp(const std::string& tenant, int64_t id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = follow_ups_.find({tenant, id});
    if (it == follow_ups_.end()) return std::optional<v1::FollowUp>();
    return std::optional<v1::FollowUp>(it->second);
  }
  absl::StatusOr<std::vector<v1::FollowUp>> ListFollowUps(const FollowUpQuery& q) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<v1::FollowUp> out;
    for (auto it = follow_ups_.rbegin(); it != follow_ups_.rend(); ++it) {
      if (it->first.first == q.filter.tenant) out.push_back(it->second);
    }
    return out;
  }
  absl::StatusOr<v1::FollowUp> UpdateFollowUp(const std::string& tenant, int64_t id,
                                              const std::function<absl::Status(v1::FollowUp*)>& update) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = follow_ups_.find({tenant, id});
    if (it == follow_ups_.end()) return absl::NotFoundError("no such case");
    v1::FollowUp copy = it->second;
    if (auto s = update(&copy); !s.ok()) return s;
    it->second = copy;
    return copy;
  }
  absl::StatusOr<FollowUpCounts> CountFollowUps(const std::string&, std::optional<int64_t>,
                                                std::optional<int64_t>) override {
    return FollowUpCounts{};
  }
  absl::StatusOr<std::optional<StoredRules>> GetRules(const std::string& tenant, RulesKind kind) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = rules_.find({tenant, kind});
    if (it == rules_.end()) return std::optional<StoredRules>();
    return std::optional<StoredRules>(it->second);
  }
  absl::Status PutRules(const std::string& tenant, RulesKind kind, const StoredRules& rules) override {
    std::lock_guard<std::mutex> lock(mu_);
    rules_[{tenant, kind}] = rules;
    return absl::OkStatus();
  }
  absl::StatusOr<cx::common::v1::Erasure> EraseCustomer(const EraseInput& in) override {
    std::lock_guard<std::mutex> lock(mu_);
    cx::common::v1::Erasure out = in.erasure;
    if (!erased_.insert({in.tenant, in.customer_id}).second) {
      out.set_already_erased(true);
      return out;
    }
    const size_t before = rows_.size();
    rows_.erase(std::remove_if(rows_.begin(), rows_.end(),
                               [&](const Row& r) { return r.tenant == in.tenant && r.f.customer_id() == in.customer_id; }),
                rows_.end());
    keys_.clear();
    for (size_t i = 0; i < rows_.size(); ++i) keys_[{rows_[i].tenant, rows_[i].f.request_id()}] = i;
    out.set_records_erased(static_cast<int64_t>(before - rows_.size()));
    return out;
  }
  absl::StatusOr<std::vector<Feedback>> CustomerFeedback(const std::string& tenant, const std::string& customer_id,
                                                         int64_t after, int limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Feedback> out;
    for (const auto& r : rows_) {
      if (r.tenant != tenant || r.f.customer_id() != customer_id || r.f.sequence() <= after) continue;
      out.push_back(r.f);
      if (static_cast<int>(out.size()) == limit) break;
    }
    return out;
  }
  absl::Status Ping() override { return absl::OkStatus(); }

  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return rows_.size();
  }
  // Write blocks until `gate` is ready; `entered` is set when it first blocks.
  void set_gate(std::shared_future<void> gate, std::promise<void> entered) {
    gate_ = std::move(gate);
    entered_ = std::move(entered);
  }
  void set_fail_writes(bool fail) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_writes_ = fail;
  }

 private:
  struct Row {
    std::string tenant;
    std::string hash;
    Feedback f;
  };
  std::mutex mu_;
  std::vector<Row> rows_;
  std::map<std::pair<std::string, std::string>, size_t> keys_;
  std::map<std::pair<std::string, int64_t>, v1::FollowUp> follow_ups_;
  std::map<std::pair<std::string, RulesKind>, StoredRules> rules_;
  std::set<std::pair<std::string, std::string>> erased_;  // (tenant, customer)
  int64_t next_ = 0;
  int commits_ = 0;
  bool fail_writes_ = false;
  std::optional<std::shared_future<void>> gate_;
  std::optional<std::promise<void>> entered_;
};

const absl::Time kNow = absl::FromUnixSeconds(1'750'000'000);

v1::SubmitFeedbackRequest ValidRequest(const std::string& id = "req-1") {
  v1::SubmitFeedbackRequest r;
  r.set_request_id(id);
  auto* f = r.mutable_feedback();
  f->set_customer_id("cust-1");
  f->set_kind(v1::FEEDBACK_KIND_NPS);
  f->set_score(9);
  f->set_comment("Great service");
  f->set_source(cx::common::v1::SOURCE_SURVEY);
  f->set_channel(cx::common::v1::CHANNEL_EMAIL);
  f->add_tags("delivery");
  return r;
}

class FeedbackManagerTest : public ::testing::Test {
 protected:
  FeedbackManagerTest() {
    repo_ = std::make_shared<FakeRepository>();
    FeedbackManagerOptions options;
    options.clock = [] { return kNow; };
    options.page_token_key = "test-key";
    manager_ = std::make_unique<FeedbackManager>(repo_, std::make_shared<TenantRules>(repo_, options.clock), options);
    acme_.tenant = "acme";
    acme_.roles = shared::kRoleAdmin;
  }

  absl::StatusOr<v1::SubmitFeedbackResponse> Submit(const v1::SubmitFeedbackRequest& r) {
    std::promise<absl::StatusOr<v1::SubmitFeedbackResponse>> p;
    manager_->Submit(acme_, r, [&](auto result) { p.set_value(std::move(result)); });
    return p.get_future().get();
  }
  absl::StatusOr<v1::BatchSubmitFeedbackResponse> Batch(const v1::BatchSubmitFeedbackRequest& r) {
    std::promise<absl::StatusOr<v1::BatchSubmitFeedbackResponse>> p;
    manager_->BatchSubmit(acme_, r, [&](auto result) { p.set_value(std::move(result)); });
    return p.get_future().get();
  }

  std::shared_ptr<FakeRepository> repo_;
  std::unique_ptr<FeedbackManager> manager_;
  shared::Principal acme_;
};

TEST_F(FeedbackManagerTest, StoresWithDerivedFields) {
  auto r = Submit(ValidRequest());
  ASSERT_TRUE(r.ok()) << r.status();
  const auto& f = r->feedback();
  EXPECT_EQ(f.nps_category(), v1::NPS_CATEGORY_PROMOTER);
  EXPECT_EQ(f.source_category(), cx::common::v1::SOURCE_CATEGORY_DIRECT);
  EXPECT_EQ(TimeUtil::TimestampToSeconds(f.received_at()), absl::ToUnixSeconds(kNow));
  EXPECT_EQ(f.occurred_at().seconds(), f.received_at().seconds());  // defaulted
  EXPECT_EQ(f.request_id(), "req-1");
  EXPECT_EQ(f.name(), "feedback/1");
}

TEST_F(FeedbackManagerTest, NpsCategoriesFollowTheScale) {
  for (auto [score, category] : std::vector<std::pair<int, v1::NpsCategory>>{
           {0, v1::NPS_CATEGORY_DETRACTOR}, {6, v1::NPS_CATEGORY_DETRACTOR}, {7, v1::NPS_CATEGORY_PASSIVE},
           {8, v1::NPS_CATEGORY_PASSIVE}, {9, v1::NPS_CATEGORY_PROMOTER}, {10, v1::NPS_CATEGORY_PROMOTER}}) {
    auto req = ValidRequest(absl::StrCat("s", score));
    req.mutable_feedback()->set_score(score);
    auto r = Submit(req);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->feedback().nps_category(), category) << score;
  }
}

struct BadCase {
  const char* name;
  std::function<void(v1::SubmitFeedbackRequest*)> mutate;
  const char* field;
};

TEST_F(FeedbackManagerTest, EveryBadInputNamesItsFieldAndStoresNothing) {
  const std::vector<BadCase> cases = {
      {"no request id", [](auto* r) { r->clear_request_id(); }, "request_id"},
      {"request id with space", [](auto* r) { r->set_request_id("a b"); }, "request_id"},
      {"no feedback", [](auto* r) { r->clear_feedback(); }, "feedback"},
      {"missing customer", [](auto* r) { r->mutable_feedback()->clear_customer_id(); }, "feedback.customer_id"},
      {"NPS above 10", [](auto* r) { r->mutable_feedback()->set_score(11); }, "feedback.score"},
      {"NPS below 0", [](auto* r) { r->mutable_feedback()->set_score(-1); }, "feedback.score"},
      {"CSAT 0", [](auto* r) { r->mutable_feedback()->set_kind(v1::FEEDBACK_KIND_CSAT); r->mutable_feedback()->set_score(0); }, "feedback.score"},
      {"CSAT 6", [](auto* r) { r->mutable_feedback()->set_kind(v1::FEEDBACK_KIND_CSAT); r->mutable_feedback()->set_score(6); }, "feedback.score"},
      {"CES 8", [](auto* r) { r->mutable_feedback()->set_kind(v1::FEEDBACK_KIND_CES); r->mutable_feedback()->set_score(8); }, "feedback.score"},
      {"stars 0", [](auto* r) { r->mutable_feedback()->set_kind(v1::FEEDBACK_KIND_STAR_RATING); r->mutable_feedback()->set_score(0); }, "feedback.score"},
      {"score missing", [](auto* r) { r->mutable_feedback()->clear_score(); }, "feedback.score"},
      {"comment kind with score", [](auto* r) { r->mutable_feedback()->set_kind(v1::FEEDBACK_KIND_COMMENT); }, "feedback.score"},
      {"comment kind without comment", [](auto* r) { auto* f = r->mutable_feedback(); f->set_kind(v1::FEEDBACK_KIND_COMMENT); f->clear_score(); f->clear_comment(); }, "feedback.comment"},
      {"over-long comment", [](auto* r) { r->mutable_feedback()->set_comment(std::string(4001, 'x')); }, "feedback.comment"},
      {"invalid UTF-8 comment", [](auto* r) { r->mutable_feedback()->set_comment("bad \xff"); }, "feedback.comment"},
      {"no kind", [](auto* r) { r->mutable_feedback()->clear_kind(); }, "feedback.kind"},
      {"unknown kind", [](auto* r) { r->mutable_feedback()->set_kind(static_cast<v1::FeedbackKind>(42)); }, "feedback.kind"},
      {"unknown channel", [](auto* r) { r->mutable_feedback()->set_channel(static_cast<cx::common::v1::Channel>(77)); }, "feedback.channel"},
      {"no source", [](auto* r) { r->mutable_feedback()->clear_source(); }, "feedback.source"},
      {"unknown stage", [](auto* r) { r->mutable_feedback()->set_journey_stage(static_cast<cx::common::v1::JourneyStage>(9)); }, "feedback.journey_stage"},
      {"bad tag", [](auto* r) { r->mutable_feedback()->add_tags("has,comma"); }, "feedback.tags[1]"},
      {"too many tags", [](auto* r) { for (int i = 0; i < 21; ++i) r->mutable_feedback()->add_tags("t"); }, "feedback.tags"},
      {"bad crm system", [](auto* r) { r->mutable_feedback()->mutable_crm_reference()->set_system("Sales Force"); r->mutable_feedback()->mutable_crm_reference()->set_id("1"); }, "feedback.crm_reference.system"},
      {"future occurred_at", [](auto* r) { *r->mutable_feedback()->mutable_occurred_at() = TimeUtil::SecondsToTimestamp(absl::ToUnixSeconds(kNow) + 3600); }, "feedback.occurred_at"},
      {"ancient occurred_at", [](auto* r) { *r->mutable_feedback()->mutable_occurred_at() = TimeUtil::SecondsToTimestamp(100); }, "feedback.occurred_at"},
      {"bad locale", [](auto* r) { r->mutable_feedback()->set_locale("en US"); }, "feedback.locale"},
  };
  for (const auto& c : cases) {
    auto req = ValidRequest(absl::StrCat("bad-", c.name));
    for (auto& ch : *req.mutable_request_id()) if (ch == ' ') ch = '_';
    c.mutate(&req);
    EXPECT_THAT(Submit(req), StatusIsField(absl::StatusCode::kInvalidArgument, c.field)) << c.name;
  }
  EXPECT_EQ(repo_->size(), 0u);
}

TEST_F(FeedbackManagerTest, EveryKindAcceptsItsWholeScale) {
  int n = 0;
  for (auto [kind, lo, hi] : std::vector<std::tuple<v1::FeedbackKind, int, int>>{
           {v1::FEEDBACK_KIND_NPS, 0, 10}, {v1::FEEDBACK_KIND_CSAT, 1, 5},
           {v1::FEEDBACK_KIND_CES, 1, 7}, {v1::FEEDBACK_KIND_STAR_RATING, 1, 5}}) {
    for (int s = lo; s <= hi; ++s) {
      auto req = ValidRequest(absl::StrCat("k", n++));
      req.mutable_feedback()->set_kind(kind);
      req.mutable_feedback()->set_score(s);
      EXPECT_TRUE(Submit(req).ok()) << kind << " " << s;
    }
  }
  auto comment = ValidRequest("comment-only");
  comment.mutable_feedback()->set_kind(v1::FEEDBACK_KIND_COMMENT);
  comment.mutable_feedback()->clear_score();
  EXPECT_TRUE(Submit(comment).ok());
}

TEST_F(FeedbackManagerTest, RetryReturnsTheSameResponseAndOtherPayloadIsRefused) {
  auto first = Submit(ValidRequest("same"));
  auto second = Submit(ValidRequest("same"));
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_TRUE(MessageDifferencer::Equals(*first, *second));
  auto changed = ValidRequest("same");
  changed.mutable_feedback()->set_score(2);
  EXPECT_THAT(Submit(changed), StatusIsField(absl::StatusCode::kAlreadyExists, "request_id"));
  EXPECT_EQ(repo_->size(), 1u);
}

TEST_F(FeedbackManagerTest, OutputOnlyFieldsDoNotChangeThePayload) {
  ASSERT_TRUE(Submit(ValidRequest("oo")).ok());
  auto retry = ValidRequest("oo");
  retry.mutable_feedback()->set_name("feedback/999");
  retry.mutable_feedback()->set_sequence(999);
  auto r = Submit(retry);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->feedback().sequence(), 1);
}

TEST_F(FeedbackManagerTest, BatchGivesEachItemItsOwnResult) {
  ASSERT_TRUE(Submit(ValidRequest("existing")).ok());
  v1::BatchSubmitFeedbackRequest batch;
  *batch.add_requests() = ValidRequest("new-1");
  auto bad = ValidRequest("new-2");
  bad.mutable_feedback()->set_score(42);
  *batch.add_requests() = bad;
  *batch.add_requests() = ValidRequest("existing");
  *batch.add_requests() = ValidRequest("new-3");
  auto r = Batch(batch);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->results_size(), 4);
  EXPECT_EQ(r->results(0).outcome(), cx::common::v1::ITEM_OUTCOME_ACCEPTED);
  EXPECT_EQ(r->results(1).outcome(), cx::common::v1::ITEM_OUTCOME_REJECTED);
  EXPECT_EQ(r->results(1).error().code(), 3);
  ASSERT_EQ(r->results(1).error().field_violations_size(), 1);
  EXPECT_EQ(r->results(1).error().field_violations(0).field(), "requests[1].feedback.score");
  EXPECT_EQ(r->results(2).outcome(), cx::common::v1::ITEM_OUTCOME_DUPLICATE);
  EXPECT_EQ(r->results(2).feedback().sequence(), 1);
  EXPECT_EQ(r->results(3).outcome(), cx::common::v1::ITEM_OUTCOME_ACCEPTED);
  EXPECT_EQ(r->accepted_count(), 2);
  EXPECT_EQ(r->duplicate_count(), 1);
  EXPECT_EQ(r->rejected_count(), 1);
  EXPECT_EQ(repo_->size(), 3u);
}

TEST_F(FeedbackManagerTest, BatchSizeIsCapped) {
  v1::BatchSubmitFeedbackRequest batch;
  EXPECT_THAT(Batch(batch), StatusIsField(absl::StatusCode::kInvalidArgument, "requests"));
  for (int i = 0; i <= limits::kMaxBatchItems; ++i) *batch.add_requests() = ValidRequest(absl::StrCat("b", i));
  EXPECT_THAT(Batch(batch), StatusIsField(absl::StatusCode::kInvalidArgument, "requests"));
  EXPECT_EQ(repo_->size(), 0u);
  batch.mutable_requests()->RemoveLast();
  auto r = Batch(batch);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->accepted_count(), limits::kMaxBatchItems);
}

TEST_F(FeedbackManagerTest, DatabaseFailureIsUnavailableAndRetrySucceeds) {
  repo_->set_fail_writes(true);
  EXPECT_THAT(Submit(ValidRequest("r")), StatusIs(absl::StatusCode::kUnavailable));
  repo_->set_fail_writes(false);
  EXPECT_TRUE(Submit(ValidRequest("r")).ok());
  EXPECT_EQ(repo_->size(), 1u);
}

TEST(FeedbackManagerQueueTest, AFullWriteQueueAnswersResourceExhaustedAndStoresNothingForIt) {
  auto repo = std::make_shared<FakeRepository>();
  std::promise<void> gate, entered;
  auto writer_busy = entered.get_future();
  repo->set_gate(gate.get_future().share(), std::move(entered));
  FeedbackManagerOptions options;
  options.commit.capacity_rows = 1;
  FeedbackManager manager(repo, std::make_shared<TenantRules>(repo, options.clock), options);
  shared::Principal acme{"acme", shared::kRoleIngest};
  std::vector<std::promise<absl::StatusOr<v1::SubmitFeedbackResponse>>> results(3);
  // The first is taken by the writer (held at the gate), the second fills
  // the queue, the third finds it full.
  manager.Submit(acme, ValidRequest("q1"), [&](auto r) { results[0].set_value(std::move(r)); });
  writer_busy.wait();  // q1 has left the queue; the writer holds it
  manager.Submit(acme, ValidRequest("q2"), [&](auto r) { results[1].set_value(std::move(r)); });
  manager.Submit(acme, ValidRequest("q3"), [&](auto r) { results[2].set_value(std::move(r)); });
  auto third = results[2].get_future().get();
  EXPECT_THAT(third, StatusIs(absl::StatusCode::kResourceExhausted));
  gate.set_value();
  EXPECT_TRUE(results[0].get_future().get().ok());
  EXPECT_TRUE(results[1].get_future().get().ok());
  manager.Stop();
  EXPECT_EQ(repo->size(), 2u);
}

TEST_F(FeedbackManagerTest, PagingWalksEverythingOnceAndTokensAreBound) {
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(Submit(ValidRequest(absl::StrCat("p", i))).ok());
  v1::ListFeedbackRequest req;
  req.set_page_size(3);
  std::vector<int64_t> seen;
  std::string first_token;
  while (true) {
    auto page = manager_->List(acme_, req);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& f : page->feedback()) seen.push_back(f.sequence());
    if (page->next_page_token().empty()) break;
    if (first_token.empty()) first_token = page->next_page_token();
    req.set_page_token(page->next_page_token());
  }
  EXPECT_EQ(seen, (std::vector<int64_t>{7, 6, 5, 4, 3, 2, 1}));

  v1::ListFeedbackRequest other_filter;
  other_filter.set_customer_id("someone-else");
  other_filter.set_page_token(first_token);
  EXPECT_THAT(manager_->List(acme_, other_filter), StatusIsField(absl::StatusCode::kInvalidArgument, "page_token"));
  shared::Principal globex{"globex", shared::kRoleAdmin};
  v1::ListFeedbackRequest stolen;
  stolen.set_page_token(first_token);
  EXPECT_THAT(manager_->List(globex, stolen), StatusIsField(absl::StatusCode::kInvalidArgument, "page_token"));
  v1::ListFeedbackRequest forged;
  forged.set_page_token("MTAwLDE=");
  EXPECT_THAT(manager_->List(acme_, forged), StatusIsField(absl::StatusCode::kInvalidArgument, "page_token"));
  v1::ListFeedbackRequest too_big;
  too_big.set_page_size(limits::kMaxPageSize + 1);
  EXPECT_THAT(manager_->List(acme_, too_big), StatusIsField(absl::StatusCode::kInvalidArgument, "page_size"));
}

TEST_F(FeedbackManagerTest, GetChecksTheNameAndTheTenant) {
  ASSERT_TRUE(Submit(ValidRequest()).ok());
  v1::GetFeedbackRequest req;
  req.set_name("feedback/1");
  EXPECT_TRUE(manager_->Get(acme_, req).ok());
  shared::Principal globex{"globex", shared::kRoleAdmin};
  EXPECT_THAT(manager_->Get(globex, req), StatusIs(absl::StatusCode::kNotFound));
  req.set_name("feedback/abc");
  EXPECT_THAT(manager_->Get(acme_, req), StatusIsField(absl::StatusCode::kInvalidArgument, "name"));
}

TEST_F(FeedbackManagerTest, ChangesAreScopedToTheCallersTenantUnlessService) {
  ASSERT_TRUE(Submit(ValidRequest()).ok());
  shared::Principal globex{"globex", shared::kRoleAdmin};
  v1::SubmitFeedbackRequest g = ValidRequest("g");
  std::promise<void> p;
  manager_->Submit(globex, g, [&](auto) { p.set_value(); });
  p.get_future().wait();
  v1::ListChangesRequest req;
  auto acme = manager_->ListChanges(acme_, req);
  ASSERT_TRUE(acme.ok());
  EXPECT_EQ(acme->changes_size(), 1);
  shared::Principal service{"*", shared::kRoleService};
  auto all = manager_->ListChanges(service, req);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->changes_size(), 2);
  EXPECT_EQ(all->next_after_sequence(), 2);
  req.set_limit(shared::kMaxChangesLimit + 1);
  EXPECT_THAT(manager_->ListChanges(acme_, req), StatusIsField(absl::StatusCode::kInvalidArgument, "limit"));
}

}  // namespace
}  // namespace cx::feedback
