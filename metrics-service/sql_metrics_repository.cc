#include "metrics-service/sql_metrics_repository.h"

#include <map>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "shared/proto_util.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace cx::metrics {
namespace {

using shared::db::Backend;
using shared::db::ConnectionPool;
using shared::db::ForEachChunk;
using shared::db::Placeholders;
using shared::db::QueryIn;
using shared::db::SqlConnection;
using shared::db::SqlParams;
using shared::db::SqlRow;

constexpr size_t kMaxRowsPerStatement = 256;

constexpr char kFactColumns[] =
    "tenant, feedback_id, customer_id, metric, score, hour, channel, source, touchpoint, stage, segment, tags, "
    "occurred_us";

constexpr char kEventColumns[] =
    "tenant, event_id, subject, sequence, time_us, type, channel, touchpoint, stage, currency, amount_minor, "
    "ticket_id";

JourneyEventRow EventOf(const SqlRow& r) {
  JourneyEventRow e;
  e.tenant = r.Text(0);
  e.event_id = r.Text(1);
  e.subject = r.Text(2);
  e.sequence = r.Int(3);
  e.time_us = r.Int(4);
  e.type = r.Text(5);
  e.channel = static_cast<int>(r.Int(6));
  e.touchpoint = r.Text(7);
  e.stage = static_cast<int>(r.Int(8));
  e.currency = r.Text(9);
  e.amount_minor = r.Int(10);
  e.ticket_id = r.Text(11);
  return e;
}

Fact FactOf(const SqlRow& r) {
  Fact f;
  f.tenant = r.Text(0);
  f.feedback_id = r.Text(1);
  f.customer_id = r.Text(2);
  f.metric = static_cast<Metric>(r.Int(3));
  f.score = static_cast<int>(r.Int(4));
  f.hour = r.Int(5);
  for (int d = 0; d < kTag; ++d) f.key[d] = r.Text(6 + d);
  if (!r.Text(11).empty()) f.tags = absl::StrSplit(r.Text(11), ',');
  f.time_us = r.Int(12) != 0 ? r.Int(12) : f.hour * 3600 * 1000000;
  return f;
}

class SqlRollupTx final : public RollupTx {
 public:
  explicit SqlRollupTx(SqlConnection& c) : c_(c) {}

  absl::StatusOr<std::map<std::string, CustomerNode>> Customers(const std::string& tenant,
                                                               const std::vector<std::string>& ids) override {
    std::map<std::string, CustomerNode> out;
    auto s = QueryIn(c_,
                     "SELECT customer_id, segment, parent, health_version FROM metrics_customers WHERE tenant = ? AND "
                     "customer_id IN ",
                     {tenant}, ids, "", [&](const SqlRow& r) {
                       out[r.Text(0)] = CustomerNode{r.Text(0), r.Text(1), r.Text(2), r.Int(3)};
                       return absl::OkStatus();
                     });
    if (!s.ok()) return s;
    return out;
  }

  absl::Status PutCustomer(const std::string& tenant, const CustomerNode& node) override {
    const std::string sql =
        c_.backend() == Backend::kMysql
            ? "INSERT INTO metrics_customers (tenant, customer_id, segment, parent) VALUES (?,?,?,?) "
              "ON DUPLICATE KEY UPDATE segment = VALUES(segment), parent = VALUES(parent)"
            : "INSERT INTO metrics_customers (tenant, customer_id, segment, parent) VALUES (?,?,?,?) "
              "ON CONFLICT (tenant, customer_id) DO UPDATE SET segment = excluded.segment, parent = excluded.parent";
    return c_.Execute(sql, {tenant, node.customer_id, node.segment, node.parent}).status();
  }

