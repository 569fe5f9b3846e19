// cx-sample-journey: records a deterministic sample journey for the sample
// customers (the ones cx-sample gives feedback for) on a running
// journey-service, merges two anonymous visitors into known customers, and
// prints what the service then knows. Used by the main job (scripts/run.sh).
// Ids and versions are fixed per day, so a second run stores nothing twice.
//
//   cx-sample-journey --target=127.0.0.1:50052 --token=<ingest+read token>
#include <grpcpp/grpcpp.h>

#include <iostream>
#include <map>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cx/journey/v1/journey_service.grpc.pb.h"
#include "google/protobuf/util/time_util.h"
#include "shared/config.h"
#include "shared/status.h"

namespace {

using cx::journey::v1::Event;
using cx::journey::v1::JourneyService;
using google::protobuf::util::TimeUtil;

// The journey each sample customer walks, in order; a customer stops at a
// random point, so the sample has customers in every stage.
struct Step {
  const char* type;
  cx::common::v1::Channel channel;
  const char* touchpoint;
  int64_t revenue_minor;  // 0: none
};
const Step kPath[] = {
    {"ad_click", cx::common::v1::CHANNEL_SOCIAL, "social-ads", 0},
    {"page_view", cx::common::v1::CHANNEL_WEB, "website", 0},
    {"product_view", cx::common::v1::CHANNEL_WEB, "website", 0},
    {"store_visit", cx::common::v1::CHANNEL_STORE, "store-berlin", 0},
    {"cart_add", cx::common::v1::CHANNEL_WEB, "checkout", 0},
    {"order_placed", cx::common::v1::CHANNEL_WEB, "checkout", 8900},
    {"invoice_paid", cx::common::v1::CHANNEL_EMAIL, "billing", 0},
    {"delivery_completed", cx::common::v1::CHANNEL_PHONE, "delivery", 0},
    {"support_ticket_opened", cx::common::v1::CHANNEL_CHAT, "support", 0},
    {"support_ticket_resolved", cx::common::v1::CHANNEL_CHAT, "support", 0},
    {"order_placed", cx::common::v1::CHANNEL_IN_APP, "mobile-app", 4500},
    {"review_posted", cx::common::v1::CHANNEL_REVIEW_SITE, "reviews", 0},
};
constexpr int kCustomers = 60;

}  // namespace

