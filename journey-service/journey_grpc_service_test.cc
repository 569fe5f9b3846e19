// journey-service over a real gRPC server on 127.0.0.1 (in-process) with the
// embedded SQLite store: every RPC, roles, tenant isolation, dedup under
// concurrency, and the change feed as a stream.
#include <atomic>
#include <future>
#include <thread>

#include <google/protobuf/util/time_util.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "journey-service/journey_server.h"
#include "shared/proto_util.h"
#include "shared/testing/test_util.h"

namespace cx::journey {
namespace {

using google::protobuf::util::TimeUtil;
using shared::testing::StatusIs;
using shared::testing::StatusIsField;
namespace t = shared::testing;
using Stub = v1::JourneyService::Stub;

v1::Event Event(const std::string& id, const std::string& customer, const std::string& type, int minutes_ago) {
  v1::Event e;
  e.set_event_id(id);
  e.set_customer_id(customer);
  e.set_type(type);
  e.set_channel(cx::common::v1::CHANNEL_WEB);
  e.set_touchpoint_id("website");
  *e.mutable_occurred_at() = shared::ToProtoTime(absl::Now() - absl::Minutes(minutes_ago));
  return e;
}

class JourneyGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    shared::ServiceOptions options;
    options.db_url = "sqlite::memory:";
    options.tokens = t::TestTokens();
    options.server.listen = "127.0.0.1:0";
    options.server.drain_grace = absl::ZeroDuration();
    options.page_token_key = "k";
    auto server = JourneyServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials());
    stub_ = v1::JourneyService::NewStub(channel_);
  }

  static void Auth(grpc::ClientContext* ctx, const std::string& token) {
    if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  }

  // Calls one unary RPC with a token; the gRPC status comes back as absl.
  template <class Req, class Resp>
  absl::StatusOr<Resp> Call(grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*), const Req& req,
                            const std::string& token) {
    grpc::ClientContext ctx;
    Auth(&ctx, token);
    Resp resp;
    grpc::Status s = (stub_.get()->*method)(&ctx, req, &resp);
    if (!s.ok()) return shared::FromGrpcStatus(s);
    return resp;
  }

  absl::StatusOr<v1::UpsertCustomerResponse> Upsert(const std::string& id, const std::string& token = t::kAcmeIngest) {
    v1::UpsertCustomerRequest u;
    u.set_customer_id(id);
    u.mutable_traits()->set_name("Ana Lima");
    u.mutable_traits()->set_email("ana@example.com");
    u.mutable_traits()->set_segment("smb");
    auto* ref = u.add_crm_references();
    ref->set_system("salesforce");
    ref->set_id("003-" + id);
    u.set_source_system("salesforce");
    *u.mutable_source_updated_at() = shared::ToProtoTime(absl::Now() - absl::Hours(1));
    return Call(&Stub::UpsertCustomer, u, token);
  }

  absl::StatusOr<v1::RecordEventResponse> Record(const v1::Event& e, const std::string& token = t::kAcmeIngest) {
    v1::RecordEventRequest r;
    *r.mutable_event() = e;
    return Call(&Stub::RecordEvent, r, token);
  }

  std::vector<v1::JourneyChange> Changes(const std::string& token = t::kServiceToken) {
    v1::ListChangesRequest req;
    req.set_limit(1000);
    auto r = Call(&Stub::ListChanges, req, token);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return {};
    return {r->changes().begin(), r->changes().end()};
  }

  int EventsStored() {
    int n = 0;
    for (const auto& c : Changes()) n += c.has_event_recorded();
    return n;
  }

  std::unique_ptr<JourneyServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Stub> stub_;
};

