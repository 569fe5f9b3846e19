// JourneyManager over an in-memory SQLite repository: the bad-input table
// (right code, field named, nothing stored), event preparation, identity and
// customer rules at the manager's edge, and journey paging.
#include "journey-service/journey_manager.h"

#include <future>

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "journey-service/sql_journey_repository.h"
#include "shared/proto_util.h"
#include "shared/testing/test_util.h"

namespace cx::journey {
namespace {

using google::protobuf::util::TimeUtil;
using shared::testing::StatusIs;
using shared::testing::StatusIsField;

const absl::Time kNow = absl::FromUnixSeconds(1'760'000'000);

class JourneyManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pool = shared::db::OpenDatabase("sqlite::memory:", "", 1);
    ASSERT_TRUE(pool.ok());
    auto repo = OpenJourneyRepository(*pool);
    ASSERT_TRUE(repo.ok());
    repo_ = *repo;
    JourneyManagerOptions options;
    options.clock = [this] { return now_; };
    options.page_token_key = "test-key";
    manager_ = std::make_unique<JourneyManager>(repo_, options);
    v1::UpsertCustomerRequest u;
    u.set_customer_id("c1");
    u.set_source_system("crm");
    *u.mutable_source_updated_at() = shared::ToProtoTime(kNow);
    CX_ASSERT_OK(manager_->UpsertCustomer(acme_, u));
  }

  absl::StatusOr<v1::RecordEventResponse> Record(const v1::Event& e, const shared::Principal& p) {
    std::promise<absl::StatusOr<v1::RecordEventResponse>> done;
    v1::RecordEventRequest request;
    *request.mutable_event() = e;
    manager_->RecordEvent(p, request, [&](absl::StatusOr<v1::RecordEventResponse> r) { done.set_value(std::move(r)); });
    return done.get_future().get();
  }
  absl::StatusOr<v1::RecordEventResponse> Record(const v1::Event& e) { return Record(e, acme_); }

  absl::StatusOr<v1::BatchRecordEventsResponse> Batch(const v1::BatchRecordEventsRequest& request) {
    std::promise<absl::StatusOr<v1::BatchRecordEventsResponse>> done;
    manager_->BatchRecordEvents(acme_, request, [&](auto r) { done.set_value(std::move(r)); });
    return done.get_future().get();
  }

  static v1::Event Valid(const std::string& id = "e1") {
    v1::Event e;
    e.set_event_id(id);
    e.set_customer_id("c1");
    e.set_type("order_placed");
    e.set_channel(cx::common::v1::CHANNEL_WEB);
    e.set_touchpoint_id("checkout");
    *e.mutable_occurred_at() = shared::ToProtoTime(kNow - absl::Minutes(3));
    e.mutable_revenue()->set_currency_code("EUR");
    e.mutable_revenue()->set_amount_minor(4999);
    (*e.mutable_properties())["sku"] = "A-1";
    return e;
  }

  size_t Changes() {
    auto changes = repo_->ListChanges(std::nullopt, 0, 1000);
    return changes.ok() ? changes->size() : 0;
  }

