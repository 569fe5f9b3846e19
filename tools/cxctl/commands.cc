#include "tools/cxctl/commands.h"

#include <unistd.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/time_util.h"
#include "shared/proto_util.h"
#include "shared/status.h"
#include "tools/cxctl/importer.h"

namespace cx::cxctl {
namespace {

namespace fb = feedback::v1;
namespace jr = journey::v1;
namespace mx = metrics::v1;
using google::protobuf::util::TimeUtil;
using shared::InvalidField;

std::string RandomId() {
  std::random_device rd;
  std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())));
  return absl::StrFormat("cxctl-%016x%016x", rng(), rng());
}

// The range "the last `days` days up to now".
absl::StatusOr<common::v1::TimeRange> DaysRange(const Args& a, int64_t fallback) {
  auto days = a.Int("days", fallback);
  if (!days.ok()) return days.status();
  if (*days <= 0 || *days > 3660) return InvalidField("days", "must be between 1 and 3660");
  common::v1::TimeRange r;
  const absl::Time now = absl::Now();
  *r.mutable_start_time() = shared::ToProtoTime(now - absl::Hours(24 * *days));
  *r.mutable_end_time() = shared::ToProtoTime(now);
  return r;
}

absl::StatusOr<mx::Metric> MetricOf(const Args& a) {
  auto v = ParseEnum(mx::Metric_descriptor(), "METRIC_", a.Get("metric", "nps"), "metric");
  if (!v.ok()) return v.status();
  return static_cast<mx::Metric>(*v);
}

std::string Pct(double rate) { return absl::StrFormat("%.1f%%", 100 * rate); }
std::string Dur(const google::protobuf::Duration& d) {
  const int64_t s = d.seconds();
  if (s == 0 && d.nanos() == 0) return "-";
  if (s >= 86400) return absl::StrFormat("%.1fd", s / 86400.0);
  if (s >= 3600) return absl::StrFormat("%.1fh", s / 3600.0);
  if (s >= 60) return absl::StrFormat("%.0fm", s / 60.0);
  return absl::StrFormat("%ds", s);
}

std::string ScoreValue(const mx::Score& s) {
  if (!s.defined()) return "-";
  return s.metric() == mx::METRIC_CES ? absl::StrFormat("%.2f", s.value()) : absl::StrFormat("%.1f", s.value());
}
std::string ScoreMargin(const mx::Score& s) {
  if (!s.defined()) return "-";
  return s.metric() == mx::METRIC_CES ? absl::StrFormat("±%.2f", s.margin_of_error())
                                      : absl::StrFormat("±%.1f", s.margin_of_error());
}

// Prints JSON when --json is set, else runs `table`.
template <class Resp, class Fn>
int Output(const Args& a, const absl::StatusOr<Resp>& resp, Fn table) {
  if (!resp.ok()) return Fail(resp.status());
  if (a.Has("json")) {
    std::cout << Json(*resp) << "\n";
  } else {
    table(*resp);
  }
  return 0;
}

std::string FollowUpLine(const fb::FollowUp& f) {
  return absl::StrCat(f.name(), " ", EnumLabel(fb::FollowUpStatus_descriptor(), "FOLLOW_UP_STATUS_", f.status()));
}

}  // namespace