TEST_F(JourneyGrpcTest, CustomersUpsertGetLookupAndList) {
  auto created = Upsert("c1");
  CX_ASSERT_OK(created);
  EXPECT_TRUE(created->created());
  EXPECT_EQ(created->customer().name(), "customers/c1");

  v1::GetCustomerRequest get;
  get.set_customer_id("c1");
  auto got = Call(&Stub::GetCustomer, get, t::kAcmeRead);
  CX_ASSERT_OK(got);
  EXPECT_EQ(got->customer().traits().email(), "ana@example.com");
  EXPECT_EQ(got->customer().trait_versions().at("email").system(), "salesforce");

  v1::LookupCustomerRequest lookup;
  lookup.mutable_crm_reference()->set_system("salesforce");
  lookup.mutable_crm_reference()->set_id("003-c1");
  auto found = Call(&Stub::LookupCustomer, lookup, t::kAcmeRead);
  CX_ASSERT_OK(found);
  EXPECT_EQ(found->customer().customer_id(), "c1");
  lookup.mutable_crm_reference()->set_id("nope");
  EXPECT_THAT(Call(&Stub::LookupCustomer, lookup, t::kAcmeRead), StatusIs(absl::StatusCode::kNotFound));

  CX_ASSERT_OK(Upsert("c2"));
  CX_ASSERT_OK(Upsert("c3"));
  v1::ListCustomersRequest list;
  list.set_page_size(2);
  std::vector<std::string> ids;
  for (;;) {
    auto page = Call(&Stub::ListCustomers, list, t::kAcmeRead);
    CX_ASSERT_OK(page);
    for (const auto& c : page->customers()) ids.push_back(c.customer_id());
    if (page->next_page_token().empty()) break;
    list.set_page_token(page->next_page_token());
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"c1", "c2", "c3"}));
}

TEST_F(JourneyGrpcTest, EventsBatchImportJourneyAndStageMapping) {
  CX_ASSERT_OK(Upsert("c1"));
  const v1::Event e1 = Event("e1", "c1", "page_view", 50);
  auto one = Record(e1);
  CX_ASSERT_OK(one);
  EXPECT_EQ(one->outcome(), cx::common::v1::ITEM_OUTCOME_ACCEPTED);
  EXPECT_EQ(one->event().resolved_stage(), cx::common::v1::JOURNEY_STAGE_AWARENESS);

  v1::BatchRecordEventsRequest batch;
  *batch.add_events() = Event("e2", "c1", "product_view", 40);
  *batch.add_events() = Event("e3", "c1", "order_placed", 30);
  v1::Event bad = Event("e4", "c1", "order_placed", 30);
  bad.mutable_revenue()->set_currency_code("EUR");
  bad.mutable_revenue()->set_amount_minor(-100);
  *batch.add_events() = bad;
  auto batched = Call(&Stub::BatchRecordEvents, batch, t::kAcmeIngest);
  CX_ASSERT_OK(batched);
  EXPECT_EQ(batched->accepted_count(), 2);
  EXPECT_EQ(batched->rejected_count(), 1);
  EXPECT_EQ(batched->results(2).error().field_violations(0).field(), "events[2].revenue.amount_minor");

  // Import three events, one of them bad and one repeated.
  grpc::ClientContext ctx;
  Auth(&ctx, t::kAcmeIngest);
  v1::ImportEventsResponse summary;
  auto writer = stub_->ImportEvents(&ctx, &summary);
  for (const auto& e : {Event("i1", "c1", "delivery_completed", 20), Event("i2", "ghost", "page_view", 10),
                        e1}) {
    v1::ImportEventsRequest item;
    *item.mutable_event() = e;
    ASSERT_TRUE(writer->Write(item));
  }
  ASSERT_TRUE(writer->WritesDone());
  ASSERT_TRUE(writer->Finish().ok());
  EXPECT_EQ(summary.received_count(), 3);
  EXPECT_EQ(summary.accepted_count(), 1);
  EXPECT_EQ(summary.duplicate_count(), 1);
  EXPECT_EQ(summary.rejected_count(), 1);
  EXPECT_EQ(summary.rejected(0).error().field_violations(0).field(), "stream[1].event.customer_id");

  // Tenant mapping: webinars are consideration for acme from now on.
  v1::SetStageMappingRequest mapping;
  (*mapping.mutable_overrides())["webinar_attended"] = cx::common::v1::JOURNEY_STAGE_CONSIDERATION;
  EXPECT_THAT(Call(&Stub::SetStageMapping, mapping, t::kAcmeIngest), StatusIs(absl::StatusCode::kPermissionDenied));
  CX_ASSERT_OK(Call(&Stub::SetStageMapping, mapping, t::kAcmeAdmin));
  auto effective = Call(&Stub::GetStageMapping, v1::GetStageMappingRequest(), t::kAcmeRead);
  CX_ASSERT_OK(effective);
  bool found = false;
  for (const auto& e : effective->entries()) found = found || (e.event_type() == "webinar_attended" && !e.is_default());
  EXPECT_TRUE(found);
  EXPECT_EQ(Record(Event("w1", "c1", "webinar_attended", 5))->event().resolved_stage(),
            cx::common::v1::JOURNEY_STAGE_CONSIDERATION);

  v1::GetJourneyRequest journey;
  journey.mutable_identity()->set_customer_id("c1");
  auto j = Call(&Stub::GetJourney, journey, t::kAcmeRead);
  CX_ASSERT_OK(j);
  ASSERT_EQ(j->events_size(), 5);
  EXPECT_EQ(j->events(0).event_id(), "e1");
  EXPECT_EQ(j->events(4).event_id(), "w1");
  EXPECT_EQ(j->current_stage(), cx::common::v1::JOURNEY_STAGE_CONSIDERATION);
  // awareness, consideration, purchase, retention, consideration again
  ASSERT_EQ(j->transitions_size(), 5);
  EXPECT_EQ(j->transitions(4).from_stage(), cx::common::v1::JOURNEY_STAGE_RETENTION);
  EXPECT_TRUE(j->transitions(4).current());
}