  absl::StatusOr<std::vector<std::string>> ChildrenOf(const std::string& tenant,
                                                      const std::vector<std::string>& ids) override {
    std::vector<std::string> out;
    auto s = QueryIn(c_, "SELECT customer_id FROM metrics_customers WHERE tenant = ? AND parent IN ", {tenant}, ids, "",
                     [&](const SqlRow& r) {
                       out.push_back(r.Text(0));
                       return absl::OkStatus();
                     });
    if (!s.ok()) return s;
    return out;
  }

  absl::StatusOr<std::vector<Fact>> FactsOf(const std::string& tenant,
                                            const std::vector<std::string>& customer_ids) override {
    std::vector<Fact> out;
    auto s = QueryIn(c_, absl::StrCat("SELECT ", kFactColumns, " FROM metrics_facts WHERE tenant = ? AND customer_id IN "),
                     {tenant}, customer_ids, "", [&](const SqlRow& r) {
                       out.push_back(FactOf(r));
                       return absl::OkStatus();
                     });
    if (!s.ok()) return s;
    return out;
  }

  absl::StatusOr<std::vector<Fact>> FactsById(const std::string& tenant,
                                              const std::vector<std::string>& feedback_ids) override {
    std::vector<Fact> out;
    auto s = QueryIn(c_, absl::StrCat("SELECT ", kFactColumns, " FROM metrics_facts WHERE tenant = ? AND feedback_id IN "),
                     {tenant}, feedback_ids, "", [&](const SqlRow& r) {
                       out.push_back(FactOf(r));
                       return absl::OkStatus();
                     });
    if (!s.ok()) return s;
    return out;
  }

  absl::Status DeleteFacts(const std::string& tenant, const std::vector<std::string>& feedback_ids) override {
    return DeleteIn("DELETE FROM metrics_facts WHERE tenant = ? AND feedback_id IN ", tenant, feedback_ids);
  }

  absl::Status DeleteFollowUps(const std::string& tenant, const std::vector<std::string>& follow_ups) override {
    return DeleteIn("DELETE FROM metrics_follow_ups WHERE tenant = ? AND follow_up IN ", tenant, follow_ups);
  }

  absl::Status DeleteIdentities(const std::string& tenant, const std::vector<std::string>& keys) override {
    if (auto s = DeleteIn("DELETE FROM metrics_customers WHERE tenant = ? AND customer_id IN ", tenant, keys); !s.ok()) {
      return s;
    }
    return DeleteIn("DELETE FROM metrics_events WHERE tenant = ? AND subject IN ", tenant, keys);
  }

  absl::Status InsertFacts(const std::vector<Fact>& facts) override {
    return ForEachChunk(facts.size(), kMaxRowsPerStatement, [&](size_t offset, size_t count) {
      SqlParams p;
      p.reserve(count * 13);
      for (size_t i = offset; i < offset + count; ++i) {
        const Fact& f = facts[i];
        p.insert(p.end(), {f.tenant, f.feedback_id, f.customer_id, static_cast<int64_t>(f.metric),
                           static_cast<int64_t>(f.score), f.hour});
        for (int d = 0; d < kTag; ++d) p.emplace_back(f.key[d]);
        p.emplace_back(absl::StrJoin(f.tags, ","));
        p.emplace_back(f.time_us);
      }
      return c_.Execute(absl::StrCat("INSERT INTO metrics_facts (", kFactColumns, ") VALUES ", Placeholders(count, 13)), p)
          .status();
    });
  }

  absl::Status SetFactSegments(const std::string& tenant,
                               const std::vector<std::pair<std::string, std::string>>& segments) override {
    for (const auto& [feedback_id, segment] : segments) {
      auto r = c_.Execute("UPDATE metrics_facts SET segment = ? WHERE tenant = ? AND feedback_id = ?",
                          {segment, tenant, feedback_id});
      if (!r.ok()) return r.status();
    }
    return absl::OkStatus();
  }