int Submit(Clients& c, const Args& a) {
  if (auto s = a.OnlyKnown({"customer", "kind", "score", "comment", "source", "channel", "touchpoint", "stage", "tags",
                            "locale", "occurred-at", "request-id", "crm-system", "crm-id"});
      !s.ok()) {
    return Fail(s);
  }
  // The same mapping as a CSV row, so both paths check the same way.
  std::vector<std::string> names = {"request_id", "customer_id", "kind", "score", "comment", "source", "channel",
                                    "touchpoint_id", "journey_stage", "tags", "locale", "occurred_at", "crm_system",
                                    "crm_id"};
  std::vector<std::string> row = {a.Get("request-id", RandomId()), a.Get("customer"), a.Get("kind"), a.Get("score"),
                                  a.Get("comment"), a.Get("source", "survey"), a.Get("channel"), a.Get("touchpoint"),
                                  a.Get("stage"), a.Get("tags"), a.Get("locale"), a.Get("occurred-at"),
                                  a.Get("crm-system"), a.Get("crm-id")};
  auto header = Header::Of(names, FeedbackColumns());
  if (!header.ok()) return Fail(header.status());
  auto req = FeedbackFromRow(*header, row, "");
  if (!req.ok()) return Fail(req.status());
  auto resp = c.Call(c.feedback(), &fb::FeedbackService::Stub::SubmitFeedback, *req);
  return Output(a, resp, [](const fb::SubmitFeedbackResponse& r) {
    const fb::Feedback& f = r.feedback();
    std::cout << "stored " << f.name() << " (request " << f.request_id() << ")\n";
    if (f.has_sentiment()) {
      std::cout << absl::StrFormat("sentiment %+.2f %s\n", f.sentiment().score(),
                                   EnumLabel(fb::SentimentLabel_descriptor(), "SENTIMENT_LABEL_", f.sentiment().label()));
    }
    if (f.topics_size() > 0) std::cout << "topics " << absl::StrJoin(f.topics(), ", ") << "\n";
    if (!f.follow_up().empty()) std::cout << "opened follow-up " << f.follow_up() << "\n";
  });
}

int Import(Clients& c, const Args& a) {
  if (auto s = a.OnlyKnown({"errors", "batch", "restart", "source-system", "parallel"}); !s.ok()) return Fail(s);
  if (a.words.size() != 3) {
    std::cerr << "usage: cxctl import feedback|customers|events FILE.csv [--errors F] [--batch N] [--restart]\n";
    return 2;
  }
  ImportKind kind;
  if (a.words[1] == "feedback") kind = ImportKind::kFeedback;
  else if (a.words[1] == "customers") kind = ImportKind::kCustomers;
  else if (a.words[1] == "events") kind = ImportKind::kEvents;
  else return Fail(InvalidField("kind", "must be feedback, customers or events"));
  ImportOptions options;
  options.file = a.words[2];
  options.errors_file = a.Get("errors");
  auto batch = a.Int("batch", 500);
  if (!batch.ok()) return Fail(batch.status());
  if (*batch < 1 || *batch > 500) return Fail(InvalidField("batch", "must be between 1 and 500"));
  options.batch = static_cast<int>(*batch);
  auto parallel = a.Int("parallel", 8);
  if (!parallel.ok()) return Fail(parallel.status());
  options.parallel = static_cast<int>(std::clamp<int64_t>(*parallel, 1, 64));
  options.restart = a.Has("restart");
  options.source_system = a.Get("source-system", "csv");
  auto summary = RunImport(c, kind, options, std::cerr, isatty(2) != 0);
  if (!summary.ok()) {
    std::cerr << "cxctl: import stopped; run the same command again to resume from the checkpoint\n";
    return Fail(summary.status());
  }
  const double rate = summary->seconds > 0 ? summary->rows / summary->seconds : 0;
  if (a.Has("json")) {
    std::cout << absl::StrFormat(
        "{\"rows\":%d,\"resumed\":%d,\"accepted\":%d,\"duplicates\":%d,\"rejected\":%d,\"seconds\":%.3f,"
        "\"rows_per_second\":%.0f}\n",
        summary->rows, summary->resumed, summary->accepted, summary->duplicates, summary->rejected, summary->seconds, rate);
  } else {
    std::cout << absl::StrFormat("%d rows in %.1f s (%.0f rows/s): %d accepted, %d %s, %d rejected", summary->rows,
                                 summary->seconds, rate, summary->accepted, summary->duplicates,
                                 kind == ImportKind::kCustomers ? "updated" : "duplicate", summary->rejected);
    if (summary->resumed > 0) std::cout << absl::StrFormat("; %d done before", summary->resumed);
    std::cout << "\n";
    if (summary->rejected > 0) {
      std::cout << "rejected rows are listed in "
                << (options.errors_file.empty() ? options.file + ".errors.csv" : options.errors_file) << "\n";
    }
  }
  return summary->rejected > 0 ? 3 : 0;
}

