// cx-sample: writes a deterministic sample tenant as CSV files for
// `cxctl import`: customers with Salesforce or HubSpot ids, their journeys
// through awareness -> consideration -> purchase -> retention -> advocacy
// across channels, support tickets, refunds and cancellations, and the
// feedback they give, whose scores follow what happened to them (a late
// delivery, an unresolved ticket or a refund lowers NPS; a fast answer
// raises CSAT). Signups follow a weekly cycle with a campaign spike. Dates
// are relative to today (UTC), so a second run on the same day writes the
// same rows (and cxctl stores nothing twice).
//
//   cx-sample --out=data/sample [--customers=3000]
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "shared/auth.h"
#include "shared/config.h"
#include "shared/csv.h"

namespace {

using cx::shared::CsvLine;

constexpr int kDays = 180;
const char* kFirst[] = {"Ada", "Alan", "Grace", "Linus", "Marie", "Nikola", "Emmy", "Kurt", "Rosalind", "Tim",
                        "Hedy", "Claude", "Barbara", "Dennis", "Frances", "Edsger", "Katherine", "John", "Mary", "Ken"};
const char* kLast[] = {"Lovelace", "Turing", "Hopper", "Torvalds", "Curie", "Tesla", "Noether", "Goedel", "Franklin",
                       "Berners-Lee", "Lamarr", "Shannon", "Liskov", "Ritchie", "Allen", "Dijkstra", "Johnson",
                       "McCarthy", "Jackson", "Thompson"};
const char* kCountries[] = {"DE", "FR", "GB", "NL", "ES", "IT", "SE", "PL", "US", "AT"};

std::string Time(absl::Time t) { return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone()); }