  absl::Status AddCells(const std::vector<CellDelta>& deltas) override {
    // One row per distinct cell, then multi-row upserts.
    std::map<std::tuple<std::string, int, int64_t, CellKey>, Counts> merged;
    for (const CellDelta& d : deltas) merged[{d.tenant, static_cast<int>(d.metric), d.hour, d.key}] += d.delta;
    std::vector<std::pair<const std::tuple<std::string, int, int64_t, CellKey>, Counts>*> rows;
    for (auto& entry : merged) rows.push_back(&entry);
    const bool mysql = c_.backend() == Backend::kMysql;
    const std::string head =
        "INSERT INTO metrics_cells (tenant, metric, hour, channel, source, touchpoint, stage, segment, tag, "
        "cnt_n, cnt_top, cnt_bottom, cnt_sum, cnt_sum_sq) VALUES ";
    const std::string tail =
        mysql ? " ON DUPLICATE KEY UPDATE cnt_n = cnt_n + VALUES(cnt_n), cnt_top = cnt_top + VALUES(cnt_top), "
                "cnt_bottom = cnt_bottom + VALUES(cnt_bottom), cnt_sum = cnt_sum + VALUES(cnt_sum), "
                "cnt_sum_sq = cnt_sum_sq + VALUES(cnt_sum_sq)"
              : " ON CONFLICT (tenant, metric, hour, channel, source, touchpoint, stage, segment, tag) DO UPDATE SET "
                "cnt_n = cnt_n + excluded.cnt_n, cnt_top = cnt_top + excluded.cnt_top, "
                "cnt_bottom = cnt_bottom + excluded.cnt_bottom, cnt_sum = cnt_sum + excluded.cnt_sum, "
                "cnt_sum_sq = cnt_sum_sq + excluded.cnt_sum_sq";
    return ForEachChunk(rows.size(), kMaxRowsPerStatement, [&](size_t offset, size_t count) {
      SqlParams p;
      p.reserve(count * 14);
      for (size_t i = offset; i < offset + count; ++i) {
        const auto& [key, c] = *rows[i];
        p.insert(p.end(), {std::get<0>(key), static_cast<int64_t>(std::get<1>(key)), std::get<2>(key)});
        for (const std::string& v : std::get<3>(key)) p.emplace_back(v);
        p.insert(p.end(), {c.n, c.top, c.bottom, c.sum, c.sum_sq});
      }
      return c_.Execute(absl::StrCat(head, Placeholders(count, 14), tail), p).status();
    });
  }

  absl::StatusOr<std::set<std::string>> ExistingEvents(const std::string& tenant,
                                                       const std::vector<std::string>& event_ids) override {
    std::set<std::string> out;
    auto s = QueryIn(c_, "SELECT event_id FROM metrics_events WHERE tenant = ? AND event_id IN ", {tenant}, event_ids,
                     "", [&](const SqlRow& r) {
                       out.insert(r.Text(0));
                       return absl::OkStatus();
                     });
    if (!s.ok()) return s;
    return out;
  }

  absl::StatusOr<std::map<std::string, FollowUpRow>> FollowUpsOf(const std::string& tenant,
                                                                 const std::vector<std::string>& follow_ups) override {
    std::map<std::string, FollowUpRow> out;
    auto s = QueryIn(c_, "SELECT follow_up, customer_id, open FROM metrics_follow_ups WHERE tenant = ? AND follow_up IN ",
                     {tenant}, follow_ups, "", [&](const SqlRow& r) {
                       out[r.Text(0)] = FollowUpRow{tenant, r.Text(0), r.Text(1), r.Int(2) != 0};
                       return absl::OkStatus();
                     });
    if (!s.ok()) return s;
    return out;
  }