int ScoreCommand(Clients& c, const Args& a) {
  if (auto s = a.OnlyKnown({"metric", "days"}); !s.ok()) return Fail(s);
  auto range = DaysRange(a, 30);
  if (!range.ok()) return Fail(range.status());
  Table t({"metric", "value", "95%", "n", "low", "high", "scale"});
  std::vector<mx::Metric> metrics;
  if (a.Has("metric")) {
    auto m = MetricOf(a);
    if (!m.ok()) return Fail(m.status());
    metrics.push_back(*m);
  } else {
    metrics = {mx::METRIC_NPS, mx::METRIC_CSAT, mx::METRIC_CES};
  }
  for (mx::Metric m : metrics) {
    mx::GetScoreRequest r;
    r.set_metric(m);
    *r.mutable_range() = *range;
    auto resp = c.Call(c.metrics(), &mx::MetricsService::Stub::GetScore, r);
    if (!resp.ok()) return Fail(resp.status());
    if (a.Has("json")) {
      std::cout << Json(*resp) << "\n";
      continue;
    }
    const mx::Score& s = resp->score();
    t.Add({EnumLabel(mx::Metric_descriptor(), "METRIC_", m), ScoreValue(s), ScoreMargin(s), absl::StrCat(s.n()),
           s.defined() ? absl::StrFormat("%.1f", s.interval_low()) : "-",
           s.defined() ? absl::StrFormat("%.1f", s.interval_high()) : "-", s.scale().description()});
  }
  if (!a.Has("json")) t.Print(std::cout);
  return 0;
}

int TrendCommand(Clients& c, const Args& a) {
  if (auto s = a.OnlyKnown({"metric", "days", "interval", "time-zone"}); !s.ok()) return Fail(s);
  auto range = DaysRange(a, 90);
  auto metric = MetricOf(a);
  auto interval = ParseEnum(mx::Interval_descriptor(), "INTERVAL_", a.Get("interval", "week"), "interval");
  if (!range.ok()) return Fail(range.status());
  if (!metric.ok()) return Fail(metric.status());
  if (!interval.ok()) return Fail(interval.status());
  mx::GetTrendRequest r;
  r.set_metric(*metric);
  r.set_interval(static_cast<mx::Interval>(*interval));
  r.set_time_zone(a.Get("time-zone", "UTC"));
  *r.mutable_range() = *range;
  return Output(a, c.Call(c.metrics(), &mx::MetricsService::Stub::GetTrend, r), [](const mx::GetTrendResponse& resp) {
    Table t({"from", "value", "95%", "n"});
    for (const auto& p : resp.points()) {
      t.Add({FormatTime(p.start_time()), ScoreValue(p.score()), ScoreMargin(p.score()), absl::StrCat(p.score().n())});
    }
    t.Print(std::cout);
  });
}

int BreakdownCommand(Clients& c, const Args& a) {
  if (auto s = a.OnlyKnown({"metric", "days", "by"}); !s.ok()) return Fail(s);
  auto range = DaysRange(a, 30);
  auto metric = MetricOf(a);
  auto dimension = ParseEnum(mx::Dimension_descriptor(), "DIMENSION_", a.Get("by", "channel"), "by");
  if (!range.ok()) return Fail(range.status());
  if (!metric.ok()) return Fail(metric.status());
  if (!dimension.ok()) return Fail(dimension.status());
  mx::GetBreakdownRequest r;
  r.set_metric(*metric);
  r.set_dimension(static_cast<mx::Dimension>(*dimension));
  *r.mutable_range() = *range;
  const std::string by = a.Get("by", "channel");
  return Output(a, c.Call(c.metrics(), &mx::MetricsService::Stub::GetBreakdown, r),
                [&](const mx::GetBreakdownResponse& resp) {
                  Table t({by, "value", "95%", "n"});
                  for (const auto& row : resp.rows()) {
                    t.Add({row.value().empty() ? "(none)" : row.value(), ScoreValue(row.score()),
                           ScoreMargin(row.score()), absl::StrCat(row.score().n())});
                  }
                  t.Add({"all", ScoreValue(resp.total()), ScoreMargin(resp.total()), absl::StrCat(resp.total().n())});
                  t.Print(std::cout);
                });
}

