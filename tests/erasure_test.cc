// Erasure (right to be forgotten) across the three real services, each on
// its own 127.0.0.1 socket, on SQLite files and on MariaDB: a customer with a
// merged duplicate record, a merged anonymous visitor, CRM references,
// events, feedback and a follow-up case is erased through journey-service
// and feedback-service. Afterwards no stored byte (SQLite: the database and
// WAL files; MariaDB: every column of every table) holds the customer's ids,
// name, email, phone or CRM ids; metrics-service's numbers equal those of a
// fresh metrics-service that recomputes everything from the feeds; late
// writes for any erased id are refused and store nothing; the feeds keep one
// gap-free sequence; another tenant is untouched.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "feedback-service/feedback_server.h"
#include "journey-service/journey_server.h"
#include "metrics-service/metrics_server.h"
#include "shared/db/sql.h"
#include "shared/erasure.h"
#include "shared/proto_util.h"
#include "shared/testing/test_util.h"

namespace cx {
namespace {

namespace t = shared::testing;
namespace fb = feedback::v1;
namespace jr = journey::v1;
namespace mx = metrics::v1;
using absl::StatusCode;
using FeedbackStub = fb::FeedbackService::Stub;
using JourneyStub = jr::JourneyService::Stub;
using MetricsStub = mx::MetricsService::Stub;

constexpr char kCustomer[] = "zq-4711";
constexpr char kDuplicate[] = "zq-dupe-88";
constexpr char kVisitor[] = "anon-zq-cookie-5521";

// Everything that identifies the erased person; none may survive.
const std::vector<std::string>& Needles() {
  static const std::vector<std::string> needles = {
      kCustomer, kDuplicate, kVisitor, "Zelda Quixote", "zelda.quixote@example.org", "+4915112345678",
      "Zelda Dupe", "zq.dupe@example.org", "SF003ZQ4711X", "HUBZQ77001234"};
  return needles;
}

class ErasureTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / absl::StrCat("cx-erasure-", getpid(), "-", rand());
    std::filesystem::create_directories(dir_);
    for (const char* name : {"feedback", "journey", "metrics"}) urls_[name] = Url(name);
    auto f = feedback::FeedbackServer::Start(t::InProcessOptions(urls_["feedback"]));
    ASSERT_TRUE(f.ok()) << f.status();
    feedback_server_ = *std::move(f);
    feedback_ = t::ConnectLocal<fb::FeedbackService>(feedback_server_->port());
    auto j = journey::JourneyServer::Start(t::InProcessOptions(urls_["journey"]));
    ASSERT_TRUE(j.ok()) << j.status();
    journey_server_ = *std::move(j);
    journey_ = t::ConnectLocal<jr::JourneyService>(journey_server_->port());
    metrics_server_ = StartMetrics(urls_["metrics"]);
    ASSERT_NE(metrics_server_, nullptr);
    metrics_ = t::ConnectLocal<mx::MetricsService>(metrics_server_->port());
  }