  absl::Status PutFollowUps(const std::vector<FollowUpRow>& rows) override {
    const std::string sql =
        c_.backend() == Backend::kMysql
            ? "INSERT INTO metrics_follow_ups (tenant, follow_up, customer_id, open) VALUES (?,?,?,?) "
              "ON DUPLICATE KEY UPDATE customer_id = VALUES(customer_id), open = VALUES(open)"
            : "INSERT INTO metrics_follow_ups (tenant, follow_up, customer_id, open) VALUES (?,?,?,?) "
              "ON CONFLICT (tenant, follow_up) DO UPDATE SET customer_id = excluded.customer_id, open = excluded.open";
    for (const FollowUpRow& r : rows) {
      auto done = c_.Execute(sql, {r.tenant, r.follow_up, r.customer_id, int64_t{r.open ? 1 : 0}});
      if (!done.ok()) return done.status();
    }
    return absl::OkStatus();
  }

  absl::Status InsertEvents(const std::vector<JourneyEventRow>& events) override {
    return ForEachChunk(events.size(), kMaxRowsPerStatement, [&](size_t offset, size_t count) {
      SqlParams p;
      p.reserve(count * 12);
      for (size_t i = offset; i < offset + count; ++i) {
        const JourneyEventRow& e = events[i];
        p.insert(p.end(), {e.tenant, e.event_id, e.subject, e.sequence, e.time_us, e.type,
                           static_cast<int64_t>(e.channel), e.touchpoint, static_cast<int64_t>(e.stage), e.currency,
                           e.amount_minor, e.ticket_id});
      }
      return c_.Execute(absl::StrCat("INSERT INTO metrics_events (", kEventColumns, ") VALUES ",
                                     Placeholders(count, 12)),
                        p)
          .status();
    });
  }

  absl::StatusOr<int64_t> ReserveHealthVersions(int64_t count) override {
    auto rows = c_.Query("SELECT after_sequence FROM metrics_cursors WHERE feed = 'health'");
    if (!rows.ok()) return rows.status();
    const int64_t first = (rows->empty() ? 0 : rows->front().Int(0)) + 1;
    const int64_t last = first + count - 1;
    auto w = rows->empty()
                 ? c_.Execute("INSERT INTO metrics_cursors (feed, after_sequence) VALUES ('health', ?)", {last})
                 : c_.Execute("UPDATE metrics_cursors SET after_sequence = ? WHERE feed = 'health'", {last});
    if (!w.ok()) return w.status();
    return first;
  }

  absl::Status SetHealthVersions(const std::string& tenant,
                                 const std::vector<std::pair<std::string, int64_t>>& versions) override {
    const std::string tail = c_.backend() == Backend::kMysql
                                 ? " ON DUPLICATE KEY UPDATE health_version = VALUES(health_version)"
                                 : " ON CONFLICT (tenant, customer_id) DO UPDATE SET health_version = "
                                   "excluded.health_version";
    return ForEachChunk(versions.size(), kMaxRowsPerStatement, [&](size_t offset, size_t count) {
      SqlParams p;
      for (size_t i = offset; i < offset + count; ++i) {
        p.insert(p.end(), {tenant, versions[i].first, "", "", versions[i].second});
      }
      return c_.Execute(absl::StrCat("INSERT INTO metrics_customers (tenant, customer_id, segment, parent, "
                                     "health_version) VALUES ",
                                     Placeholders(count, 5), tail),
                        p)
          .status();
    });
  }

 private:
  absl::Status DeleteIn(const std::string& before, const std::string& tenant, const std::vector<std::string>& values) {
    return ForEachChunk(values.size(), 256, [&](size_t offset, size_t count) {
      SqlParams p{tenant};
      for (size_t i = offset; i < offset + count; ++i) p.emplace_back(values[i]);
      return c_.Execute(absl::StrCat(before, "(", absl::StrJoin(std::vector<std::string>(count, "?"), ","), ")"), p)
          .status();
    });
  }

  SqlConnection& c_;
};

class SqlMetricsRepository final : public MetricsRepository {
 public:
  explicit SqlMetricsRepository(std::shared_ptr<ConnectionPool> pool) : pool_(std::move(pool)) {}

  absl::Status Ping() override { return pool_->Ping(); }