int FunnelCommand(Clients& c, const Args& a) {
  if (auto s = a.OnlyKnown({"steps", "window", "days", "order"}); !s.ok()) return Fail(s);
  if (!a.Has("steps")) return Fail(InvalidField("steps", "is required: event types or stages, comma-separated"));
  auto range = DaysRange(a, 30);
  auto window = ParseDuration(a.Get("window", "7d"), "window");
  auto order = ParseEnum(mx::FunnelOrder_descriptor(), "FUNNEL_ORDER_", a.Get("order", "strict"), "order");
  if (!range.ok()) return Fail(range.status());
  if (!window.ok()) return Fail(window.status());
  if (!order.ok()) return Fail(order.status());
  mx::GetFunnelRequest r;
  for (absl::string_view step : absl::StrSplit(a.Get("steps"), ',', absl::SkipWhitespace())) {
    auto stage = ParseEnum(common::v1::JourneyStage_descriptor(), "JOURNEY_STAGE_", std::string(step), "steps");
    if (absl::StartsWith(step, "stage:") || (stage.ok() && step.find('_') == absl::string_view::npos)) {
      std::string name(step);
      if (absl::StartsWith(step, "stage:")) name = name.substr(6);
      auto s = ParseEnum(common::v1::JourneyStage_descriptor(), "JOURNEY_STAGE_", name, "steps");
      if (!s.ok()) return Fail(s.status());
      r.add_steps()->set_stage(static_cast<common::v1::JourneyStage>(*s));
    } else {
      r.add_steps()->set_event_type(std::string(step));
    }
  }
  *r.mutable_conversion_window() = TimeUtil::MicrosecondsToDuration(absl::ToInt64Microseconds(*window));
  *r.mutable_range() = *range;
  r.set_order(static_cast<mx::FunnelOrder>(*order));
  return Output(a, c.Call(c.metrics(), &mx::MetricsService::Stub::GetFunnel, r), [](const mx::GetFunnelResponse& resp) {
    Table t({"step", "customers", "from first", "from previous", "drop-off", "median time", "mean time"});
    for (const auto& s : resp.steps()) {
      t.Add({s.label(), absl::StrCat(s.customers()), Pct(s.conversion_from_first()), Pct(s.conversion_from_previous()),
             absl::StrCat(s.drop_off()), Dur(s.median_time_from_previous()), Dur(s.mean_time_from_previous())});
    }
    t.Print(std::cout);
    std::cout << "overall conversion " << Pct(resp.overall_conversion()) << "\n";
  });
}

int RetentionCommand(Clients& c, const Args& a) {
  if (auto s = a.OnlyKnown({"cohort", "return", "interval", "periods", "days", "mode", "time-zone"}); !s.ok()) {
    return Fail(s);
  }
  auto range = DaysRange(a, 90);
  auto interval = ParseEnum(mx::Interval_descriptor(), "INTERVAL_", a.Get("interval", "week"), "interval");
  auto mode = ParseEnum(mx::RetentionMode_descriptor(), "RETENTION_MODE_", a.Get("mode", "on"), "mode");
  auto periods = a.Int("periods", 8);
  if (!range.ok()) return Fail(range.status());
  if (!interval.ok()) return Fail(interval.status());
  if (!mode.ok()) return Fail(mode.status());
  if (!periods.ok()) return Fail(periods.status());
  mx::GetRetentionRequest r;
  r.set_cohort_event_type(a.Get("cohort", "page_view"));
  r.set_return_event_type(a.Get("return", a.Get("cohort", "page_view")));
  r.set_interval(static_cast<mx::Interval>(*interval));
  r.set_periods(static_cast<int32_t>(*periods));
  r.set_mode(static_cast<mx::RetentionMode>(*mode));
  r.set_time_zone(a.Get("time-zone", "UTC"));
  *r.mutable_range() = *range;
  return Output(a, c.Call(c.metrics(), &mx::MetricsService::Stub::GetRetention, r),
                [](const mx::GetRetentionResponse& resp) {
                  std::vector<std::string> header = {"cohort", "size"};
                  size_t periods = resp.average_size();
                  for (size_t p = 0; p < periods; ++p) header.push_back(absl::StrCat("+", p));
                  Table t(header);
                  for (const auto& cohort : resp.cohorts()) {
                    std::vector<std::string> row = {FormatTime(cohort.start_time()).substr(0, 10),
                                                    absl::StrCat(cohort.size())};
                    for (const auto& cell : cohort.cells()) row.push_back(cell.complete() ? Pct(cell.rate()) : "");
                    t.Add(row);
                  }
                  std::vector<std::string> avg = {"average", ""};
                  for (const auto& cell : resp.average()) avg.push_back(Pct(cell.rate()));
                  t.Add(avg);
                  t.Print(std::cout);
                });
}

