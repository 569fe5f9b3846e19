// cx-sample: submits a deterministic set of sample feedback to a running
// feedback-service and prints a summary of what the service stores. Used by
// the main job (scripts/run.sh). Request ids are fixed, so a second run is
// acknowledged as duplicates and stores nothing new.
//
//   cx-sample --target=127.0.0.1:50051 --token=<ingest+read token>
#include <grpcpp/grpcpp.h>

#include <iostream>
#include <map>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cx/feedback/v1/feedback_service.grpc.pb.h"
#include "feedback-service/feedback_manager.h"
#include "google/protobuf/util/time_util.h"
#include "shared/config.h"
#include "shared/status.h"

namespace {

using cx::feedback::v1::Feedback;
using cx::feedback::v1::FeedbackKind;
using google::protobuf::util::TimeUtil;

const char* kPraise[] = {
    "Delivery was fast and the packaging was great",
    "Support solved my billing problem on the first call",
    "Friendly staff in the store, easy returns",
    "Love the product quality, will buy again",
    "",
};
const char* kComplaints[] = {
    "The website kept logging me out during checkout",
    "Prices went up again, not happy",
    "Took three emails to get an answer from support",
    "The app is slow and crashes when I upload a receipt",
    "",
};

std::vector<cx::feedback::v1::SubmitFeedbackRequest> SampleRequests(int count) {
  std::mt19937 rng(20261125);  // fixed: the same sample every run
  const cx::common::v1::Channel channels[] = {cx::common::v1::CHANNEL_WEB, cx::common::v1::CHANNEL_EMAIL,
                                              cx::common::v1::CHANNEL_IN_APP, cx::common::v1::CHANNEL_PHONE,
                                              cx::common::v1::CHANNEL_STORE, cx::common::v1::CHANNEL_CHAT};
  const cx::common::v1::Source sources[] = {cx::common::v1::SOURCE_SURVEY, cx::common::v1::SOURCE_SURVEY,
                                            cx::common::v1::SOURCE_SUPPORT, cx::common::v1::SOURCE_INTERVIEW,
                                            cx::common::v1::SOURCE_REVIEW_SITE, cx::common::v1::SOURCE_SOCIAL_MEDIA};
  const char* touchpoints[] = {"checkout", "delivery", "billing", "support-call", "store-visit", "mobile-app"};
  // Anchored to today (UTC): reruns on the same day resubmit identical
  // requests (acknowledged as duplicates); another day adds a new sample.
  const int64_t today = TimeUtil::TimestampToSeconds(TimeUtil::GetCurrentTime()) / 86400 * 86400;
  const int64_t base = today - 30 * 86400;
  const std::string day = TimeUtil::ToString(TimeUtil::SecondsToTimestamp(today)).substr(0, 10);
  std::vector<cx::feedback::v1::SubmitFeedbackRequest> out;
  for (int i = 0; i < count; ++i) {
    cx::feedback::v1::SubmitFeedbackRequest r;
    r.set_request_id(absl::StrCat("sample-", day, "-", i));
    Feedback* f = r.mutable_feedback();
    f->set_customer_id(absl::StrCat("cust-", 1000 + rng() % 60));
    if (i % 7 == 0) {
      f->mutable_crm_reference()->set_system("salesforce");
      f->mutable_crm_reference()->set_id(absl::StrCat("0035g0000", 1000 + i));
    }
    int kind_pick = rng() % 10;
    if (kind_pick < 5) {
      f->set_kind(cx::feedback::v1::FEEDBACK_KIND_NPS);
      int x = rng() % 100;  // ~50% promoters, ~30% passives, ~20% detractors
      f->set_score(x < 50 ? 9 + x % 2 : x < 80 ? 7 + x % 2 : x % 7);
    } else if (kind_pick < 7) {
      f->set_kind(cx::feedback::v1::FEEDBACK_KIND_CSAT);
      f->set_score(1 + rng() % 5);
    } else if (kind_pick < 8) {
      f->set_kind(cx::feedback::v1::FEEDBACK_KIND_CES);
      f->set_score(1 + rng() % 7);
    } else if (kind_pick < 9) {
      f->set_kind(cx::feedback::v1::FEEDBACK_KIND_STAR_RATING);
      f->set_score(1 + rng() % 5);
    } else {
      f->set_kind(cx::feedback::v1::FEEDBACK_KIND_COMMENT);
    }
    // Unhappy answers get complaints, happy ones praise; comment-only: either.
    int lo = 0, hi = 1;
    cx::feedback::ScoreRange(f->kind(), &lo, &hi);
    bool unhappy = f->has_score() ? f->score() * 10 < hi * 6 : rng() % 2 == 0;
    const char* comment = (unhappy ? kComplaints : kPraise)[rng() % 5];
    if (f->kind() == cx::feedback::v1::FEEDBACK_KIND_COMMENT && comment[0] == '\0') comment = kComplaints[0];
    f->set_comment(comment);
    f->set_channel(channels[rng() % 6]);
    f->set_source(sources[rng() % 6]);
    f->set_touchpoint_id(touchpoints[rng() % 6]);
    f->set_journey_stage(static_cast<cx::common::v1::JourneyStage>(1 + rng() % 5));
    if (rng() % 3 == 0) f->add_tags("q4-campaign");
    f->set_locale("en-US");
    *f->mutable_occurred_at() = TimeUtil::SecondsToTimestamp(base + static_cast<int64_t>(rng() % (30 * 86400)));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<cx::shared::OptionSpec> specs = {
      {"target", "CX_FEEDBACK_TARGET", "127.0.0.1:50051", "feedback-service address"},
      {"token", "CX_TOKEN", "", "bearer token with the ingest and read roles"},
      {"count", "CX_SAMPLE_COUNT", "240", "sample feedback to submit"},
  };
  auto config = cx::shared::Config::ParseOrExit("cx-sample", specs, argc, argv);
  auto channel = grpc::CreateChannel(config.Get("target"), grpc::InsecureChannelCredentials());
  auto stub = cx::feedback::v1::FeedbackService::NewStub(channel);
  auto context = [&](grpc::ClientContext* ctx) {
    ctx->AddMetadata("authorization", "Bearer " + config.Get("token"));
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  };
  auto requests = SampleRequests(static_cast<int>(*config.GetInt("count")));

  // The first few one by one (SubmitFeedback), the rest in batches of 100.
  int accepted = 0, duplicates = 0, rejected = 0;
  size_t i = 0;
  for (; i < std::min<size_t>(10, requests.size()); ++i) {
    grpc::ClientContext ctx;
    context(&ctx);
    cx::feedback::v1::SubmitFeedbackResponse resp;
    grpc::Status s = stub->SubmitFeedback(&ctx, requests[i], &resp);
    if (!s.ok()) {
      std::cerr << "SubmitFeedback failed: " << cx::shared::FromGrpcStatus(s) << "\n";
      return 1;
    }
  }
  while (i < requests.size()) {
    cx::feedback::v1::BatchSubmitFeedbackRequest batch;
    for (size_t end = std::min(requests.size(), i + 100); i < end; ++i) *batch.add_requests() = requests[i];
    grpc::ClientContext ctx;
    context(&ctx);
    cx::feedback::v1::BatchSubmitFeedbackResponse resp;
    grpc::Status s = stub->BatchSubmitFeedback(&ctx, batch, &resp);
    if (!s.ok()) {
      std::cerr << "BatchSubmitFeedback failed: " << cx::shared::FromGrpcStatus(s) << "\n";
      return 1;
    }
    accepted += resp.accepted_count();
    duplicates += resp.duplicate_count();
    rejected += resp.rejected_count();
  }
  // A repeated SubmitFeedback returns the same answer as the first, so only
  // the batch results tell new from duplicate.
  std::cout << absl::StrFormat("Submitted %d sample feedback: 10 one by one (SubmitFeedback, idempotent), %d in "
                               "batches: %d new, %d duplicates of an earlier run, %d rejected.\n\n",
                               requests.size(), requests.size() - 10, accepted, duplicates, rejected);

  // Read everything back (paged) and summarise what is stored.
  std::vector<Feedback> stored;
  cx::feedback::v1::ListFeedbackRequest list;
  list.set_page_size(100);
  while (true) {
    grpc::ClientContext ctx;
    context(&ctx);
    cx::feedback::v1::ListFeedbackResponse page;
    grpc::Status s = stub->ListFeedback(&ctx, list, &page);
    if (!s.ok()) {
      std::cerr << "ListFeedback failed: " << cx::shared::FromGrpcStatus(s) << "\n";
      return 1;
    }
    for (auto& f : *page.mutable_feedback()) stored.push_back(std::move(f));
    if (page.next_page_token().empty()) break;
    list.set_page_token(page.next_page_token());
  }
  std::map<std::string, int> by_kind, by_channel, by_category;
  int promoters = 0, detractors = 0, nps_n = 0, csat_top = 0, csat_n = 0, ces_sum = 0, ces_n = 0;
  for (const auto& f : stored) {
    by_kind[cx::feedback::v1::FeedbackKind_Name(f.kind()).substr(14)]++;
    by_channel[cx::common::v1::Channel_Name(f.channel()).substr(8)]++;
    by_category[cx::common::v1::SourceCategory_Name(f.source_category()).substr(16)]++;
    if (f.kind() == cx::feedback::v1::FEEDBACK_KIND_NPS) {
      ++nps_n;
      promoters += f.nps_category() == cx::feedback::v1::NPS_CATEGORY_PROMOTER;
      detractors += f.nps_category() == cx::feedback::v1::NPS_CATEGORY_DETRACTOR;
    } else if (f.kind() == cx::feedback::v1::FEEDBACK_KIND_CSAT) {
      ++csat_n;
      csat_top += f.score() >= 4;
    } else if (f.kind() == cx::feedback::v1::FEEDBACK_KIND_CES) {
      ++ces_n;
      ces_sum += f.score();
    }
  }
  std::cout << absl::StrFormat("Stored feedback for this tenant: %d\n", stored.size());
  auto print = [](const char* title, const std::map<std::string, int>& m) {
    std::cout << absl::StrFormat("  %-16s", title);
    for (const auto& [k, v] : m) std::cout << absl::StrFormat(" %s=%d", k, v);
    std::cout << "\n";
  };
  print("by kind:", by_kind);
  print("by channel:", by_channel);
  print("by source:", by_category);
  if (nps_n > 0) {
    std::cout << absl::StrFormat("  NPS answers %d: promoters %d, detractors %d, raw NPS %.1f\n", nps_n, promoters,
                                 detractors, 100.0 * (promoters - detractors) / nps_n);
  }
  if (csat_n > 0) std::cout << absl::StrFormat("  CSAT answers %d: %.1f%% satisfied (4-5)\n", csat_n, 100.0 * csat_top / csat_n);
  if (ces_n > 0) std::cout << absl::StrFormat("  CES answers %d: mean %.2f on 1-7\n", ces_n, double(ces_sum) / ces_n);
  std::cout << "  (raw counts; margins of error, trends and breakdowns are metrics-service's job, a later issue)\n\nLatest detractor comments:\n";
  int shown = 0;
  for (const auto& f : stored) {
    if (f.nps_category() == cx::feedback::v1::NPS_CATEGORY_DETRACTOR && !f.comment().empty() && shown < 3) {
      std::cout << absl::StrFormat("  %s  %s  NPS %d  \"%s\"\n", TimeUtil::ToString(f.occurred_at()).substr(0, 10),
                                   f.customer_id(), f.score(), f.comment());
      ++shown;
    }
  }
  return 0;
}