  absl::StatusOr<int64_t> Cursor(const std::string& feed) override {
    auto c = pool_->Acquire();
    if (!c.ok()) return c.status();
    auto rows = (*c)->Query("SELECT after_sequence FROM metrics_cursors WHERE feed = ?", {feed});
    if (!rows.ok()) return rows.status();
    return rows->empty() ? 0 : rows->front().Int(0);
  }

  absl::Status Apply(const std::string& feed, int64_t expected, int64_t next,
                     const std::function<absl::Status(RollupTx&)>& fn) override {
    auto c = pool_->Acquire();
    if (!c.ok()) return c.status();
    SqlConnection& conn = **c;
    return shared::db::InWriteTransaction(conn, [&]() -> absl::Status {
      auto rows = conn.Query(conn.backend() == Backend::kMysql
                                 ? "SELECT after_sequence FROM metrics_cursors WHERE feed = ? FOR UPDATE"
                                 : "SELECT after_sequence FROM metrics_cursors WHERE feed = ?",
                             {feed});
      if (!rows.ok()) return rows.status();
      const int64_t stored = rows->empty() ? 0 : rows->front().Int(0);
      if (stored != expected) return absl::AbortedError(absl::StrCat("the ", feed, " cursor moved"));
      SqlRollupTx tx(conn);
      if (auto s = fn(tx); !s.ok()) return s;
      auto w = rows->empty()
                   ? conn.Execute("INSERT INTO metrics_cursors (feed, after_sequence) VALUES (?, ?)", {feed, next})
                   : conn.Execute("UPDATE metrics_cursors SET after_sequence = ? WHERE feed = ?", {next, feed});
      return w.status();
    });
  }

  absl::Status ScrubDeleted() override {
    auto c = pool_->Acquire();
    if (!c.ok()) return c.status();
    return shared::db::ScrubDeleted(**c);
  }

  absl::Status ForEachCell(const std::function<void(CellDelta&&)>& fn) override {
    auto c = pool_->Acquire();
    if (!c.ok()) return c.status();
    // Page by (tenant, metric) and a day of hours at a time, along the
    // primary key, so memory stays bounded however many cells there are
    // (a page is held in memory whole: a day of 10 million records over
    // 90 days is ~170k cells).
    auto series = (*c)->Query("SELECT tenant, metric, MIN(hour), MAX(hour) FROM metrics_cells GROUP BY tenant, metric");
    if (!series.ok()) return series.status();
    constexpr int64_t kPageHours = 24;
    for (const SqlRow& s : *series) {
      for (int64_t from = s.Int(2); from <= s.Int(3); from += kPageHours) {
        auto rows = (*c)->Query(
            "SELECT hour, channel, source, touchpoint, stage, segment, tag, cnt_n, cnt_top, cnt_bottom, cnt_sum, "
            "cnt_sum_sq FROM metrics_cells WHERE tenant = ? AND metric = ? AND hour >= ? AND hour < ? AND cnt_n <> 0",
            {s.Text(0), s.Int(1), from, from + kPageHours});
        if (!rows.ok()) return rows.status();
        for (const SqlRow& r : *rows) {
          CellDelta d;
          d.tenant = s.Text(0);
          d.metric = static_cast<Metric>(s.Int(1));
          d.hour = r.Int(0);
          for (int k = 0; k < kDims; ++k) d.key[k] = r.Text(1 + k);
          d.delta = Counts{r.Int(7), r.Int(8), r.Int(9), r.Int(10), r.Int(11)};
          fn(std::move(d));
        }
      }
    }
    return absl::OkStatus();
  }

  absl::Status ForEachEvent(const std::optional<std::string>& tenant,
                            const std::function<void(JourneyEventRow&&)>& fn) override {
    return Paged("metrics_events", kEventColumns, "event_id", tenant, [&](const SqlRow& r) { fn(EventOf(r)); });
  }