int HealthCommand(Clients& c, const Args& a) {
  if (auto s = a.OnlyKnown({"changed-since", "limit"}); !s.ok()) return Fail(s);
  auto print = [](const std::vector<const mx::CustomerHealth*>& list) {
    Table t({"customer", "risk", "level", "stage", "NPS", "CSAT", "open cases", "open tickets", "last activity", "why"});
    for (const auto* h : list) {
      std::string why;
      for (const auto& f : h->churn_risk().factors()) absl::StrAppend(&why, why.empty() ? "" : "; ", f.code());
      t.Add({h->customer_id(), absl::StrCat(h->churn_risk().score()),
             EnumLabel(mx::RiskLevel_descriptor(), "RISK_LEVEL_", h->churn_risk().level()),
             EnumLabel(common::v1::JourneyStage_descriptor(), "JOURNEY_STAGE_", h->current_stage()),
             h->has_nps() ? absl::StrCat(h->latest_nps_score()) : "-",
             h->csat_count() ? absl::StrFormat("%.2f", h->csat_average()) : "-", absl::StrCat(h->open_follow_ups()),
             absl::StrCat(h->open_tickets()), FormatTime(h->last_activity_time()), why});
    }
    t.Print(std::cout);
  };
  if (a.words.size() >= 2) {
    mx::GetCustomerHealthRequest r;
    r.set_customer_id(a.words[1]);
    return Output(a, c.Call(c.metrics(), &mx::MetricsService::Stub::GetCustomerHealth, r),
                  [&](const mx::GetCustomerHealthResponse& resp) { print({&resp.health()}); });
  }
  auto since = a.Int("changed-since", 0);
  auto limit = a.Int("limit", 50);
  if (!since.ok()) return Fail(since.status());
  if (!limit.ok()) return Fail(limit.status());
  mx::ListCustomerHealthRequest r;
  r.set_changed_since(*since);
  r.set_page_size(static_cast<int32_t>(std::clamp<int64_t>(*limit, 1, 1000)));
  return Output(a, c.Call(c.metrics(), &mx::MetricsService::Stub::ListCustomerHealth, r),
                [&](const mx::ListCustomerHealthResponse& resp) {
                  std::vector<const mx::CustomerHealth*> list;
                  for (const auto& h : resp.customers()) list.push_back(&h);
                  print(list);
                  std::cout << "next: --changed-since=" << resp.version() << "\n";
                });
}