TEST_F(JourneyGrpcTest, MergeAndUnmergeOverGrpcWithRolesAndAudit) {
  CX_ASSERT_OK(Upsert("known"));
  v1::Event visit = Event("v1", "", "page_view", 30);
  visit.set_anonymous_id("cookie-123");
  CX_ASSERT_OK(Record(visit));

  v1::MergeCustomersRequest merge;
  merge.mutable_source()->set_anonymous_id("cookie-123");
  merge.set_target_customer_id("known");
  merge.set_reason("signed in");
  EXPECT_THAT(Call(&Stub::MergeCustomers, merge, t::kAcmeRead), StatusIs(absl::StatusCode::kPermissionDenied));
  auto merged = Call(&Stub::MergeCustomers, merge, t::kAcmeIngest);
  CX_ASSERT_OK(merged);
  EXPECT_EQ(merged->merge().events_moved(), 1);
  EXPECT_TRUE(absl::StartsWith(merged->merge().merged_by(), "token:"));

  v1::GetJourneyRequest journey;
  journey.mutable_identity()->set_anonymous_id("cookie-123");
  auto j = Call(&Stub::GetJourney, journey, t::kAcmeRead);
  CX_ASSERT_OK(j);
  EXPECT_EQ(j->identity().customer_id(), "known");  // resolved through the merge
  EXPECT_EQ(j->total_events(), 1);

  v1::UnmergeCustomersRequest unmerge;
  unmerge.set_merge_id(merged->merge().merge_id());
  unmerge.set_reason("shared computer");
  EXPECT_THAT(Call(&Stub::UnmergeCustomers, unmerge, t::kAcmeIngest), StatusIs(absl::StatusCode::kPermissionDenied));
  // Another tenant cannot see or undo it: the same answer as a missing merge.
  EXPECT_THAT(Call(&Stub::UnmergeCustomers, unmerge, t::kGlobexAdmin),
              StatusIsField(absl::StatusCode::kNotFound, "merge_id"));
  auto undone = Call(&Stub::UnmergeCustomers, unmerge, t::kAcmeAdmin);
  CX_ASSERT_OK(undone);
  EXPECT_EQ(undone->merge().unmerge_reason(), "shared computer");
  j = Call(&Stub::GetJourney, journey, t::kAcmeRead);
  EXPECT_EQ(j->identity().anonymous_id(), "cookie-123");

  int merges = 0, unmerges = 0;
  for (const auto& c : Changes(t::kAcmeRead)) {
    merges += c.has_customers_merged();
    unmerges += c.has_customers_unmerged();
  }
  EXPECT_EQ(merges, 1);
  EXPECT_EQ(unmerges, 1);
}