  void TearDown() override {
    metrics_server_.reset();
    journey_server_.reset();
    feedback_server_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string Url(const std::string& name) {
    if (GetParam() == "sqlite") return absl::StrCat("sqlite://", (dir_ / (name + ".db")).string());
    auto url = t::CreateMysqlDatabase(absl::StrCat("erasure_", name));
    EXPECT_TRUE(url.ok()) << url.status();
    return url.ok() ? *url : "";
  }

  std::unique_ptr<metrics::MetricsServer> StartMetrics(const std::string& url) {
    metrics::MetricsServerOptions options;
    options.service = t::InProcessOptions(url);
    options.feeds.feedback_endpoint = absl::StrCat("127.0.0.1:", feedback_server_->port());
    options.feeds.journey_endpoint = absl::StrCat("127.0.0.1:", journey_server_->port());
    options.feeds.token = t::kServiceToken;
    options.feeds.min_backoff = absl::Milliseconds(20);
    options.feeds.max_backoff = absl::Milliseconds(200);
    auto m = metrics::MetricsServer::Start(std::move(options));
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() ? *std::move(m) : nullptr;
  }

  void Upsert(const std::string& id, const std::string& name, const std::string& email, const std::string& segment,
              const std::string& crm_system, const std::string& crm_id, const std::string& phone = "") {
    jr::UpsertCustomerRequest r;
    r.set_customer_id(id);
    r.mutable_traits()->set_name(name);
    r.mutable_traits()->set_email(email);
    if (!phone.empty()) r.mutable_traits()->set_phone(phone);
    r.mutable_traits()->set_segment(segment);
    auto* ref = r.add_crm_references();
    ref->set_system(crm_system);
    ref->set_id(crm_id);
    r.set_source_system("crm");
    *r.mutable_source_updated_at() = shared::ToProtoTime(absl::Now());
    auto resp = journey_.Call(&JourneyStub::UpsertCustomer, r, t::kAcmeIngest);
    ASSERT_TRUE(resp.ok()) << resp.status();
  }

  std::string Merge(const jr::Identity& source, const std::string& target) {
    jr::MergeCustomersRequest r;
    *r.mutable_source() = source;
    r.set_target_customer_id(target);
    r.set_reason("same person");
    auto merged = journey_.Call(&JourneyStub::MergeCustomers, r, t::kAcmeIngest);
    EXPECT_TRUE(merged.ok()) << merged.status();
    return merged.ok() ? merged->merge().merge_id() : "";
  }

  static jr::Event Event(const std::string& id, const std::string& customer, const std::string& anonymous,
                         const std::string& type, absl::Time at) {
    jr::Event e;
    e.set_event_id(id);
    if (!customer.empty()) e.set_customer_id(customer);
    if (!anonymous.empty()) e.set_anonymous_id(anonymous);
    e.set_type(type);
    e.set_channel(common::v1::CHANNEL_WEB);
    *e.mutable_occurred_at() = shared::ToProtoTime(at);
    return e;
  }

  static fb::SubmitFeedbackRequest Nps(const std::string& request_id, const std::string& customer, int score,
                                       const std::string& comment = "") {
    fb::SubmitFeedbackRequest r;
    r.set_request_id(request_id);
    auto* f = r.mutable_feedback();
    f->set_customer_id(customer);
    f->set_kind(fb::FEEDBACK_KIND_NPS);
    f->set_score(score);
    f->set_comment(comment);
    f->set_source(common::v1::SOURCE_SURVEY);
    f->set_channel(common::v1::CHANNEL_EMAIL);
    *f->mutable_occurred_at() = shared::ToProtoTime(absl::Now() - absl::Hours(2));
    return r;
  }

  static common::v1::TimeRange Range() {
    common::v1::TimeRange r;
    *r.mutable_start_time() = shared::ToProtoTime(absl::Now() - absl::Hours(72));
    *r.mutable_end_time() = shared::ToProtoTime(absl::Now() + absl::Hours(1));
    return r;
  }

  // What a CX manager reads: NPS by segment, the funnel, health of a kept customer.
  static std::string Numbers(t::TokenClient<MetricsStub>& m, const std::string& token = t::kAcmeRead) {
    mx::GetBreakdownRequest b;
    b.set_metric(mx::METRIC_NPS);
    b.set_dimension(mx::DIMENSION_SEGMENT);
    *b.mutable_range() = Range();
    auto breakdown = m.Call(&MetricsStub::GetBreakdown, b, token);
    mx::GetFunnelRequest f;
    f.add_steps()->set_event_type("page_view");
    f.add_steps()->set_event_type("order_placed");
    f.mutable_conversion_window()->set_seconds(86400);
    *f.mutable_range() = Range();
    auto funnel = m.Call(&MetricsStub::GetFunnel, f, token);
    std::string out;
    if (!breakdown.ok() || !funnel.ok()) return "unavailable";
    for (const auto& row : breakdown->rows()) {
      absl::StrAppend(&out, row.value(), ":", row.score().n(), ":", row.score().value(), " ");
    }
    absl::StrAppend(&out, "total:", breakdown->total().n(), ":", breakdown->total().value(), " funnel:");
    for (const auto& step : funnel->steps()) absl::StrAppend(&out, step.customers(), ",");
    return out;
  }

  int64_t NpsN() {
    mx::GetScoreRequest r;
    r.set_metric(mx::METRIC_NPS);
    *r.mutable_range() = Range();
    auto s = metrics_.Call(&MetricsStub::GetScore, r, t::kAcmeRead);
    return s.ok() ? s->score().n() : -1;
  }

  // Which needles some stored byte still holds.
  std::vector<std::string> Found() {
    std::vector<std::string> found;
    if (GetParam() == "sqlite") {
      std::string all;
      for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
        std::ifstream in(entry.path(), std::ios::binary);
        std::stringstream bytes;
        bytes << in.rdbuf();
        all += bytes.str();
      }
      for (const auto& n : Needles()) {
        if (all.find(n) != std::string::npos) found.push_back(n);
      }
      return found;
    }
    for (const char* name : {"feedback", "journey", "metrics"}) {
      auto pool = shared::db::OpenDatabase(urls_[name], "", 1);
      EXPECT_TRUE(pool.ok()) << pool.status();
      if (!pool.ok()) continue;
      auto c = (*pool)->Acquire();
      EXPECT_TRUE(c.ok());
      auto columns = (*c)->Query(
          "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND "
          "data_type IN ('char', 'varchar', 'text', 'mediumtext', 'longtext', 'blob', 'mediumblob', 'longblob')");
      EXPECT_TRUE(columns.ok()) << columns.status();
      for (const auto& col : *columns) {
        for (const auto& n : Needles()) {
          auto hits = (*c)->Query(absl::StrCat("SELECT COUNT(*) FROM `", col.Text(0), "` WHERE INSTR(`", col.Text(1),
                                               "`, ?) > 0"),
                                  {n});
          EXPECT_TRUE(hits.ok()) << hits.status();
          if (hits.ok() && hits->front().Int(0) > 0) found.push_back(absl::StrCat(name, ".", col.Text(0), ": ", n));
        }
      }
    }
    return found;
  }

