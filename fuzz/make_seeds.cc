// Writes the seed corpus of the fuzz targets: one valid request (and a few
// near misses) per RPC, each prefixed with the byte that selects its RPC.
//   fuzz-seeds <dir>   creates <dir>/{feedback_request,journey_request,metrics_request,csv}/
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cx/feedback/v1/feedback_service.pb.h"
#include "cx/journey/v1/journey_service.pb.h"
#include "cx/metrics/v1/metrics_service.pb.h"
#include "google/protobuf/util/time_util.h"

namespace {

namespace fs = std::filesystem;
using google::protobuf::util::TimeUtil;

void Write(const fs::path& dir, int selector, const std::string& bytes, int* n) {
  fs::create_directories(dir);
  std::ofstream(dir / ("seed-" + std::to_string(++*n)), std::ios::binary)
      << static_cast<char>(selector) << bytes;
}

google::protobuf::Timestamp DaysAgo(int days) {
  return TimeUtil::SecondsToTimestamp(1767225600 - int64_t{days} * 86400);  // from 2026-01-01
}

void Feedback(const fs::path& dir) {
  namespace v1 = cx::feedback::v1;
  int n = 0;
  v1::SubmitFeedbackRequest submit;
  submit.set_request_id("seed-1");
  auto* f = submit.mutable_feedback();
  f->set_customer_id("cust-1");
  f->set_kind(v1::FEEDBACK_KIND_NPS);
  f->set_score(3);
  f->set_comment("Delivery was late and support never answered");
  f->set_source(cx::common::v1::SOURCE_SURVEY);
  f->set_channel(cx::common::v1::CHANNEL_EMAIL);
  f->add_tags("delivery");
  *f->mutable_occurred_at() = DaysAgo(1);
  Write(dir, 0, submit.SerializeAsString(), &n);
  v1::BatchSubmitFeedbackRequest batch;
  *batch.add_requests() = submit;
  submit.set_request_id("seed-2");
  submit.mutable_feedback()->set_kind(v1::FEEDBACK_KIND_CSAT);
  *batch.add_requests() = submit;
  Write(dir, 1, batch.SerializeAsString(), &n);
  v1::GetFeedbackRequest get;
  get.set_name("feedback/1");
  Write(dir, 2, get.SerializeAsString(), &n);
  v1::ListFeedbackRequest list;
  list.set_page_size(5);
  list.set_customer_id("cust-1");
  list.set_min_score(0);
  Write(dir, 3, list.SerializeAsString(), &n);
  v1::ListChangesRequest changes;
  changes.set_limit(10);
  Write(dir, 4, changes.SerializeAsString(), &n);
  Write(dir, 4 | 0x80, changes.SerializeAsString(), &n);
  v1::ExportCustomerDataRequest exported;
  exported.set_customer_id("cust-1");
  exported.set_page_size(1);
  Write(dir, 15, exported.SerializeAsString(), &n);
  v1::EraseCustomerRequest erase;
  erase.set_customer_id("cust-2");
  Write(dir, 14, erase.SerializeAsString(), &n);
  v1::SetFollowUpRulesRequest rules;
  auto* rule = rules.mutable_rules()->add_rules();
  rule->set_name("detractors");
  rule->set_kind(v1::FEEDBACK_KIND_NPS);
  rule->set_max_score(6);
  Write(dir, 7, rules.SerializeAsString(), &n);
  v1::GetFollowUpRequest follow_up;
  follow_up.set_name("followups/2");
  Write(dir, 8, follow_up.SerializeAsString(), &n);
  v1::ListFollowUpsRequest follow_ups;
  follow_ups.set_page_size(3);
  Write(dir, 9, follow_ups.SerializeAsString(), &n);
  v1::UpdateFollowUpRequest update;
  update.set_name("followups/2");
  update.set_version(1);
  update.set_assignee("agent-7");
  Write(dir, 10, update.SerializeAsString(), &n);
  Write(dir, 11, v1::GetFollowUpStatsRequest().SerializeAsString(), &n);
}

void Journey(const fs::path& dir) {
  namespace v1 = cx::journey::v1;
  int n = 0;
  v1::RecordEventRequest record;
  auto* e = record.mutable_event();
  e->set_event_id("ev-1");
  e->set_customer_id("cust-1");
  e->set_type("order_placed");
  e->set_channel(cx::common::v1::CHANNEL_WEB);
  *e->mutable_occurred_at() = DaysAgo(2);
  *e->mutable_sent_at() = DaysAgo(1);
  e->mutable_revenue()->set_currency_code("USD");
  e->mutable_revenue()->set_amount_minor(1999);
  (*e->mutable_properties())["ticket_id"] = "t-1";
  Write(dir, 0, record.SerializeAsString(), &n);
  v1::BatchRecordEventsRequest batch;
  *batch.add_events() = record.event();
  Write(dir, 1, batch.SerializeAsString(), &n);
  v1::UpsertCustomerRequest upsert;
  upsert.set_customer_id("cust-1");
  upsert.set_source_system("salesforce");
  *upsert.mutable_source_updated_at() = DaysAgo(3);
  upsert.mutable_traits()->set_email("a@example.com");
  auto* ref = upsert.add_crm_references();
  ref->set_system("salesforce");
  ref->set_id("003A");
  Write(dir, 2, upsert.SerializeAsString(), &n);
  v1::GetCustomerRequest get;
  get.set_customer_id("cust-1");
  Write(dir, 3, get.SerializeAsString(), &n);
  v1::ListCustomersRequest list;
  list.set_page_size(2);
  Write(dir, 5, list.SerializeAsString(), &n);
  v1::MergeCustomersRequest merge;
  merge.mutable_source()->set_anonymous_id("anon-1");
  merge.set_target_customer_id("cust-1");
  merge.set_reason("same person");
  Write(dir, 6, merge.SerializeAsString(), &n);
  v1::GetJourneyRequest journey;
  journey.mutable_identity()->set_customer_id("cust-1");
  journey.set_page_size(10);
  Write(dir, 10, journey.SerializeAsString(), &n);
  v1::ExportCustomerDataRequest exported;
  exported.set_customer_id("cust-1");
  exported.set_page_size(1);
  Write(dir, 15, exported.SerializeAsString(), &n);
  v1::EraseCustomerRequest erase;
  erase.set_customer_id("cust-2");
  Write(dir, 14, erase.SerializeAsString(), &n);
}

void Metrics(const fs::path& dir) {
  namespace v1 = cx::metrics::v1;
  int n = 0;
  v1::GetScoreRequest score;
  score.set_metric(v1::METRIC_NPS);
  *score.mutable_range()->mutable_start_time() = DaysAgo(30);
  *score.mutable_range()->mutable_end_time() = DaysAgo(0);
  Write(dir, 0, score.SerializeAsString(), &n);
  v1::GetTrendRequest trend;
  trend.set_metric(v1::METRIC_CSAT);
  *trend.mutable_range() = score.range();
  trend.set_interval(v1::INTERVAL_DAY);
  trend.set_time_zone("Europe/Berlin");
  Write(dir, 1, trend.SerializeAsString(), &n);
  v1::GetFunnelRequest funnel;
  funnel.add_steps()->set_event_type("page_view");
  funnel.add_steps()->set_event_type("order_placed");
  *funnel.mutable_range() = score.range();
  Write(dir, 10, funnel.SerializeAsString(), &n);
  // Regression: a conversion window outside Duration's range once
  // overflowed the conversion to microseconds (UBSan).
  funnel.mutable_conversion_window()->set_seconds(372001853295915);
  Write(dir, 10, funnel.SerializeAsString(), &n);
  v1::GetRetentionRequest retention;
  retention.set_cohort_event_type("order_placed");
  retention.set_return_event_type("login");
  retention.set_periods(4);
  *retention.mutable_range() = score.range();
  Write(dir, 11, retention.SerializeAsString(), &n);
  v1::GetCustomerHealthRequest health;
  health.set_customer_id("cust-1");
  Write(dir, 15, health.SerializeAsString(), &n);
  v1::ListCustomerHealthRequest list;
  list.set_page_size(3);
  Write(dir, 16, list.SerializeAsString(), &n);
}

void Csv(const fs::path& dir) {
  int n = 0;
  for (const char* text : {"a,b,c\n1,2,3\n", "\"quoted, field\",\"with \"\"escapes\"\"\"\r\nx,y\r\n",
                           "customer_id,kind,score,comment\nc1,nps,9,\"multi\nline\"\n", "\"unterminated\n"}) {
    fs::create_directories(dir);
    std::ofstream(dir / ("seed-" + std::to_string(++n)), std::ios::binary) << text;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz-seeds <dir>\n";
    return 2;
  }
  const fs::path root = argv[1];
  Feedback(root / "feedback_request");
  Journey(root / "journey_request");
  Metrics(root / "metrics_request");
  Csv(root / "csv");
  return 0;
}