TEST_F(JourneyGrpcTest, EraseAndExportCheckInputPageAndRaceWithWrites) {
  v1::EraseCustomerRequest erase;
  EXPECT_THAT(Call(&Stub::EraseCustomer, erase, t::kAcmeAdmin),
              StatusIsField(absl::StatusCode::kInvalidArgument, "customer_id"));
  v1::ExportCustomerDataRequest ex;
  ex.set_customer_id("nobody");
  EXPECT_THAT(Call(&Stub::ExportCustomerData, ex, t::kAcmeAdmin), StatusIsField(absl::StatusCode::kNotFound, "customer_id"));
  ex.set_page_size(1001);
  EXPECT_THAT(Call(&Stub::ExportCustomerData, ex, t::kAcmeAdmin),
              StatusIsField(absl::StatusCode::kInvalidArgument, "page_size"));
  CX_ASSERT_OK(Upsert("ana"));
  CX_ASSERT_OK(Upsert("bo"));
  for (int i = 0; i < 3; ++i) CX_ASSERT_OK(Record(Event(absl::StrCat("ana-", i), "ana", "page_view", 10 - i)));
  CX_ASSERT_OK(Record(Event("bo-1", "bo", "page_view", 5)));
  ex.set_customer_id("ana");
  ex.set_page_size(2);
  auto first = Call(&Stub::ExportCustomerData, ex, t::kAcmeAdmin);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->customers_size(), 1);
  EXPECT_EQ(first->customers(0).traits().email(), "ana@example.com");
  ASSERT_EQ(first->events_size(), 2);
  ex.set_page_token(first->next_page_token());
  EXPECT_THAT(Call(&Stub::ExportCustomerData, ex, t::kGlobexAdmin),
              StatusIsField(absl::StatusCode::kInvalidArgument, "page_token"));
  auto second = Call(&Stub::ExportCustomerData, ex, t::kAcmeAdmin);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->events_size(), 1);
  EXPECT_EQ(second->events(0).event_id(), "ana-2");

  // Writes for the customer race with the erasure: each is either stored
  // before it (and erased with it) or refused after it; none survives.
  std::atomic<bool> stop{false};
  std::atomic<int> accepted{0}, refused{0};
  std::thread writer([&] {
    for (int i = 0; i < 2000 && !stop; ++i) {
      auto r = Record(Event(absl::StrCat("race-", i), "ana", "page_view", 1));
      if (r.ok()) ++accepted;
      else if (r.status().code() == absl::StatusCode::kFailedPrecondition) ++refused;
    }
  });
  ASSERT_TRUE(t::WaitFor([&] { return accepted > 20; }));
  erase.set_customer_id("ana");
  auto erased = Call(&Stub::EraseCustomer, erase, t::kAcmeAdmin);
  ASSERT_TRUE(erased.ok()) << erased.status();
  ASSERT_TRUE(t::WaitFor([&] { return refused > 20; }));
  stop = true;
  writer.join();
  EXPECT_EQ(erased->erasure().records_erased(), 1 + 3 + accepted);
  ex.clear_page_token();
  EXPECT_THAT(Call(&Stub::ExportCustomerData, ex, t::kAcmeAdmin), StatusIsField(absl::StatusCode::kNotFound, "customer_id"));
  // The feed: every record of ana redacted, bo's kept, one tombstone.
  int redacted = 0, tombstones = 0, kept = 0;
  for (const auto& c : Changes()) {
    redacted += c.has_redacted();
    tombstones += c.has_customer_erased();
    kept += c.has_event_recorded() || c.has_customer_upserted();
    EXPECT_FALSE(c.has_event_recorded() && c.event_recorded().customer_id() == "ana");
  }
  EXPECT_EQ(redacted, 1 + 3 + accepted);
  EXPECT_EQ(tombstones, 1);
  EXPECT_EQ(kept, 2);
}