  std::filesystem::path dir_;
  std::map<std::string, std::string> urls_;
  std::unique_ptr<feedback::FeedbackServer> feedback_server_;
  std::unique_ptr<journey::JourneyServer> journey_server_;
  std::unique_ptr<metrics::MetricsServer> metrics_server_;
  t::TokenClient<FeedbackStub> feedback_;
  t::TokenClient<JourneyStub> journey_;
  t::TokenClient<MetricsStub> metrics_;
};

TEST_P(ErasureTest, ErasureReachesEveryServiceAndTheNumbers) {
  if (GetParam() == "mysql") {
    ASSERT_FALSE(t::MysqlBaseUrl().empty()) << "CX_TEST_MYSQL_URL is not set";
  }
  const absl::Time t0 = absl::Now() - absl::Hours(3);
  // The person: a record, a duplicate record and a visitor, all merged.
  Upsert(kCustomer, "Zelda Quixote", "zelda.quixote@example.org", "gold", "salesforce", "SF003ZQ4711X", "+4915112345678");
  Upsert(kDuplicate, "Zelda Dupe", "zq.dupe@example.org", "gold", "hubspot", "HUBZQ77001234");
  Upsert("keep-1", "Kim Keeper", "kim@example.org", "silver", "salesforce", "SF003KEEP1");
  Upsert("keep-2", "Lee Keeper", "lee@example.org", "gold", "salesforce", "SF003KEEP2");
  jr::Identity dup, visitor;
  dup.set_customer_id(kDuplicate);
  visitor.set_anonymous_id(kVisitor);
  jr::BatchRecordEventsRequest events;
  *events.add_events() = Event("e-zq-1", kCustomer, "", "page_view", t0);
  *events.add_events() = Event("e-zq-2", kCustomer, "", "order_placed", t0 + absl::Minutes(5));
  *events.add_events() = Event("e-zq-3", kDuplicate, "", "page_view", t0 + absl::Minutes(6));
  *events.add_events() = Event("e-zq-4", "", kVisitor, "page_view", t0 + absl::Minutes(1));
  *events.add_events() = Event("e-k1-1", "keep-1", "", "page_view", t0);
  *events.add_events() = Event("e-k1-2", "keep-1", "", "order_placed", t0 + absl::Minutes(9));
  *events.add_events() = Event("e-k2-1", "keep-2", "", "page_view", t0);
  auto recorded = journey_.Call(&JourneyStub::BatchRecordEvents, events, t::kAcmeIngest);
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  ASSERT_EQ(recorded->accepted_count(), 7);
  Merge(dup, kCustomer);
  Merge(visitor, kCustomer);
  // Another visitor was taken for the customer for a while: its event then
  // named the customer as owner. It stays, without the customer's id.
  jr::Identity other;
  other.set_anonymous_id("anon-someone-else");
  jr::UnmergeCustomersRequest unmerge;
  unmerge.set_merge_id(Merge(other, kCustomer));
  jr::RecordEventRequest while_merged;
  *while_merged.mutable_event() = Event("e-other-1", "", "anon-someone-else", "page_view", t0 + absl::Minutes(2));
  auto other_event = journey_.Call(&JourneyStub::RecordEvent, while_merged, t::kAcmeIngest);
  ASSERT_TRUE(other_event.ok()) << other_event.status();
  ASSERT_EQ(other_event->event().owner().customer_id(), kCustomer);
  unmerge.set_reason("not the same person");
  ASSERT_TRUE(journey_.Call(&JourneyStub::UnmergeCustomers, unmerge, t::kAcmeAdmin).ok());
  fb::BatchSubmitFeedbackRequest feedback;
  *feedback.add_requests() = Nps("f-zq-1", kCustomer, 2, "Zelda Quixote here: the parcel never came");
  *feedback.add_requests() = Nps("f-zq-2", kDuplicate, 9);
  *feedback.add_requests() = Nps("f-k1-1", "keep-1", 10);
  *feedback.add_requests() = Nps("f-k2-1", "keep-2", 6);
  auto submitted = feedback_.Call(&FeedbackStub::BatchSubmitFeedback, feedback, t::kAcmeIngest);
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  ASSERT_EQ(submitted->accepted_count(), 4);
  // Another tenant, untouched by acme's erasure.
  ASSERT_TRUE(feedback_.Call(&FeedbackStub::SubmitFeedback, Nps("g-1", "globex-c", 10), t::kGlobexAdmin).ok());

  // Right of access: everything each service holds.
  jr::ExportCustomerDataRequest jexport;
  jexport.set_customer_id(kCustomer);
  auto held = journey_.Call(&JourneyStub::ExportCustomerData, jexport, t::kAcmeAdmin);
  ASSERT_TRUE(held.ok()) << held.status();
  ASSERT_EQ(held->customers_size(), 2);
  EXPECT_EQ(held->customers(0).traits().email(), "zelda.quixote@example.org");
  EXPECT_EQ(held->customers(1).customer_id(), kDuplicate);
  ASSERT_EQ(held->anonymous_ids_size(), 1);
  EXPECT_EQ(held->anonymous_ids(0), kVisitor);
  EXPECT_EQ(held->events_size(), 4);
  EXPECT_THAT(journey_.Call(&JourneyStub::ExportCustomerData, jexport, t::kAcmeRead),
              t::StatusIs(StatusCode::kPermissionDenied));
  fb::ExportCustomerDataRequest fexport;
  fexport.set_customer_id(kCustomer);
  auto said = feedback_.Call(&FeedbackStub::ExportCustomerData, fexport, t::kAcmeAdmin);
  ASSERT_TRUE(said.ok()) << said.status();
  ASSERT_EQ(said->feedback_size(), 1);
  EXPECT_EQ(said->feedback(0).comment(), "Zelda Quixote here: the parcel never came");
  EXPECT_EQ(said->follow_ups_size(), 1);

  ASSERT_TRUE(t::WaitFor([&] { return NpsN() == 4; })) << NpsN();
  mx::GetCustomerHealthRequest health;
  health.set_customer_id(kCustomer);
  ASSERT_TRUE(t::WaitFor([&] { return metrics_.Call(&MetricsStub::GetCustomerHealth, health, t::kAcmeRead).ok(); }));
  ASSERT_TRUE(t::WaitFor([&] { return Numbers(metrics_, t::kGlobexAdmin).find("total:1:100") != std::string::npos; }));
  const std::string globex_before = Numbers(metrics_, t::kGlobexAdmin);
  // The search finds what it looks for while the data is there.
  EXPECT_EQ(Found().size() >= 8, true) << "the search must see the stored data first";

  // Erasure: journey-service (which names the merged duplicate), then
  // feedback-service for both customer ids.
  jr::EraseCustomerRequest jerase;
  jerase.set_customer_id(kCustomer);
  EXPECT_THAT(journey_.Call(&JourneyStub::EraseCustomer, jerase, t::kAcmeIngest),
              t::StatusIs(StatusCode::kPermissionDenied));
  auto erased = journey_.Call(&JourneyStub::EraseCustomer, jerase, t::kAcmeAdmin);
  ASSERT_TRUE(erased.ok()) << erased.status();
  ASSERT_EQ(erased->merged_customer_ids_size(), 1);
  EXPECT_EQ(erased->merged_customer_ids(0), kDuplicate);
  EXPECT_EQ(erased->erasure().customer_digest(), shared::CustomerDigest("acme", kCustomer));
  EXPECT_EQ(erased->erasure().records_erased(), 4 + 2 + 3);  // events, records, merges (one undone)
  EXPECT_THAT(erased->erasure().erased_by(), ::testing::StartsWith("token:"));
  EXPECT_FALSE(erased->erasure().already_erased());
  for (const char* id : {kCustomer, kDuplicate}) {
    fb::EraseCustomerRequest ferase;
    ferase.set_customer_id(id);
    auto done = feedback_.Call(&FeedbackStub::EraseCustomer, ferase, t::kAcmeAdmin);
    ASSERT_TRUE(done.ok()) << done.status();
    EXPECT_EQ(done->erasure().records_erased(), id == std::string(kCustomer) ? 2 : 1);  // with the case
  }
  // Idempotent: the first record comes back.
  auto again = journey_.Call(&JourneyStub::EraseCustomer, jerase, t::kAcmeAdmin);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->erasure().already_erased());
  EXPECT_EQ(again->erasure().records_erased(), erased->erasure().records_erased());

  // metrics-service retracts through the tombstones.
  ASSERT_TRUE(t::WaitFor([&] { return NpsN() == 2; })) << NpsN();
  ASSERT_TRUE(t::WaitFor([&] {
    return !metrics_.Call(&MetricsStub::GetCustomerHealth, health, t::kAcmeRead).ok();
  }));
  EXPECT_THAT(metrics_.Call(&MetricsStub::GetCustomerHealth, health, t::kAcmeRead),
              t::StatusIs(StatusCode::kNotFound));
  // Equal to a recomputation: a fresh metrics-service reads both feeds from
  // the start and must show the same numbers.
  std::unique_ptr<metrics::MetricsServer> fresh = StartMetrics(
      GetParam() == "sqlite" ? absl::StrCat("sqlite://", (dir_ / "recomputed.db").string()) : Url("recomputed"));
  ASSERT_NE(fresh, nullptr);
  auto fresh_client = t::ConnectLocal<mx::MetricsService>(fresh->port());
  const std::string live = Numbers(metrics_);
  EXPECT_THAT(live, ::testing::HasSubstr("total:2:0 "));
  EXPECT_THAT(live, ::testing::HasSubstr("funnel:3,1,"));
  ASSERT_TRUE(t::WaitFor([&] { return Numbers(fresh_client) == live; }))
      << "live: " << live << "\nrecomputed: " << Numbers(fresh_client);
  EXPECT_EQ(Numbers(metrics_, t::kGlobexAdmin), globex_before);
  fresh.reset();
  if (GetParam() == "sqlite") std::filesystem::remove(dir_ / "recomputed.db");

  // No stored byte of any service holds the person.
  EXPECT_THAT(Found(), ::testing::IsEmpty());
  EXPECT_THAT(journey_.Call(&JourneyStub::ExportCustomerData, jexport, t::kAcmeAdmin),
              t::StatusIs(StatusCode::kNotFound));
  auto nothing = feedback_.Call(&FeedbackStub::ExportCustomerData, fexport, t::kAcmeAdmin);
  ASSERT_TRUE(nothing.ok());
  EXPECT_EQ(nothing->feedback_size() + nothing->follow_ups_size(), 0);

  // Late writes for any erased id are refused and store nothing.
  jr::RecordEventRequest late;
  *late.mutable_event() = Event("e-late-1", kCustomer, "", "page_view", absl::Now());
  EXPECT_THAT(journey_.Call(&JourneyStub::RecordEvent, late, t::kAcmeIngest),
              t::StatusIsField(StatusCode::kFailedPrecondition, "event.customer_id"));
  *late.mutable_event() = Event("e-late-2", "", kVisitor, "page_view", absl::Now());
  EXPECT_THAT(journey_.Call(&JourneyStub::RecordEvent, late, t::kAcmeIngest),
              t::StatusIsField(StatusCode::kFailedPrecondition, "event.anonymous_id"));
  EXPECT_THAT(feedback_.Call(&FeedbackStub::SubmitFeedback, Nps("f-late", kDuplicate, 3), t::kAcmeIngest),
              t::StatusIsField(StatusCode::kFailedPrecondition, "feedback.customer_id"));
  jr::UpsertCustomerRequest back;
  auto* ref = back.add_crm_references();
  ref->set_system("salesforce");
  ref->set_id("SF003ZQ4711X");
  back.set_source_system("crm");
  *back.mutable_source_updated_at() = shared::ToProtoTime(absl::Now());
  EXPECT_THAT(journey_.Call(&JourneyStub::UpsertCustomer, back, t::kAcmeIngest),
              t::StatusIsField(StatusCode::kFailedPrecondition, "crm_references[0]"));
  back.set_customer_id(kCustomer);
  back.clear_crm_references();
  EXPECT_THAT(journey_.Call(&JourneyStub::UpsertCustomer, back, t::kAcmeIngest),
              t::StatusIsField(StatusCode::kFailedPrecondition, "customer_id"));
  // In a batch only the erased item is refused.
  fb::BatchSubmitFeedbackRequest mixed;
  *mixed.add_requests() = Nps("f-late-2", kCustomer, 1);
  *mixed.add_requests() = Nps("f-k1-2", "keep-1", 9);
  auto mixed_result = feedback_.Call(&FeedbackStub::BatchSubmitFeedback, mixed, t::kAcmeIngest);
  ASSERT_TRUE(mixed_result.ok()) << mixed_result.status();
  EXPECT_EQ(mixed_result->results(0).outcome(), common::v1::ITEM_OUTCOME_REJECTED);
  EXPECT_EQ(mixed_result->results(0).error().code(), static_cast<int>(StatusCode::kFailedPrecondition));
  EXPECT_EQ(mixed_result->results(1).outcome(), common::v1::ITEM_OUTCOME_ACCEPTED);
  ASSERT_TRUE(t::WaitFor([&] { return NpsN() == 3; }));
  EXPECT_THAT(Found(), ::testing::IsEmpty());

  // The feedback feed is still one gap-free sequence, with the erased
  // records redacted in place and one tombstone per erasure.
  fb::ListChangesRequest list;
  list.set_limit(1000);
  auto changes = feedback_.Call(&FeedbackStub::ListChanges, list, t::kServiceToken);
  ASSERT_TRUE(changes.ok()) << changes.status();
  int redacted = 0, tombstones = 0;
  for (int i = 0; i < changes->changes_size(); ++i) {
    EXPECT_EQ(changes->changes(i).sequence(), i + 1);
    redacted += changes->changes(i).has_redacted() ? 1 : 0;
    tombstones += changes->changes(i).has_customer_erased() ? 1 : 0;
  }
  EXPECT_EQ(redacted, 3);  // two feedback and the case
  EXPECT_EQ(tombstones, 2);
}

INSTANTIATE_TEST_SUITE_P(Backends, ErasureTest, ::testing::Values("sqlite", "mysql"),
                         [](const auto& info) { return info.param == "sqlite" ? "SQLite" : "MariaDB"; });

}  // namespace
}  // namespace cx