int FollowUpsCommand(Clients& c, const Args& a) {
  const std::string verb = a.words.size() >= 2 ? a.words[1] : "list";
  auto print = [](const std::vector<const fb::FollowUp*>& list) {
    Table t({"case", "status", "priority", "customer", "score", "assignee", "opened", "reasons", "comment"});
    for (const auto* f : list) {
      t.Add({f->name(), EnumLabel(fb::FollowUpStatus_descriptor(), "FOLLOW_UP_STATUS_", f->status()),
             EnumLabel(fb::FollowUpPriority_descriptor(), "FOLLOW_UP_PRIORITY_", f->priority()), f->customer_id(),
             f->has_score() ? absl::StrCat(EnumLabel(fb::FeedbackKind_descriptor(), "FEEDBACK_KIND_", f->kind()), " ",
                                           f->score())
                            : "-",
             f->assignee().empty() ? "-" : f->assignee(), FormatTime(f->create_time()), absl::StrJoin(f->reasons(), ","),
             f->comment().substr(0, 60)});
    }
    t.Print(std::cout);
  };
  if (verb == "list") {
    if (auto s = a.OnlyKnown({"status", "customer", "assignee", "limit"}); !s.ok()) return Fail(s);
    fb::ListFollowUpsRequest r;
    if (a.Has("status")) {
      auto st = ParseEnum(fb::FollowUpStatus_descriptor(), "FOLLOW_UP_STATUS_", a.Get("status"), "status");
      if (!st.ok()) return Fail(st.status());
      r.set_status(static_cast<fb::FollowUpStatus>(*st));
    }
    r.set_customer_id(a.Get("customer"));
    r.set_assignee(a.Get("assignee"));
    auto limit = a.Int("limit", 50);
    if (!limit.ok()) return Fail(limit.status());
    r.set_page_size(static_cast<int32_t>(std::clamp<int64_t>(*limit, 1, 1000)));
    return Output(a, c.Call(c.feedback(), &fb::FeedbackService::Stub::ListFollowUps, r),
                  [&](const fb::ListFollowUpsResponse& resp) {
                    std::vector<const fb::FollowUp*> list;
                    for (const auto& f : resp.follow_ups()) list.push_back(&f);
                    print(list);
                  });
  }
  if (verb == "show" && a.words.size() == 3) {
    fb::GetFollowUpRequest r;
    r.set_name(a.words[2]);
    return Output(a, c.Call(c.feedback(), &fb::FeedbackService::Stub::GetFollowUp, r),
                  [&](const fb::GetFollowUpResponse& resp) {
                    print({&resp.follow_up()});
                    for (const auto& n : resp.follow_up().notes()) {
                      std::cout << "  " << FormatTime(n.create_time()) << " " << n.author() << ": " << n.text() << "\n";
                    }
                  });
  }
  if (verb == "update" && a.words.size() == 3) {
    if (auto s = a.OnlyKnown({"status", "outcome", "assignee", "unassign", "note", "version"}); !s.ok()) return Fail(s);
    fb::UpdateFollowUpRequest r;
    r.set_name(a.words[2]);
    if (a.Has("status")) {
      auto st = ParseEnum(fb::FollowUpStatus_descriptor(), "FOLLOW_UP_STATUS_", a.Get("status"), "status");
      if (!st.ok()) return Fail(st.status());
      r.set_status(static_cast<fb::FollowUpStatus>(*st));
    }
    if (a.Has("outcome")) {
      auto o = ParseEnum(fb::FollowUpOutcome_descriptor(), "FOLLOW_UP_OUTCOME_", a.Get("outcome"), "outcome");
      if (!o.ok()) return Fail(o.status());
      r.set_outcome(static_cast<fb::FollowUpOutcome>(*o));
    }
    r.set_assignee(a.Get("assignee"));
    r.set_clear_assignee(a.Has("unassign"));
    r.set_note(a.Get("note"));
    auto version = a.Int("version", 0);
    if (!version.ok()) return Fail(version.status());
    r.set_version(*version);
    return Output(a, c.Call(c.feedback(), &fb::FeedbackService::Stub::UpdateFollowUp, r),
                  [&](const fb::UpdateFollowUpResponse& resp) {
                    std::cout << FollowUpLine(resp.follow_up()) << ", version " << resp.follow_up().version() << "\n";
                  });
  }
  if (verb == "stats") {
    if (auto s = a.OnlyKnown({"days"}); !s.ok()) return Fail(s);
    auto range = DaysRange(a, 30);
    if (!range.ok()) return Fail(range.status());
    fb::GetFollowUpStatsRequest r;
    *r.mutable_range() = *range;
    return Output(a, c.Call(c.feedback(), &fb::FeedbackService::Stub::GetFollowUpStats, r),
                  [](const fb::GetFollowUpStatsResponse& resp) {
                    Table t({"open", "in progress", "resolved", "median time to close", "p90", "mean"});
                    t.Add({absl::StrCat(resp.open_count()), absl::StrCat(resp.in_progress_count()),
                           absl::StrCat(resp.resolved_count()), Dur(resp.time_to_close_median()),
                           Dur(resp.time_to_close_p90()), Dur(resp.time_to_close_mean())});
                    t.Print(std::cout);
                  });
  }
  std::cerr << "usage: cxctl followups [list [--status S]] | show NAME | update NAME [--status S] [--outcome O] "
               "[--assignee A] [--note N] [--version V] | stats [--days N]\n";
  return 2;
}

