// journey-bench: the journey metrics of metrics-service at scale. It feeds
// N customers' journeys (M events in all) through the FeedApplier into a
// fresh database (SQLite by default, or a mysql:// URL), as the journey feed
// would, then times in the same run:
//   - GetFunnel (4 steps) and GetRetention (12 weekly periods) from the
//     in-memory journey index, next to the same questions asked as SQL over
//     the raw event rows of the same database;
//   - ListCustomerHealth paged through every customer (a full CRM sync);
//   - the rebuild of the index from the database (a restart).
// It prints figures; it never passes or fails on a time.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "metrics-service/feed_applier.h"
#include "metrics-service/journey_metrics.h"
#include "metrics-service/sql_metrics_repository.h"
#include "shared/config.h"
#include "shared/db/sql.h"

namespace {

using cx::metrics::v1::GetFunnelRequest;
using Clock = std::chrono::steady_clock;

constexpr int64_t kDay = 86400;
constexpr int64_t kEnd = 1767225600;  // 2026-01-01
constexpr int64_t kStart = kEnd - 180 * kDay;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

template <class Fn>
std::vector<double> Time(int runs, Fn&& fn) {
  std::vector<double> out;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = Clock::now();
    fn();
    out.push_back(Ms(Clock::now() - t0));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string Summary(const std::vector<double>& ms) {
  return absl::StrFormat("p50 %.1f ms, min %.1f ms, max %.1f ms (%d runs)", ms[ms.size() / 2], ms.front(), ms.back(),
                         static_cast<int>(ms.size()));
}

const char* const kPath[] = {"page_view", "product_view", "cart_add", "order_placed"};

}  // namespace

int main(int argc, char** argv) {
  std::vector<cx::shared::OptionSpec> specs = {
      {"customers", "CX_JOURNEY_BENCH_CUSTOMERS", "1000000", "customers"},
      {"events", "CX_JOURNEY_BENCH_EVENTS", "20000000", "journey events in all"},
      {"db", "CX_JOURNEY_BENCH_DB", "", "database URL (default: a fresh SQLite file under /tmp)"},
      {"runs", "CX_JOURNEY_BENCH_RUNS", "5", "runs of each index query"},
  };
  auto config = cx::shared::Config::ParseOrExit("journey-bench", specs, argc, argv);
  const int64_t customers = config.GetInt("customers").value_or(1000000);
  const int64_t events = config.GetInt("events").value_or(20000000);
  const int runs = static_cast<int>(config.GetInt("runs").value_or(5));
  std::string url = config.Get("db");
  const std::string dir = "/tmp/cx-journey-bench";
  if (url.empty()) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    url = "sqlite://" + dir + "/metrics.db";
  }
  auto pool = cx::shared::db::OpenDatabase(url, "", 2);
  if (!pool.ok()) {
    std::cerr << pool.status() << "\n";
    return 1;
  }
  auto repo = cx::metrics::OpenMetricsRepository(*pool);
  if (!repo.ok()) {
    std::cerr << repo.status() << "\n";
    return 1;
  }
  auto index = std::make_shared<cx::metrics::JourneyIndex>();
  cx::metrics::FeedApplier applier(*repo, std::make_shared<cx::metrics::RollupIndex>(), index);
  std::cout << absl::StrFormat("journey-bench: %d customers, %d events over 180 days, database %s\n", customers,
                               events, url.rfind("mysql", 0) == 0 ? "MySQL/MariaDB" : "SQLite");