  absl::Status ForEachCustomer(const std::optional<std::string>& tenant,
                               const std::function<void(const std::string&, CustomerNode&&)>& fn) override {
    return Paged("metrics_customers", "tenant, customer_id, segment, parent, health_version", "customer_id", tenant,
                 [&](const SqlRow& r) { fn(r.Text(0), CustomerNode{r.Text(1), r.Text(2), r.Text(3), r.Int(4)}); });
  }

  absl::Status ForEachFollowUp(const std::optional<std::string>& tenant,
                               const std::function<void(FollowUpRow&&)>& fn) override {
    return Paged("metrics_follow_ups", "tenant, follow_up, customer_id, open", "follow_up", tenant,
                 [&](const SqlRow& r) { fn(FollowUpRow{r.Text(0), r.Text(1), r.Text(2), r.Int(3) != 0}); });
  }

  absl::Status ForEachFact(const std::optional<std::string>& tenant, const std::function<void(Fact&&)>& fn) override {
    return Paged("metrics_facts", kFactColumns, "feedback_id", tenant, [&](const SqlRow& r) { fn(FactOf(r)); });
  }

  absl::StatusOr<Counts> ScanFacts(const std::string& tenant, Metric metric, int64_t from_hour,
                                   int64_t to_hour) override {
    // Same categories as CountsOf: by metric, which scores are top / bottom.
    const char* top = metric == Metric::kNps ? "score >= 9" : metric == Metric::kCsat ? "score >= 4" : "score >= 6";
    const char* bottom = metric == Metric::kNps ? "score <= 6" : metric == Metric::kCsat ? "score <= 2" : "score <= 3";
    auto c = pool_->Acquire();
    if (!c.ok()) return c.status();
    auto rows = (*c)->Query(absl::StrCat("SELECT COUNT(*), COALESCE(SUM(CASE WHEN ", top,
                                         " THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN ", bottom,
                                         " THEN 1 ELSE 0 END), 0), COALESCE(SUM(score), 0), "
                                         "COALESCE(SUM(score * score), 0) FROM metrics_facts "
                                         "WHERE tenant = ? AND metric = ? AND hour >= ? AND hour < ?"),
                            {tenant, static_cast<int64_t>(metric), from_hour, to_hour});
    if (!rows.ok()) return rows.status();
    const SqlRow& r = rows->front();
    return Counts{r.Int(0), r.Int(1), r.Int(2), r.Int(3), r.Int(4)};
  }

  absl::StatusOr<std::pair<v1::AlertRule, bool>> CreateRule(const std::string& tenant, const std::string& request_id,
                                                             const std::string& payload_hash,
                                                             const v1::AlertRule& rule) override {
    auto c = pool_->Acquire();
    if (!c.ok()) return c.status();
    SqlConnection& conn = **c;
    std::pair<v1::AlertRule, bool> out;
    auto s = shared::db::InWriteTransaction(conn, [&]() -> absl::Status {
      auto rows = conn.Query(
          "SELECT payload_hash, body, in_breach FROM metrics_alert_rules WHERE tenant = ? AND request_id = ?",
          {tenant, request_id});
      if (!rows.ok()) return rows.status();
      if (!rows->empty()) {
        if (rows->front().Text(0) != payload_hash) return absl::AlreadyExistsError("request_id");
        auto stored = shared::ParseStored<v1::AlertRule>(rows->front().Text(1));
        if (!stored.ok()) return stored.status();
        stored->set_in_breach(rows->front().Int(2) != 0);
        out = {*std::move(stored), false};
        return absl::OkStatus();
      }
      out = {rule, true};
      return conn.Execute(
                     "INSERT INTO metrics_alert_rules (tenant, rule_id, request_id, payload_hash, in_breach, body) "
                     "VALUES (?,?,?,?,0,?)",
                     {tenant, rule.rule_id(), request_id, payload_hash, rule.SerializeAsString()})
          .status();
    });
    if (!s.ok()) return s;
    return out;
  }