int TailCommand(Clients& c, const Args& a) {
  if (auto s = a.OnlyKnown({"after", "max", "timeout"}); !s.ok()) return Fail(s);
  if (a.words.size() != 2 || (a.words[1] != "feedback" && a.words[1] != "journey")) {
    std::cerr << "usage: cxctl tail feedback|journey [--after SEQ] [--max N] [--timeout 30s] [--json]\n";
    return 2;
  }
  auto after = a.Int("after", 0);
  auto max = a.Int("max", 0);
  auto timeout = ParseDuration(a.Get("timeout", "3650d"), "timeout");
  if (!after.ok()) return Fail(after.status());
  if (!max.ok()) return Fail(max.status());
  if (!timeout.ok()) return Fail(timeout.status());
  auto ctx = c.Context(*timeout);
  int64_t seen = 0;
  auto done = [&] { return *max > 0 && seen >= *max; };
  // Streams changes after `after`, printing each with `line`, until --max.
  auto follow = [&](auto reader, auto batch, auto line) {
    while (!done() && reader->Read(&batch)) {
      for (const auto& ch : batch.changes()) {
        if (done()) break;
        ++seen;
        std::cout << (a.Has("json") ? Json(ch) : absl::StrCat(ch.sequence(), " ", line(ch))) << "\n";
      }
      std::cout.flush();
    }
    ctx->TryCancel();
    return reader->Finish();
  };
  grpc::Status status;
  if (a.words[1] == "feedback") {
    fb::WatchChangesRequest r;
    r.set_after_sequence(*after);
    status = follow(c.feedback().WatchChanges(ctx.get(), r), fb::WatchChangesResponse(), [](const fb::FeedbackChange& ch) {
      if (!ch.has_feedback_created()) return FollowUpLine(ch.follow_up_changed());
      const auto& f = ch.feedback_created();
      return absl::StrCat(f.name(), " ", f.customer_id(), " ",
                          EnumLabel(fb::FeedbackKind_descriptor(), "FEEDBACK_KIND_", f.kind()),
                          f.has_score() ? absl::StrCat(" ", f.score()) : "");
    });
  } else {
    jr::WatchChangesRequest r;
    r.set_after_sequence(*after);
    status = follow(c.journey().WatchChanges(ctx.get(), r), jr::WatchChangesResponse(), [](const jr::JourneyChange& ch) {
      if (!ch.has_event_recorded()) return std::string(ch.GetDescriptor()->FindFieldByNumber(ch.change_case())->name());
      const auto& e = ch.event_recorded();
      return absl::StrCat("event ", e.type(), " ", e.customer_id().empty() ? "anon:" + e.anonymous_id() : e.customer_id());
    });
  }
  if (done() || status.error_code() == grpc::StatusCode::CANCELLED ||
      status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return 0;
  }
  return status.ok() ? 0 : Fail(Clients::FromGrpc(status));
}