  // Each customer: a visit path that stops at a random step, repeated
  // visits, logins and the odd order; events arrive customer by customer
  // in batches of 5,000 feed records.
  std::mt19937_64 rng(7);
  const int64_t per_customer = std::max<int64_t>(1, events / customers);
  std::vector<cx::journey::v1::JourneyChange> batch;
  int64_t sequence = 0, sent = 0;
  const auto load_start = Clock::now();
  auto flush = [&] {
    if (batch.empty()) return;
    const int64_t after = batch.front().sequence() - 1;
    if (auto s = applier.ApplyJourney(after, batch); !s.ok()) {
      std::cerr << "apply: " << s << "\n";
      std::exit(1);
    }
    batch.clear();
  };
  for (int64_t c = 0; c < customers && sent < events; ++c) {
    int64_t at = kStart + static_cast<int64_t>(rng() % (150 * kDay));
    for (int64_t k = 0; k < per_customer && sent < events; ++k) {
      const int step = static_cast<int>(k % 6);
      const char* type = step < 4 ? kPath[step] : "app_login";
      if (step < 4 && step > 0 && rng() % 3 == 0) type = "page_view";  // drop-off, back to browsing
      cx::journey::v1::JourneyChange change;
      change.set_sequence(++sequence);
      change.set_tenant("bench");
      auto* e = change.mutable_event_recorded();
      e->set_event_id(absl::StrCat("e", sent));
      e->set_customer_id(absl::StrCat("c", c));
      e->set_type(type);
      e->set_channel(static_cast<cx::common::v1::Channel>(1 + rng() % 3));
      e->mutable_event_time()->set_seconds(std::min(kEnd - 1, at));
      if (std::string(type) == "order_placed") {
        e->mutable_revenue()->set_currency_code("EUR");
        e->mutable_revenue()->set_amount_minor(1000 + static_cast<int64_t>(rng() % 20000));
      }
      at += 600 + static_cast<int64_t>(rng() % (3 * kDay));
      batch.push_back(std::move(change));
      ++sent;
      if (batch.size() >= 5000) flush();
    }
  }
  flush();
  const double load_s = Ms(Clock::now() - load_start) / 1000;
  std::cout << absl::StrFormat("load through the feed applier: %d events in %.1f s = %.0f events/s (%d in memory)\n",
                               sent, load_s, sent / load_s, index->events());

  cx::shared::Principal p{"bench", cx::shared::kRoleRead, ""};
  cx::metrics::JourneyMetricsOptions options;
  options.clock = [] { return absl::FromUnixSeconds(kEnd); };
  options.page_token_key = "bench";
  cx::metrics::JourneyMetrics metrics(index, options);

  // Funnel: 4 steps in order, 7-day window, entries over the last 90 days.
  const int64_t from = kEnd - 90 * kDay, window = 7 * kDay;
  GetFunnelRequest funnel;
  for (const char* type : kPath) funnel.add_steps()->set_event_type(type);
  funnel.mutable_conversion_window()->set_seconds(window);
  funnel.mutable_range()->mutable_start_time()->set_seconds(from);
  funnel.mutable_range()->mutable_end_time()->set_seconds(kEnd);
  cx::metrics::v1::GetFunnelResponse answer;
  const auto funnel_ms = Time(runs, [&] { answer = *metrics.GetFunnel(p, funnel); });
  std::string counts;
  for (const auto& s : answer.steps()) absl::StrAppend(&counts, counts.empty() ? "" : " > ", s.customers());
  std::cout << absl::StrFormat("GetFunnel 4 steps, index: %s; customers %s\n", Summary(funnel_ms), counts);

  auto conn = (*pool)->Acquire();
  if (!conn.ok()) return 1;
  const int64_t us = 1000000;
  // The same question in SQL over the raw rows: earliest step-1 event in
  // range per customer, then the earliest next step within the window.
  std::string sql = absl::StrCat(
      "WITH s1 AS (SELECT subject, MIN(time_us) t1, MIN(time_us) tp FROM metrics_events WHERE tenant = 'bench' AND "
      "type = 'page_view' AND time_us >= ", from * us, " AND time_us < ", kEnd * us, " GROUP BY subject)");
  for (int s = 2; s <= 4; ++s) {
    absl::StrAppend(&sql, ", s", s, " AS (SELECT p.subject, p.t1, MIN(e.time_us) tp FROM s", s - 1,
                    " p JOIN metrics_events e ON e.tenant = 'bench' AND e.subject = p.subject AND e.type = '",
                    kPath[s - 1], "' AND e.time_us > p.tp AND e.time_us <= p.t1 + ", window * us,
                    " GROUP BY p.subject, p.t1)");
  }
  absl::StrAppend(&sql, " SELECT (SELECT COUNT(*) FROM s1), (SELECT COUNT(*) FROM s2), (SELECT COUNT(*) FROM s3), "
                        "(SELECT COUNT(*) FROM s4)");
  std::string sql_counts;
  const auto sql_funnel_ms = Time(1, [&] {
    auto rows = (*conn)->Query(sql);
    if (!rows.ok()) {
      std::cerr << rows.status() << "\n";
      return;
    }
    sql_counts = absl::StrCat(rows->front().Int(0), " > ", rows->front().Int(1), " > ", rows->front().Int(2), " > ",
                              rows->front().Int(3));
  });
  std::cout << absl::StrFormat("GetFunnel 4 steps, SQL over raw rows: %s; customers %s; index %.0fx faster\n",
                               Summary(sql_funnel_ms), sql_counts, sql_funnel_ms[0] / funnel_ms[funnel_ms.size() / 2]);