int main(int argc, char** argv) {
  std::vector<cx::shared::OptionSpec> specs = {
      {"target", "CX_JOURNEY_TARGET", "127.0.0.1:50052", "journey-service address"},
      {"token", "CX_TOKEN", "", "bearer token with the ingest and read roles"},
  };
  auto config = cx::shared::Config::ParseOrExit("cx-sample-journey", specs, argc, argv);
  auto stub = JourneyService::NewStub(grpc::CreateChannel(config.Get("target"), grpc::InsecureChannelCredentials()));
  auto call = [&](const char* what, auto method, const auto& request, auto* response) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + config.Get("token"));
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status s = ((*stub).*method)(&ctx, request, response);
    if (!s.ok()) {
      std::cerr << what << " failed: " << cx::shared::FromGrpcStatus(s) << "\n";
      std::exit(1);
    }
  };

  const int64_t today = TimeUtil::TimestampToSeconds(TimeUtil::GetCurrentTime()) / 86400 * 86400;
  const std::string day = TimeUtil::ToString(TimeUtil::SecondsToTimestamp(today)).substr(0, 10);
  std::mt19937 rng(20261125);
  const char* segments[] = {"smb", "mid-market", "enterprise"};

  // Customers, as a CRM connector would send them.
  int created = 0;
  for (int i = 0; i < kCustomers; ++i) {
    cx::journey::v1::UpsertCustomerRequest u;
    u.set_customer_id(absl::StrCat("cust-", 1000 + i));
    auto* ref = u.add_crm_references();
    ref->set_system(i % 3 == 0 ? "hubspot" : "salesforce");
    ref->set_id(absl::StrCat(i % 3 == 0 ? "" : "0035g0000", 1000 + i));
    auto* t = u.mutable_traits();
    t->set_name(absl::StrCat("Sample Customer ", i));
    t->set_email(absl::StrCat("customer", i, "@example.com"));
    t->set_segment(segments[i % 3]);
    t->set_plan(i % 4 == 0 ? "premium" : "standard");
    t->set_country(i % 2 ? "DE" : "US");
    *t->mutable_signup_time() = TimeUtil::SecondsToTimestamp(today - (90 + i) * 86400);
    u.set_source_system(ref->system());
    *u.mutable_source_updated_at() = TimeUtil::SecondsToTimestamp(today);
    cx::journey::v1::UpsertCustomerResponse r;
    call("UpsertCustomer", &JourneyService::Stub::UpsertCustomer, u, &r);
    created += r.created();
  }

  // Events: each customer walks part of the path over the last 30 days; the
  // first visits of two customers happen before they sign in (anonymous).
  cx::journey::v1::BatchRecordEventsRequest batch;
  int accepted = 0, duplicates = 0, rejected = 0, sent = 0;
  auto flush = [&] {
    if (batch.events_size() == 0) return;
    cx::journey::v1::BatchRecordEventsResponse r;
    call("BatchRecordEvents", &JourneyService::Stub::BatchRecordEvents, batch, &r);
    accepted += r.accepted_count();
    duplicates += r.duplicate_count();
    rejected += r.rejected_count();
    batch.clear_events();
  };
  for (int i = 0; i < kCustomers; ++i) {
    const int steps = 2 + static_cast<int>(rng() % (std::size(kPath) - 1));
    int64_t at = today - 30 * 86400 + static_cast<int64_t>(rng() % (5 * 86400));
    for (int s = 0; s < steps; ++s) {
      const Step& step = kPath[s];
      Event* e = batch.add_events();
      e->set_event_id(absl::StrCat("sample-", day, "-", i, "-", s));
      if (i < 2 && s < 2) e->set_anonymous_id(absl::StrCat("cookie-", day, "-", i));
      else e->set_customer_id(absl::StrCat("cust-", 1000 + i));
      e->set_type(step.type);
      e->set_channel(step.channel);
      e->set_touchpoint_id(step.touchpoint);
      e->set_session_id(absl::StrCat("s-", i, "-", s / 3));
      if (step.revenue_minor > 0) {
        e->mutable_revenue()->set_currency_code("EUR");
        e->mutable_revenue()->set_amount_minor(step.revenue_minor);
      }
      if (absl::StartsWith(step.type, "support_ticket_")) {
        (*e->mutable_properties())["ticket_id"] = absl::StrCat("T-", day, "-", i);
      }
      *e->mutable_occurred_at() = TimeUtil::SecondsToTimestamp(at);
      at += 3600 + static_cast<int64_t>(rng() % (2 * 86400));
      ++sent;
      if (batch.events_size() == 100) flush();
    }
    // Later visits (retention), and some cancel.
    const int logins = static_cast<int>(rng() % 5);
    for (int l = 0; l < logins && at < today; ++l) {
      at += 3 * 86400 + static_cast<int64_t>(rng() % (6 * 86400));
      if (at >= today) break;
      Event* e = batch.add_events();
      e->set_event_id(absl::StrCat("sample-", day, "-", i, "-login-", l));
      e->set_customer_id(absl::StrCat("cust-", 1000 + i));
      e->set_type("app_login");
      e->set_channel(cx::common::v1::CHANNEL_IN_APP);
      e->set_touchpoint_id("mobile-app");
      *e->mutable_occurred_at() = TimeUtil::SecondsToTimestamp(at);
      ++sent;
    }
    if (i % 7 == 3) {
      Event* e = batch.add_events();
      e->set_event_id(absl::StrCat("sample-", day, "-", i, "-cancel"));
      e->set_customer_id(absl::StrCat("cust-", 1000 + i));
      e->set_type("subscription_cancelled");
      e->set_channel(cx::common::v1::CHANNEL_EMAIL);
      e->set_touchpoint_id("billing");
      *e->mutable_occurred_at() = TimeUtil::SecondsToTimestamp(today - 86400);
      ++sent;
    }
    if (batch.events_size() >= 90) flush();
  }
  flush();

  // The two visitors sign in: their anonymous events join their customers.
  for (int i = 0; i < 2; ++i) {
    cx::journey::v1::MergeCustomersRequest m;
    m.mutable_source()->set_anonymous_id(absl::StrCat("cookie-", day, "-", i));
    m.set_target_customer_id(absl::StrCat("cust-", 1000 + i));
    m.set_reason("signed in on the website");
    cx::journey::v1::MergeCustomersResponse r;
    call("MergeCustomers", &JourneyService::Stub::MergeCustomers, m, &r);
  }

  std::cout << absl::StrFormat("Upserted %d sample customers (%d new) and sent %d journey events in batches: %d new, "
                               "%d duplicates of an earlier run, %d rejected; merged 2 anonymous visitors.\n\n",
                               kCustomers, created, sent, accepted, duplicates, rejected);

  // Where the customers are now.
  std::map<std::string, int> by_stage, by_segment;
  cx::journey::v1::ListCustomersRequest list;
  list.set_page_size(100);
  int listed = 0;
  while (true) {
    cx::journey::v1::ListCustomersResponse page;
    call("ListCustomers", &JourneyService::Stub::ListCustomers, list, &page);
    for (const auto& c : page.customers()) {
      ++listed;
      by_stage[cx::common::v1::JourneyStage_Name(c.current_stage()).substr(14)]++;
      by_segment[c.traits().segment()]++;
    }
    if (page.next_page_token().empty()) break;
    list.set_page_token(page.next_page_token());
  }
  std::cout << absl::StrFormat("Customers of this tenant: %d\n", listed);
  auto print = [](const char* title, const std::map<std::string, int>& m) {
    std::cout << absl::StrFormat("  %-16s", title);
    for (const auto& [k, v] : m) std::cout << absl::StrFormat(" %s=%d", k, v);
    std::cout << "\n";
  };
  print("current stage:", by_stage);
  print("segment:", by_segment);

  // One journey in full.
  cx::journey::v1::GetJourneyRequest journey;
  journey.mutable_identity()->set_customer_id("cust-1000");
  cx::journey::v1::GetJourneyResponse j;
  call("GetJourney", &JourneyService::Stub::GetJourney, journey, &j);
  std::cout << absl::StrFormat("\nJourney of cust-1000 (%d events, %d of them recorded before sign-in):\n",
                               j.total_events(), 2);
  auto stage = [](cx::common::v1::JourneyStage s) {
    return s == cx::common::v1::JOURNEY_STAGE_UNSPECIFIED ? std::string("(start)")
                                                          : cx::common::v1::JourneyStage_Name(s).substr(14);
  };
  for (const auto& t : j.transitions()) {
    const int64_t hours = TimeUtil::DurationToSeconds(t.dwell()) / 3600;
    std::cout << absl::StrFormat("  %s UTC  %-13s -> %-13s  %s %dd %dh\n",
                                 TimeUtil::ToString(t.entered_at()).substr(0, 16), stage(t.from_stage()),
                                 stage(t.to_stage()), t.current() ? "current stage for" : "stayed", hours / 24,
                                 hours % 24);
  }
  std::cout << "  by channel:";
  for (const auto& c : j.channel_counts()) {
    std::cout << absl::StrFormat(" %s=%d", cx::common::v1::Channel_Name(c.channel()).substr(8), c.events());
  }
  std::cout << "\n";
  return 0;
}