  absl::StatusOr<std::vector<std::pair<std::string, v1::AlertRule>>> ListRules(
      const std::optional<std::string>& tenant, const std::string& after_rule_id, int limit) override {
    auto c = pool_->Acquire();
    if (!c.ok()) return c.status();
    auto rows = tenant ? (*c)->Query("SELECT tenant, body, in_breach FROM metrics_alert_rules WHERE tenant = ? AND "
                                     "rule_id > ? ORDER BY rule_id LIMIT ?",
                                     {*tenant, after_rule_id, static_cast<int64_t>(limit)})
                       : (*c)->Query("SELECT tenant, body, in_breach FROM metrics_alert_rules ORDER BY tenant, rule_id");
    if (!rows.ok()) return rows.status();
    std::vector<std::pair<std::string, v1::AlertRule>> out;
    for (const SqlRow& r : *rows) {
      auto rule = shared::ParseStored<v1::AlertRule>(r.Text(1));
      if (!rule.ok()) return rule.status();
      rule->set_in_breach(r.Int(2) != 0);
      out.emplace_back(r.Text(0), *std::move(rule));
    }
    return out;
  }

  absl::StatusOr<bool> DeleteRule(const std::string& tenant, const std::string& rule_id) override {
    auto c = pool_->Acquire();
    if (!c.ok()) return c.status();
    auto n = (*c)->Execute("DELETE FROM metrics_alert_rules WHERE tenant = ? AND rule_id = ?", {tenant, rule_id});
    if (!n.ok()) return n.status();
    return *n > 0;
  }

  absl::Status SetInBreach(const std::string& tenant, const std::string& rule_id, bool in_breach) override {
    auto c = pool_->Acquire();
    if (!c.ok()) return c.status();
    return (*c)->Execute("UPDATE metrics_alert_rules SET in_breach = ? WHERE tenant = ? AND rule_id = ?",
                         {static_cast<int64_t>(in_breach), tenant, rule_id})
        .status();
  }

  absl::StatusOr<v1::Alert> InsertAlert(const std::string& tenant, const std::string& rule_id,
                                        v1::Alert alert) override {
    auto c = pool_->Acquire();
    if (!c.ok()) return c.status();
    SqlConnection& conn = **c;
    auto s = shared::db::InWriteTransaction(conn, [&]() -> absl::Status {
      auto rows = conn.Query(conn.backend() == Backend::kMysql
                                 ? "SELECT COALESCE(MAX(sequence), 0) FROM metrics_alerts FOR UPDATE"
                                 : "SELECT COALESCE(MAX(sequence), 0) FROM metrics_alerts");
      if (!rows.ok()) return rows.status();
      const int64_t sequence = rows->front().Int(0) + 1;
      alert.set_sequence(sequence);
      alert.set_name(absl::StrCat("alerts/", sequence));
      auto w = conn.Execute("INSERT INTO metrics_alerts (sequence, tenant, rule_id, body) VALUES (?,?,?,?)",
                            {sequence, tenant, rule_id, alert.SerializeAsString()});
      if (!w.ok()) return w.status();
      return conn.Execute("UPDATE metrics_alert_rules SET in_breach = 1 WHERE tenant = ? AND rule_id = ?",
                          {tenant, rule_id})
          .status();
    });
    if (!s.ok()) return s;
    return alert;
  }

  absl::StatusOr<std::vector<v1::Alert>> AlertsAfter(const std::optional<std::string>& tenant, int64_t after,
                                                     int limit) override {
    auto c = pool_->Acquire();
    if (!c.ok()) return c.status();
    auto rows = tenant ? (*c)->Query("SELECT body FROM metrics_alerts WHERE tenant = ? AND sequence > ? "
                                     "ORDER BY sequence LIMIT ?",
                                     {*tenant, after, static_cast<int64_t>(limit)})
                       : (*c)->Query("SELECT body FROM metrics_alerts WHERE sequence > ? ORDER BY sequence LIMIT ?",
                                     {after, static_cast<int64_t>(limit)});
    return Alerts(rows);
  }