  // Retention: cohorts by first page view over 12 weeks, returns by login.
  cx::metrics::v1::GetRetentionRequest retention;
  retention.set_cohort_event_type("page_view");
  retention.set_return_event_type("app_login");
  retention.set_interval(cx::metrics::v1::INTERVAL_WEEK);
  retention.set_periods(12);
  const int64_t monday = 4 * kDay;  // 1970-01-05
  const int64_t cohort_from = monday + (kStart - monday) / (7 * kDay) * (7 * kDay);  // whole UTC weeks
  const int64_t cohort_to = cohort_from + 12 * 7 * kDay;
  retention.mutable_range()->mutable_start_time()->set_seconds(cohort_from);
  retention.mutable_range()->mutable_end_time()->set_seconds(cohort_to);
  int64_t week1 = 0;
  const auto retention_ms = Time(runs, [&] {
    auto r = metrics.GetRetention(p, retention);
    week1 = 0;
    for (const auto& c : r->cohorts()) week1 += c.cells_size() > 1 ? c.cells(1).retained() : 0;
  });
  std::cout << absl::StrFormat("GetRetention 12 weekly periods, index: %s; retained in week 1: %d\n",
                               Summary(retention_ms), week1);
  const std::string retention_sql = absl::StrCat(
      "WITH c AS (SELECT subject, MIN(time_us) t FROM metrics_events WHERE tenant = 'bench' AND type = 'page_view' "
      "GROUP BY subject), r AS (SELECT DISTINCT c.subject, (c.t - ", monday * us, ") / ", 7 * kDay * us,
      " cb, (e.time_us - ", monday * us, ") / ", 7 * kDay * us,
      " rb FROM c JOIN metrics_events e ON e.tenant = 'bench' AND e.subject = c.subject AND e.type = 'app_login' "
      "WHERE c.t >= ", cohort_from * us, " AND c.t < ", cohort_to * us,
      ") SELECT rb - cb, COUNT(*) FROM r WHERE rb > cb AND rb - cb <= 12 GROUP BY rb - cb ORDER BY 1");
  int64_t sql_week1 = 0;
  const auto sql_retention_ms = Time(1, [&] {
    auto rows = (*conn)->Query(retention_sql);
    if (!rows.ok()) {
      std::cerr << rows.status() << "\n";
      return;
    }
    for (const auto& row : *rows) {
      if (row.Int(0) == 1) sql_week1 = row.Int(1);
    }
  });
  std::cout << absl::StrFormat("GetRetention 12 weekly periods, SQL over raw rows: %s; retained in week 1: %d; "
                               "index %.0fx faster\n",
                               Summary(sql_retention_ms), sql_week1,
                               sql_retention_ms[0] / retention_ms[retention_ms.size() / 2]);

  // A full CRM sync: every customer's health, 1,000 a page.
  int64_t synced = 0;
  const auto sync_ms = Time(1, [&] {
    cx::metrics::v1::ListCustomerHealthRequest r;
    r.set_page_size(1000);
    for (;;) {
      auto page = metrics.ListCustomerHealth(p, r);
      if (!page.ok()) {
        std::cerr << page.status() << "\n";
        return;
      }
      synced += page->customers_size();
      if (page->next_page_token().empty()) break;
      r.set_page_token(page->next_page_token());
    }
  });
  std::cout << absl::StrFormat("ListCustomerHealth full sync: %d customers in %.1f s = %.0f customers/s\n", synced,
                               sync_ms[0] / 1000, synced / (sync_ms[0] / 1000));

  // Restart: the index rebuilt from the database.
  auto fresh = std::make_shared<cx::metrics::JourneyIndex>();
  cx::metrics::FeedApplier reloaded(*repo, std::make_shared<cx::metrics::RollupIndex>(), fresh);
  const auto reload_ms = Time(1, [&] {
    if (auto s = reloaded.Load(); !s.ok()) std::cerr << s << "\n";
  });
  std::cout << absl::StrFormat("index rebuild at start: %d events in %.1f s\n", fresh->events(), reload_ms[0] / 1000);
  return 0;
}