  absl::Time now_ = kNow;
  shared::Principal acme_{"acme", shared::kRoleAdmin, "token:acme"};
  std::shared_ptr<JourneyRepository> repo_;
  std::unique_ptr<JourneyManager> manager_;
};

TEST_F(JourneyManagerTest, EveryBadEventNamesItsFieldAndStoresNothing) {
  struct Case {
    const char* what;
    std::function<void(v1::Event*)> edit;
    const char* field;
    absl::StatusCode code = absl::StatusCode::kInvalidArgument;
  };
  const std::string long_value(1025, 'x');
  std::vector<Case> cases = {
      {"event_id missing", [](v1::Event* e) { e->clear_event_id(); }, "event.event_id"},
      {"event_id with space", [](v1::Event* e) { e->set_event_id("a b"); }, "event.event_id"},
      {"no identity", [](v1::Event* e) { e->clear_customer_id(); }, "event.customer_id"},
      {"bad anonymous_id", [](v1::Event* e) { e->set_anonymous_id(std::string(129, 'a')); }, "event.anonymous_id"},
      {"type missing", [](v1::Event* e) { e->clear_type(); }, "event.type"},
      {"type upper case", [](v1::Event* e) { e->set_type("OrderPlaced"); }, "event.type"},
      {"unknown channel", [](v1::Event* e) { e->set_channel(static_cast<cx::common::v1::Channel>(99)); }, "event.channel"},
      {"unknown stage", [](v1::Event* e) { e->set_stage(static_cast<cx::common::v1::JourneyStage>(9)); }, "event.stage"},
      {"negative revenue", [](v1::Event* e) { e->mutable_revenue()->set_amount_minor(-1); }, "event.revenue.amount_minor"},
      {"bad currency", [](v1::Event* e) { e->mutable_revenue()->set_currency_code("euro"); }, "event.revenue.currency_code"},
      {"properties over the cap",
       [](v1::Event* e) {
         for (int i = 0; i < 51; ++i) (*e->mutable_properties())[absl::StrCat("k", i)] = "v";
       },
       "event.properties"},
      {"property value too long", [&](v1::Event* e) { (*e->mutable_properties())["sku"] = long_value; }, "event.properties[sku]"},
      {"property key with space", [](v1::Event* e) { (*e->mutable_properties())["a b"] = "v"; }, "event.properties[a b]"},
      {"property not UTF-8", [](v1::Event* e) { (*e->mutable_properties())["sku"] = "\xff\xfe"; }, "event.properties[sku]"},
      {"occurred in the future", [](v1::Event* e) { *e->mutable_occurred_at() = shared::ToProtoTime(kNow + absl::Hours(1)); }, "event.occurred_at"},
      {"occurred before 2000", [](v1::Event* e) { *e->mutable_occurred_at() = TimeUtil::SecondsToTimestamp(100); }, "event.occurred_at"},
      {"invalid timestamp", [](v1::Event* e) { e->mutable_occurred_at()->set_nanos(-1); }, "event.occurred_at"},
      {"sent_at without occurred_at", [](v1::Event* e) { e->clear_occurred_at(); *e->mutable_sent_at() = shared::ToProtoTime(kNow); }, "event.occurred_at"},
      {"bad session id", [](v1::Event* e) { e->set_session_id("a\tb"); }, "event.session_id"},
      {"unknown customer", [](v1::Event* e) { e->set_customer_id("nobody"); }, "event.customer_id", absl::StatusCode::kNotFound},
  };
  for (const auto& c : cases) {
    v1::Event e = Valid(absl::StrCat("bad-", &c - cases.data()));
    c.edit(&e);
    EXPECT_THAT(Record(e), StatusIsField(c.code, c.field)) << c.what;
  }
  // Another tenant's customer looks exactly like a missing one.
  shared::Principal globex{"globex", shared::kRoleAdmin, "token:globex"};
  EXPECT_THAT(Record(Valid("other"), globex), StatusIsField(absl::StatusCode::kNotFound, "event.customer_id"));
  EXPECT_EQ(Changes(), 1u);  // only the customer of SetUp
}

TEST_F(JourneyManagerTest, ABatchRejectsOnlyItsBadItemsAndNamesThemByPosition) {
  v1::BatchRecordEventsRequest batch;
  *batch.add_events() = Valid("ok-1");
  v1::Event bad = Valid("bad");
  bad.mutable_revenue()->set_amount_minor(-5);
  *batch.add_events() = bad;
  v1::Event unknown = Valid("unknown");
  unknown.set_customer_id("ghost");
  *batch.add_events() = unknown;
  *batch.add_events() = Valid("ok-1");  // repeated inside the batch
  auto r = Batch(batch);
  CX_ASSERT_OK(r);
  EXPECT_EQ(r->accepted_count(), 1);
  EXPECT_EQ(r->duplicate_count(), 1);
  EXPECT_EQ(r->rejected_count(), 2);
  EXPECT_EQ(r->results(1).error().field_violations(0).field(), "events[1].revenue.amount_minor");
  EXPECT_EQ(r->results(2).error().code(), static_cast<int>(absl::StatusCode::kNotFound));
  EXPECT_EQ(r->results(2).event_id(), "unknown");
  EXPECT_EQ(r->results(2).error().field_violations(0).field(), "events[2].customer_id");
  EXPECT_EQ(r->results(3).event().sequence(), r->results(0).event().sequence());

  v1::BatchRecordEventsRequest empty;
  EXPECT_THAT(Batch(empty), StatusIsField(absl::StatusCode::kInvalidArgument, "events"));
  v1::BatchRecordEventsRequest too_many;
  for (int i = 0; i < limits::kMaxBatchEvents + 1; ++i) *too_many.add_events() = Valid(absl::StrCat("m", i));
  EXPECT_THAT(Batch(too_many), StatusIsField(absl::StatusCode::kInvalidArgument, "events"));
  EXPECT_EQ(Changes(), 2u);
}

TEST_F(JourneyManagerTest, TheSameEventIdThreeTimesIsStoredOnceAndAnotherPayloadIsRefused) {
  auto first = Record(Valid());
  CX_ASSERT_OK(first);
  EXPECT_EQ(first->outcome(), cx::common::v1::ITEM_OUTCOME_ACCEPTED);
  for (int i = 0; i < 2; ++i) {
    now_ += absl::Seconds(10);  // a retry arrives later: still the same event
    auto again = Record(Valid());
    CX_ASSERT_OK(again);
    EXPECT_EQ(again->outcome(), cx::common::v1::ITEM_OUTCOME_DUPLICATE);
    EXPECT_EQ(again->event().SerializeAsString(), first->event().SerializeAsString());
  }
  v1::Event changed = Valid();
  changed.set_type("refund_issued");
  EXPECT_THAT(Record(changed), StatusIsField(absl::StatusCode::kAlreadyExists, "event.event_id"));
  // Output-only fields sent by a client do not make it another payload.
  v1::Event with_output = Valid();
  with_output.set_sequence(77);
  with_output.set_clock_corrected(true);
  EXPECT_EQ(Record(with_output)->outcome(), cx::common::v1::ITEM_OUTCOME_DUPLICATE);
  EXPECT_EQ(Changes(), 2u);
}

TEST_F(JourneyManagerTest, EventsGetReceivedAtAndClockSkewIsCorrected) {
  v1::Event plain = Valid("plain");
  plain.clear_occurred_at();
  auto r = Record(plain);
  CX_ASSERT_OK(r);
  EXPECT_EQ(shared::ToTime(r->event().received_at()), kNow);
  EXPECT_EQ(shared::ToTime(r->event().event_time()), kNow);

  // A phone whose clock runs 3 hours ahead: occurred and sent are both off.
  v1::Event skewed = Valid("skewed");
  *skewed.mutable_occurred_at() = shared::ToProtoTime(kNow + absl::Hours(3) - absl::Minutes(2));
  *skewed.mutable_sent_at() = shared::ToProtoTime(kNow + absl::Hours(3));
  auto s = Record(skewed);
  CX_ASSERT_OK(s);
  EXPECT_TRUE(s->event().clock_corrected());
  EXPECT_EQ(shared::ToTime(s->event().event_time()), kNow - absl::Minutes(2));
  EXPECT_EQ(s->event().resolved_stage(), cx::common::v1::JOURNEY_STAGE_PURCHASE);
  EXPECT_EQ(s->event().owner().customer_id(), "c1");
}

TEST_F(JourneyManagerTest, BadCustomerIdentityAndMappingRequestsNameTheirFields) {
  v1::UpsertCustomerRequest u;
  u.set_source_system("Sales Force");
  u.mutable_traits()->set_email("not-an-address");
  u.mutable_traits()->set_phone("12345");
  u.mutable_traits()->set_country("Germany");
  for (int i = 0; i < 51; ++i) (*u.mutable_traits()->mutable_custom())[absl::StrCat("k", i)] = "v";
  auto* ref = u.add_crm_references();
  ref->set_system("SF");
  ref->set_id("1");
  const auto bad = manager_->UpsertCustomer(acme_, u);
  for (const char* field : {"source_system", "source_updated_at", "traits.email", "traits.phone", "traits.country",
                            "traits.custom", "crm_references[0].system"}) {
    EXPECT_THAT(bad, StatusIsField(absl::StatusCode::kInvalidArgument, field)) << field;
  }
  v1::UpsertCustomerRequest nobody;
  nobody.set_source_system("crm");
  *nobody.mutable_source_updated_at() = shared::ToProtoTime(kNow);
  EXPECT_THAT(manager_->UpsertCustomer(acme_, nobody), StatusIsField(absl::StatusCode::kInvalidArgument, "customer_id"));

  v1::MergeCustomersRequest merge;
  EXPECT_THAT(manager_->MergeCustomers(acme_, merge), StatusIsField(absl::StatusCode::kInvalidArgument, "source"));
  merge.mutable_source()->set_customer_id("c1");
  merge.set_target_customer_id("c1");
  merge.set_reason("self");
  EXPECT_THAT(manager_->MergeCustomers(acme_, merge),
              StatusIsField(absl::StatusCode::kInvalidArgument, "source.customer_id"));
  merge.set_target_customer_id("c2");
  merge.clear_reason();
  EXPECT_THAT(manager_->MergeCustomers(acme_, merge), StatusIsField(absl::StatusCode::kInvalidArgument, "reason"));
  merge.set_reason("dup");
  EXPECT_THAT(manager_->MergeCustomers(acme_, merge), StatusIsField(absl::StatusCode::kNotFound, "target_customer_id"));

  v1::UnmergeCustomersRequest unmerge;
  unmerge.set_merge_id("abc");
  EXPECT_THAT(manager_->UnmergeCustomers(acme_, unmerge), StatusIsField(absl::StatusCode::kInvalidArgument, "merge_id"));

  v1::SetStageMappingRequest mapping;
  (*mapping.mutable_overrides())["Bad Type"] = cx::common::v1::JOURNEY_STAGE_PURCHASE;
  EXPECT_THAT(manager_->SetStageMapping(acme_, mapping),
              StatusIsField(absl::StatusCode::kInvalidArgument, "overrides[Bad Type]"));
  v1::SetStageMappingRequest unknown_stage;
  (*unknown_stage.mutable_overrides())["webinar"] = static_cast<cx::common::v1::JourneyStage>(42);
  EXPECT_THAT(manager_->SetStageMapping(acme_, unknown_stage),
              StatusIsField(absl::StatusCode::kInvalidArgument, "overrides[webinar]"));
  EXPECT_TRUE(repo_->GetStageOverrides("acme")->empty());

  v1::GetJourneyRequest journey;
  EXPECT_THAT(manager_->GetJourney(acme_, journey), StatusIsField(absl::StatusCode::kInvalidArgument, "identity"));
  journey.mutable_identity()->set_customer_id("c1");
  journey.set_page_size(5000);
  EXPECT_THAT(manager_->GetJourney(acme_, journey), StatusIsField(absl::StatusCode::kInvalidArgument, "page_size"));
  v1::ListCustomersRequest list;
  list.set_crm_system("Bad System");
  list.set_current_stage(static_cast<cx::common::v1::JourneyStage>(8));
  auto listed = manager_->ListCustomers(acme_, list);
  EXPECT_THAT(listed, StatusIsField(absl::StatusCode::kInvalidArgument, "crm_system"));
  EXPECT_THAT(listed, StatusIsField(absl::StatusCode::kInvalidArgument, "current_stage"));
  v1::ListChangesRequest changes;
  changes.set_after_sequence(-1);
  EXPECT_THAT(manager_->ListChanges(acme_, changes), StatusIsField(absl::StatusCode::kInvalidArgument, "after_sequence"));
  EXPECT_EQ(Changes(), 1u);
}

TEST_F(JourneyManagerTest, JourneyPagesWalkTheTimelineOnceAndTokensAreBoundToTheIdentity) {
  for (int i = 0; i < 25; ++i) {
    v1::Event e = Valid(absl::StrCat("e", 100 + i));
    e.set_type(i < 10 ? "page_view" : i < 20 ? "order_placed" : "review_posted");
    *e.mutable_occurred_at() = shared::ToProtoTime(kNow - absl::Minutes(60 - i));
    CX_ASSERT_OK(Record(e));
  }
  v1::GetJourneyRequest request;
  request.mutable_identity()->set_customer_id("c1");
  request.set_page_size(10);
  std::vector<std::string> seen;
  std::string token;
  do {
    request.set_page_token(token);
    auto page = manager_->GetJourney(acme_, request);
    CX_ASSERT_OK(page);
    EXPECT_EQ(page->total_events(), 25);
    EXPECT_EQ(page->transitions_size(), 3);
    EXPECT_EQ(page->current_stage(), cx::common::v1::JOURNEY_STAGE_ADVOCACY);
    for (const auto& e : page->events()) seen.push_back(e.event_id());
    token = page->next_page_token();
  } while (!token.empty());
  ASSERT_EQ(seen.size(), 25u);
  for (int i = 0; i < 25; ++i) EXPECT_EQ(seen[i], absl::StrCat("e", 100 + i));

  request.set_page_token("");
  auto first = manager_->GetJourney(acme_, request);
  v1::GetJourneyRequest other = request;
  other.mutable_identity()->set_anonymous_id("someone");
  other.set_page_token(first->next_page_token());
  EXPECT_THAT(manager_->GetJourney(acme_, other), StatusIsField(absl::StatusCode::kInvalidArgument, "page_token"));
  shared::Principal globex{"globex", shared::kRoleAdmin, "token:globex"};
  EXPECT_THAT(manager_->GetJourney(globex, request), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace cx::journey