TEST_F(JourneyGrpcTest, TenantsAreIsolatedAndRolesAreEnforced) {
  CX_ASSERT_OK(Upsert("c1"));
  CX_ASSERT_OK(Record(Event("e1", "c1", "page_view", 5)));
  v1::GetCustomerRequest get;
  get.set_customer_id("c1");
  v1::GetCustomerRequest missing;
  missing.set_customer_id("c404");
  // Another tenant's customer and a missing one get the same answer.
  auto other = Call(&Stub::GetCustomer, get, t::kGlobexAdmin);
  EXPECT_THAT(other, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(other.status().message(), absl::StrCat("customers/c1 not found"));
  EXPECT_THAT(Call(&Stub::GetCustomer, missing, t::kAcmeRead), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Record(Event("g1", "c1", "page_view", 5), t::kGlobexAdmin),
              StatusIsField(absl::StatusCode::kNotFound, "event.customer_id"));
  v1::GetJourneyRequest journey;
  journey.mutable_identity()->set_customer_id("c1");
  EXPECT_THAT(Call(&Stub::GetJourney, journey, t::kGlobexAdmin), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_TRUE(Changes(t::kGlobexAdmin).empty());
  EXPECT_EQ(Changes(t::kAcmeRead).size(), 2u);

  EXPECT_THAT(Call(&Stub::GetCustomer, get, t::kAcmeIngest), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Record(Event("r1", "c1", "page_view", 5), t::kAcmeRead), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Call(&Stub::GetCustomer, get, t::kServiceToken), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Call(&Stub::GetCustomer, get, ""), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Call(&Stub::GetCustomer, get, "wrong-token"), StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(JourneyGrpcTest, AnEventIdSentThreeTimesConcurrentlyAndAcrossBatchAndSingleCallsIsStoredOnce) {
  CX_ASSERT_OK(Upsert("c1"));
  const v1::Event e = Event("dup-1", "c1", "order_placed", 3);
  std::atomic<int> accepted{0}, duplicate{0}, failed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&] {
      auto r = Record(e);
      if (!r.ok()) ++failed;
      else if (r->outcome() == cx::common::v1::ITEM_OUTCOME_ACCEPTED) ++accepted;
      else ++duplicate;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(accepted.load(), 1);
  EXPECT_EQ(duplicate.load(), 2);
  v1::BatchRecordEventsRequest batch;
  *batch.add_events() = e;
  *batch.add_events() = e;
  *batch.add_events() = e;
  auto r = Call(&Stub::BatchRecordEvents, batch, t::kAcmeIngest);
  CX_ASSERT_OK(r);
  EXPECT_EQ(r->duplicate_count(), 3);
  EXPECT_EQ(EventsStored(), 1);
}

TEST_F(JourneyGrpcTest, InvalidUtf8IsInvalidArgumentNamingTheField) {
  CX_ASSERT_OK(Upsert("c1"));
  v1::Event e = Event("u1", "c1", "page_view", 1);
  (*e.mutable_properties())["note"] = "\xc3\x28";
  EXPECT_THAT(Record(e), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(EventsStored(), 0);
}

TEST_F(JourneyGrpcTest, WatchChangesStreamsCommitsAsTheyHappen) {
  CX_ASSERT_OK(Upsert("c1"));
  grpc::ClientContext ctx;
  Auth(&ctx, t::kServiceToken);
  v1::WatchChangesRequest req;
  auto reader = stub_->WatchChanges(&ctx, req);
  std::vector<v1::JourneyChange> seen;
  auto read = std::async(std::launch::async, [&] {
    v1::WatchChangesResponse resp;
    while (seen.size() < 3 && reader->Read(&resp)) {
      for (const auto& c : resp.changes()) seen.push_back(c);
    }
  });
  CX_ASSERT_OK(Record(Event("w1", "c1", "page_view", 2)));
  CX_ASSERT_OK(Record(Event("w2", "c1", "order_placed", 1)));
  ASSERT_EQ(read.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  ctx.TryCancel();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_TRUE(seen[0].has_customer_upserted());
  EXPECT_EQ(seen[1].event_recorded().event_id(), "w1");
  EXPECT_EQ(seen[2].event_recorded().event_id(), "w2");
  EXPECT_EQ(seen[2].sequence(), seen[1].sequence() + 1);
  // A negative cursor is refused.
  grpc::ClientContext bad_ctx;
  Auth(&bad_ctx, t::kAcmeRead);
  req.set_after_sequence(-1);
  auto bad = stub_->WatchChanges(&bad_ctx, req);
  v1::WatchChangesResponse ignored;
  while (bad->Read(&ignored)) {
  }
  EXPECT_EQ(bad->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace cx::journey