// Rows dated from `cutoff` on (today, UTC midnight) are left out: the
// sample holds only what already happened.
struct Writer {
  std::ofstream customers, events, feedback;
  absl::Time cutoff;
  int64_t n_customers = 0, n_events = 0, n_feedback = 0;
  void Event(const std::string& customer, const std::string& type, const char* channel, const char* touchpoint,
             const char* stage, absl::Time at, const std::string& currency = "", int64_t amount = 0,
             const std::string& ticket = "") {
    if (at >= cutoff) return;
    events << CsvLine({customer, type, channel, touchpoint, stage, Time(at), currency,
                       currency.empty() ? "" : absl::StrCat(amount), ticket});
    ++n_events;
  }
  void Feedback(const std::string& customer, const char* kind, int score, const std::string& comment,
                const char* channel, const char* source, const char* touchpoint, const char* stage, absl::Time at) {
    if (at >= cutoff) return;
    feedback << CsvLine({customer, kind, score < 0 ? "" : absl::StrCat(score), comment, channel, source, touchpoint,
                         stage, Time(at)});
    ++n_feedback;
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<cx::shared::OptionSpec> specs = {
      {"out", "CX_SAMPLE_OUT", "data/sample", "directory for customers.csv, events.csv and feedback.csv"},
      {"customers", "CX_SAMPLE_CUSTOMERS", "3000", "customers in the sample"},
  };
  auto config = cx::shared::Config::ParseOrExit("cx-sample", specs, argc, argv);
  const std::string dir = config.Get("out");
  const int customers = static_cast<int>(config.GetInt("customers").value_or(3000));
  std::filesystem::create_directories(dir);
  Writer w;
  w.customers.open(dir + "/customers.csv", std::ios::trunc);
  w.events.open(dir + "/events.csv", std::ios::trunc);
  w.feedback.open(dir + "/feedback.csv", std::ios::trunc);
  w.customers << CsvLine({"customer_id", "crm_system", "crm_id", "name", "email", "segment", "plan", "country",
                          "signup_time", "source_system", "updated_at"});
  w.events << CsvLine({"customer_id", "type", "channel", "touchpoint_id", "stage", "occurred_at", "currency",
                       "amount_minor", "ticket_id"});
  w.feedback << CsvLine({"customer_id", "kind", "score", "comment", "channel", "source", "touchpoint_id",
                         "journey_stage", "occurred_at"});

  std::mt19937_64 rng(2026);
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  const absl::Time today = absl::FromCivil(absl::CivilDay(absl::ToCivilDay(absl::Now(), absl::UTCTimeZone())),
                                           absl::UTCTimeZone());
  const absl::Time start = today - absl::Hours(24 * kDays);
  w.cutoff = today;
  auto hours = [](double h) { return absl::Seconds(static_cast<int64_t>(h * 3600)); };

  // Signup day: weekdays twice as likely as weekends, and a campaign 40 to
  // 50 days ago triples the rate.
  std::vector<double> weight(kDays);
  for (int d = 0; d < kDays; ++d) {
    const absl::Time day = start + absl::Hours(24 * d);
    const auto wd = absl::GetWeekday(absl::ToCivilDay(day, absl::UTCTimeZone()));
    weight[d] = (wd == absl::Weekday::saturday || wd == absl::Weekday::sunday) ? 0.5 : 1.0;
    if (d >= kDays - 50 && d < kDays - 40) weight[d] *= 3;
  }
  std::discrete_distribution<int> signup_day(weight.begin(), weight.end());

  int ticket_counter = 0;
  for (int i = 0; i < customers; ++i) {
    const std::string id = absl::StrFormat("cust-%05d", i);
    const bool salesforce = i % 10 < 7;
    const std::string crm_id = salesforce ? absl::StrCat("003", cx::shared::Sha256Hex(id).substr(0, 12))
                                          : absl::StrCat(100000 + i);
    const std::string first = kFirst[pick(20)], last = kLast[pick(20)];
    const double seg = std::uniform_real_distribution<double>(0, 1)(rng);
    const char* segment = seg < 0.15 ? "enterprise" : seg < 0.45 ? "mid-market" : "smb";
    const absl::Time signup = start + absl::Hours(24 * signup_day(rng)) + hours(8 + pick(12));
    w.customers << CsvLine({id, salesforce ? "salesforce" : "hubspot", crm_id, first + " " + last,
                            absl::StrFormat("%s.%s.%d@example.com", first, last, i), segment,
                            (const char*[]){"basic", "pro", "premium"}[pick(3)], kCountries[pick(10)], Time(signup),
                            salesforce ? "salesforce" : "hubspot", Time(signup)});
    ++w.n_customers;

    // Awareness and consideration.
    absl::Time t = signup - hours(24 + pick(72));
    if (chance(0.5)) w.Event(id, "ad_click", "social", "social-ads", "awareness", t);
    t += hours(0.2);
    w.Event(id, "page_view", "web", "website", "awareness", t);
    if (!chance(0.85)) continue;
    t += hours(0.1 + pick(48));
    if (t >= today) continue;
    w.Event(id, "product_view", chance(0.3) ? "in_app" : "web", "website", "consideration", t);
    if (chance(0.2)) w.Event(id, "store_visit", "store", chance(0.5) ? "store-berlin" : "store-munich", "consideration", t + hours(30));
    if (!chance(0.75)) continue;
    // Purchase.
    t += hours(1 + pick(72));
    if (t >= today) continue;
    const bool app = chance(0.35);
    w.Event(id, "cart_add", app ? "in_app" : "web", app ? "mobile-app" : "checkout", "purchase", t);
    if (!chance(0.82)) continue;
    t += hours(0.3);
    const int64_t amount = (std::string(segment) == "enterprise" ? 40000 : 4000) + pick(9000);
    w.Event(id, "order_placed", app ? "in_app" : "web", app ? "mobile-app" : "checkout", "purchase", t, "EUR", amount);
    w.Event(id, "invoice_paid", "email", "billing", "purchase", t + hours(2));
    // CES of the checkout, sometimes.
    if (chance(0.3)) {
      w.Feedback(id, "ces", std::clamp(app ? 6 + pick(2) : 4 + pick(4), 1, 7), "", app ? "in_app" : "web", "survey",
                 app ? "mobile-app" : "checkout", "purchase", t + hours(0.5));
    }
    const double delivery_days = 1 + std::abs(std::normal_distribution<double>(1.5, 1.8)(rng));
    const bool late = delivery_days > 4;
    const absl::Time delivered = t + hours(24 * delivery_days);
    if (delivered < today) w.Event(id, "delivery_completed", "phone", "delivery", "purchase", delivered);
    // Support: late deliveries and some others open a ticket.
    bool ticket = chance(late ? 0.6 : 0.15), resolved = false, reopened = false, fast = false;
    absl::Time after = delivered;
    if (ticket && delivered < today) {
      const std::string tid = absl::StrFormat("T-%06d", ++ticket_counter);
      const char* channel = (const char*[]){"chat", "phone", "email"}[pick(3)];
      const char* touchpoint = std::string(channel) == "phone" ? "support-call" : "support-chat";
      const absl::Time opened = delivered + hours(2 + pick(24));
      if (opened < today) {
        w.Event(id, "support_ticket_opened", channel, touchpoint, "retention", opened, "", 0, tid);
        resolved = chance(0.88);
        const double took = resolved ? 0.5 + std::abs(std::normal_distribution<double>(6, 14)(rng)) : 0;
        fast = resolved && took < 4;
        if (resolved && opened + hours(took) < today) {
          w.Event(id, "support_ticket_resolved", channel, touchpoint, "retention", opened + hours(took), "", 0, tid);
          reopened = chance(0.1);
          if (reopened) {
            w.Event(id, "support_ticket_reopened", channel, touchpoint, "retention", opened + hours(took + 20), "", 0, tid);
            w.Event(id, "support_ticket_resolved", channel, touchpoint, "retention", opened + hours(took + 30), "", 0, tid);
          }
          const int csat = !resolved ? 1 : reopened ? 2 : fast ? 5 : took < 24 ? 4 : 3;
          w.Feedback(id, "csat", csat,
                     csat >= 4   ? "The agent solved my problem quickly, thank you"
                     : csat == 3 ? "It took a while but the issue is fixed"
                                 : "I had to contact support twice for the same problem",
                     channel, "support", touchpoint, "retention", opened + hours(took + 1));
        } else if (!resolved) {
          w.Feedback(id, "csat", 1, "Still waiting for an answer from support, very frustrating", channel, "support",
                     touchpoint, "retention", opened + hours(48));
        }
        after = opened + hours(took + 2);
      }
    }
    const bool refund = chance(late ? 0.15 : 0.04);
    if (refund && after + hours(48) < today) {
      w.Event(id, "refund_issued", "email", "billing", "retention", after + hours(48), "EUR", amount);
    }
    // NPS after delivery: the experience moves the score.
    if (chance(0.6) && delivered + hours(72) < today) {
      int score = 9 + pick(2) - (late ? 3 : 0) - (ticket ? 1 : 0) - (ticket && !resolved ? 4 : 0) - (reopened ? 2 : 0) -
                  (refund ? 2 : 0) + (fast ? 1 : 0) + (pick(5) == 0 ? -1 : 0);
      score = std::clamp(score, 0, 10);
      std::string comment;
      if (chance(0.6)) {
        if (ticket && !resolved) comment = "Nobody answered my ticket, I am really disappointed";
        else if (refund) comment = "The item arrived damaged and I had to ask for a refund";
        else if (late) comment = "The parcel arrived days late and nobody told me why";
        else if (fast) comment = "Support fixed my problem in minutes, excellent service";
        else if (score >= 9) comment = (const char*[]){"Great product and fast delivery", "Love the app, checkout is so easy",
                                                       "Very happy with the quality"}[pick(3)];
        else if (score >= 7) comment = "Good quality but a bit expensive";
        else comment = "Not happy with the service this time";
      }
      w.Feedback(id, "nps", score, comment, "email", "survey", late ? "delivery" : app ? "mobile-app" : "checkout",
                 "purchase", delivered + hours(72));
      // Advocacy: happy customers review and refer; some unhappy ones review too.
      if (score >= 9 && chance(0.3)) {
        w.Event(id, "review_posted", "review_site", "reviews", "advocacy", delivered + hours(96));
        w.Feedback(id, "star_rating", 5, "Excellent, would recommend", "review_site", "review_site", "reviews",
                   "advocacy", delivered + hours(96));
        if (chance(0.2)) w.Event(id, "referral_sent", "email", "referrals", "advocacy", delivered + hours(120));
      } else if (score <= 4 && chance(0.3)) {
        w.Feedback(id, "star_rating", 1 + pick(2), comment.empty() ? "Disappointing experience" : comment,
                   "review_site", "review_site", "reviews", "advocacy", delivered + hours(100));
      }
    }
    // Retention: weekly app logins, fewer after a bad experience; some churn.
    const bool bad = late || (ticket && !resolved) || refund;
    const int weeks = bad ? pick(4) : 2 + pick(10);
    for (int k = 1; k <= weeks; ++k) {
      const absl::Time login = delivered + hours(24 * 7 * k + pick(48));
      if (login >= today) break;
      w.Event(id, "app_login", "in_app", "mobile-app", "retention", login);
      if (k % 5 == 0 && chance(0.4)) {
        w.Event(id, "order_placed", "in_app", "mobile-app", "retention", login + hours(1), "EUR", 2000 + pick(6000));
      }
    }
    if (chance(bad ? 0.3 : 0.06)) {
      const absl::Time cancel = delivered + hours(24 * 7 * (weeks + 1));
      if (cancel < today) w.Event(id, "subscription_cancelled", "web", "account", "retention", cancel);
    }
    if (chance(0.03) && signup < today) {
      w.Feedback(id, "comment", -1, late ? "Why is delivery always so slow?" : "Loving the new features in the app",
                 "social", "social_media", "", "", signup + hours(24 * (1 + pick(20))));
    }
  }
  std::cout << absl::StrFormat("cx-sample: %d customers, %d journey events, %d feedback in %s\n", w.n_customers,
                               w.n_events, w.n_feedback, dir);
  return 0;
}