int EraseCommand(Clients& c, const Args& a) {
  if (auto s = a.OnlyKnown({}); !s.ok()) return Fail(s);
  if (a.words.size() != 2) {
    std::cerr << "usage: cxctl erase CUSTOMER_ID\n";
    return 2;
  }
  // Journey first: it knows the customers merged into this one, whose
  // feedback goes too. Each call is idempotent, so a failed run is simply
  // run again.
  jr::EraseCustomerRequest jreq;
  jreq.set_customer_id(a.words[1]);
  auto journey = c.Call(c.journey(), &jr::JourneyService::Stub::EraseCustomer, jreq);
  if (!journey.ok()) return Fail(journey.status());
  std::vector<std::string> ids{a.words[1]};
  ids.insert(ids.end(), journey->merged_customer_ids().begin(), journey->merged_customer_ids().end());
  std::vector<fb::EraseCustomerResponse> feedback;
  for (const std::string& id : ids) {
    fb::EraseCustomerRequest freq;
    freq.set_customer_id(id);
    auto r = c.Call(c.feedback(), &fb::FeedbackService::Stub::EraseCustomer, freq);
    if (!r.ok()) return Fail(r.status());
    feedback.push_back(*std::move(r));
  }
  if (a.Has("json")) {
    std::cout << Json(*journey) << "\n";
    for (const auto& r : feedback) std::cout << Json(r) << "\n";
    return 0;
  }
  auto line = [](const std::string& service, const common::v1::Erasure& e) {
    std::cout << absl::StrFormat("%-16s %s %d records erased  digest %s\n", service,
                                 e.already_erased() ? "erased before," : "erased now,", e.records_erased(),
                                 e.customer_digest().substr(0, 16));
  };
  line("journey-service", journey->erasure());
  for (const auto& r : feedback) line("feedback-service", r.erasure());
  if (!journey->merged_customer_ids().empty()) {
    std::cout << "merged customers erased with it: " << absl::StrJoin(journey->merged_customer_ids(), ", ") << "\n";
  }
  std::cout << "metrics-service retracts the customer from every rollup as it reads the tombstones\n";
  return 0;
}

int ExportCommand(Clients& c, const Args& a) {
  if (auto s = a.OnlyKnown({}); !s.ok()) return Fail(s);
  if (a.words.size() != 2) {
    std::cerr << "usage: cxctl export CUSTOMER_ID\n";
    return 2;
  }
  const std::string& id = a.words[1];
  // Every page of each service, gathered into one response per service.
  jr::ExportCustomerDataResponse journey;
  for (std::string token;;) {
    jr::ExportCustomerDataRequest req;
    req.set_customer_id(id);
    req.set_page_size(1000);
    req.set_page_token(token);
    auto page = c.Call(c.journey(), &jr::JourneyService::Stub::ExportCustomerData, req);
    if (!page.ok() && page.status().code() == absl::StatusCode::kNotFound) break;
    if (!page.ok()) return Fail(page.status());
    if (token.empty()) {
      *journey.mutable_customers() = page->customers();
      *journey.mutable_anonymous_ids() = page->anonymous_ids();
    }
    for (auto& e : *page->mutable_events()) *journey.add_events() = std::move(e);
    token = page->next_page_token();
    if (token.empty()) break;
  }
  fb::ExportCustomerDataResponse feedback;
  for (std::string token;;) {
    fb::ExportCustomerDataRequest req;
    req.set_customer_id(id);
    req.set_page_size(1000);
    req.set_page_token(token);
    auto page = c.Call(c.feedback(), &fb::FeedbackService::Stub::ExportCustomerData, req);
    if (!page.ok()) return Fail(page.status());
    if (token.empty()) *feedback.mutable_follow_ups() = page->follow_ups();
    for (auto& f : *page->mutable_feedback()) *feedback.add_feedback() = std::move(f);
    token = page->next_page_token();
    if (token.empty()) break;
  }
  mx::GetCustomerHealthRequest hreq;
  hreq.set_customer_id(id);
  auto health = c.Call(c.metrics(), &mx::MetricsService::Stub::GetCustomerHealth, hreq);
  if (!health.ok() && health.status().code() != absl::StatusCode::kNotFound) return Fail(health.status());
  const std::string quoted = absl::StrReplaceAll(id, {{"\\", "\\\\"}, {"\"", "\\\""}});
  std::cout << "{\"customer_id\":\"" << quoted << "\",\"journey\":" << Json(journey)
            << ",\"feedback\":" << Json(feedback) << ",\"health\":" << (health.ok() ? Json(health->health()) : "null")
            << "}\n";
  return 0;
}

}  // namespace cx::cxctl