  absl::StatusOr<std::vector<v1::Alert>> AlertsBefore(const std::string& tenant, int64_t before,
                                                      const std::string& rule_id, int limit) override {
    auto c = pool_->Acquire();
    if (!c.ok()) return c.status();
    std::string sql = "SELECT body FROM metrics_alerts WHERE tenant = ? AND sequence < ?";
    SqlParams p{tenant, before > 0 ? before : INT64_MAX};
    if (!rule_id.empty()) {
      sql += " AND rule_id = ?";
      p.emplace_back(rule_id);
    }
    sql += " ORDER BY sequence DESC LIMIT ?";
    p.emplace_back(static_cast<int64_t>(limit));
    auto rows = (*c)->Query(sql, p);
    return Alerts(rows);
  }

 private:
  // Every row of a table keyed by (tenant, `id`), in key order, 50,000 rows
  // a query.
  // Every row of `table` in (tenant, id) order, in pages that each start
  // with an index seek: tenants one by one (a loose scan of the key's first
  // column), then id > last within the tenant. (An OR over both columns made
  // each page a scan from the start: start-up grew with the square of the
  // rows.)
  absl::Status Paged(const std::string& table, const std::string& columns, const std::string& id,
                     const std::optional<std::string>& only_tenant, const std::function<void(const SqlRow&)>& fn) {
    auto c = pool_->Acquire();
    if (!c.ok()) return c.status();
    constexpr int64_t kPage = 50000;
    const std::string next_tenant = absl::StrCat("SELECT MIN(tenant) FROM ", table, " WHERE tenant > ?");
    const std::string first_page =
        absl::StrCat("SELECT ", columns, " FROM ", table, " WHERE tenant = ? ORDER BY ", id, " LIMIT ", kPage);
    const std::string next_page = absl::StrCat("SELECT ", columns, " FROM ", table, " WHERE tenant = ? AND ", id,
                                               " > ? ORDER BY ", id, " LIMIT ", kPage);
    std::string tenant;  // "" sorts before every tenant name
    for (bool done = false; !done;) {
      if (only_tenant) {
        tenant = *only_tenant;
        done = true;
      } else {
        auto found = (*c)->Query(next_tenant, {tenant});
        if (!found.ok()) return found.status();
        if (found->empty() || found->front().IsNull(0)) return absl::OkStatus();
        tenant = found->front().Text(0);
      }
      std::string last;
      for (bool first = true;; first = false) {
        auto rows = first ? (*c)->Query(first_page, {tenant}) : (*c)->Query(next_page, {tenant, last});
        if (!rows.ok()) return rows.status();
        for (const SqlRow& r : *rows) fn(r);
        if (static_cast<int64_t>(rows->size()) < kPage) break;
        last = rows->back().Text(1);
      }
    }
    return absl::OkStatus();
  }

  static absl::StatusOr<std::vector<v1::Alert>> Alerts(const absl::StatusOr<shared::db::SqlRows>& rows) {
    if (!rows.ok()) return rows.status();
    std::vector<v1::Alert> out;
    for (const SqlRow& r : *rows) {
      auto a = shared::ParseStored<v1::Alert>(r.Text(0));
      if (!a.ok()) return a.status();
      out.push_back(*std::move(a));
    }
    return out;
  }

  std::shared_ptr<ConnectionPool> pool_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<MetricsRepository>> OpenMetricsRepository(std::shared_ptr<ConnectionPool> pool) {
  const auto& migrations = pool->backend() == Backend::kMysql ? MysqlMetricsMigrations() : SqliteMetricsMigrations();
  if (auto s = shared::db::ApplyMigrations(*pool, "metrics", migrations); !s.ok()) return s;
  return std::shared_ptr<MetricsRepository>(std::make_shared<SqlMetricsRepository>(std::move(pool)));
}

}  // namespace cx::metrics
