#include "feedback-service/sql_feedback_repository.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/container/flat_hash_map.h"
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/time_util.h"
#include "shared/db/erasures.h"
#include "shared/erasure.h"
#include "shared/proto_util.h"

namespace cx::feedback {
namespace {

using google::protobuf::util::TimeUtil;
using shared::db::Backend;
using shared::db::ConnectionPool;
using shared::db::ForEachChunk;
using shared::db::ForEachStatementChunk;
using shared::db::Placeholders;
using shared::db::SqlConnection;
using shared::db::SqlParams;
using shared::db::SqlRows;

constexpr int kInsertColumns = 16;
constexpr char kInsertPrefix[] =
    "INSERT INTO feedback (tenant, sequence, request_id, payload_hash, customer_id, kind, score, "
    "channel, source, touchpoint_id, journey_stage, tags, occurred_at_us, received_at_us, "
    "committed_at_us, body) VALUES ";

// A follow-up case takes the sequence number right after its feedback's, in
// the transaction that stores the feedback (WriteOnce), and no case is
// opened any other way. So a customer's cases are found through the
// feedback's per-customer index: the tables need no per-customer index of
// cases, whose entries (random across customers) cost every opened case a
// B-tree page write (migrations: SQLite 006, MySQL 005).
constexpr int64_t CaseIdOf(int64_t feedback_sequence) { return feedback_sequence + 1; }

// The feedback table (alias f) read through its per-customer index (SQLite
// took the tenant's primary key for the erasure's and the export's queries).
std::string FeedbackOfCustomer(Backend backend) {
  return shared::db::ThroughIndex(backend, "feedback f", "feedback_by_customer");
}

// The join from a customer's feedback (alias f) to their cases (alias fu),
// in that order, by CaseIdOf written in SQL; the WHERE clause it ends with
// takes the tenant and the customer id.
std::string CasesOfCustomerFrom(Backend backend) {
  return absl::StrCat(FeedbackOfCustomer(backend),
                      backend == Backend::kMysql ? " STRAIGHT_JOIN" : " CROSS JOIN",
                      " follow_ups fu ON fu.tenant = f.tenant AND fu.id = f.sequence + 1"
                      " AND fu.feedback_sequence = f.sequence WHERE f.tenant = ? AND f.customer_id = ?");
}

std::string TagsColumn(const Feedback& f) {
  if (f.tags().empty()) return "";
  return absl::StrCat(",", absl::StrJoin(f.tags(), ","), ",");
}

absl::StatusOr<Feedback> ParseBody(const std::string& body) {
  Feedback f;
  if (!f.ParseFromString(body)) return absl::DataLossError("a stored feedback does not parse");
  return f;
}

// The feedback of rows whose first column is a stored body.
absl::StatusOr<std::vector<Feedback>> ParseBodies(const absl::StatusOr<SqlRows>& rows) {
  if (!rows.ok()) return rows.status();
  std::vector<Feedback> out;
  out.reserve(rows->size());
  for (const auto& row : *rows) {
    auto parsed = ParseBody(row.Text(0));
    if (!parsed.ok()) return parsed.status();
    out.push_back(*std::move(parsed));
  }
  return out;
}

class SqlFeedbackRepository final : public FeedbackRepository {
 public:
  explicit SqlFeedbackRepository(std::shared_ptr<ConnectionPool> pool) : pool_(std::move(pool)) {}

  absl::StatusOr<std::vector<WriteResult>> Write(absl::Span<const NewFeedback> batch) override {
    auto conn = pool_->Acquire();
    if (!conn.ok()) return conn.status();
    std::vector<WriteResult> results;
    absl::Status status;
    // A replica may store one of our keys between our lookup and our insert;
    // the unique key refuses it (ALREADY_EXISTS) and the retry sees it.
    for (int attempt = 0; attempt < 3; ++attempt) {
      status = shared::db::InWriteTransaction(**conn, [&] { return WriteOnce(**conn, batch, &results); });
      if (status.code() != absl::StatusCode::kAlreadyExists) break;
    }
    if (!status.ok()) return status;
    return results;
  }

  absl::StatusOr<std::optional<Feedback>> Get(const std::string& tenant, int64_t sequence) override {
    auto conn = pool_->Acquire();
    if (!conn.ok()) return conn.status();
    auto rows = (*conn)->Query("SELECT body FROM feedback WHERE tenant = ? AND sequence = ?",
                               {tenant, sequence});
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return std::optional<Feedback>();
    auto f = ParseBody(rows->front().Text(0));
    if (!f.ok()) return f.status();
    return std::optional<Feedback>(*std::move(f));
  }

  absl::StatusOr<std::vector<Feedback>> List(const FeedbackQuery& query) override {
    const FeedbackFilter& f = query.filter;
    std::string sql = "SELECT body FROM feedback WHERE tenant = ?";
    SqlParams params{f.tenant};
    auto add = [&](const char* clause, shared::db::SqlValue value) {
      absl::StrAppend(&sql, " AND ", clause);
      params.push_back(std::move(value));
    };
    if (!f.customer_id.empty()) add("customer_id = ?", f.customer_id);
    if (f.kind != 0) add("kind = ?", int64_t{f.kind});
    if (f.channel != 0) add("channel = ?", int64_t{f.channel});
    if (f.source != 0) add("source = ?", int64_t{f.source});
    if (!f.touchpoint_id.empty()) add("touchpoint_id = ?", f.touchpoint_id);
    if (f.journey_stage != 0) add("journey_stage = ?", int64_t{f.journey_stage});
    if (!f.tag.empty()) {
      // Tags hold no ',', '%' or '!'; '_' is escaped.
      add("tags LIKE ? ESCAPE '!'", absl::StrCat("%,", absl::StrReplaceAll(f.tag, {{"_", "!_"}}), ",%"));
    }
    if (f.occurred_from_us) add("occurred_at_us >= ?", *f.occurred_from_us);
    if (f.occurred_to_us) add("occurred_at_us < ?", *f.occurred_to_us);
    if (f.min_score) add("score >= ?", int64_t{*f.min_score});
    if (f.max_score) add("score <= ?", int64_t{*f.max_score});
    if (query.after) {
      absl::StrAppend(&sql, " AND (occurred_at_us < ? OR (occurred_at_us = ? AND sequence < ?))");
      params.push_back(query.after->occurred_at_us);
      params.push_back(query.after->occurred_at_us);
      params.push_back(query.after->sequence);
    }
    absl::StrAppend(&sql, " ORDER BY occurred_at_us DESC, sequence DESC LIMIT ?");
    params.push_back(int64_t{query.limit});
    auto conn = pool_->Acquire();
    if (!conn.ok()) return conn.status();
    auto rows = (*conn)->Query(sql, params);
    return ParseBodies(rows);
  }

  absl::StatusOr<std::vector<FeedbackChange>> ListChanges(const std::optional<std::string>& tenant,
                                                          int64_t after, int limit) override {
    auto conn = pool_->Acquire();
    if (!conn.ok()) return conn.status();
    // Feedback rows and other changes share one sequence: the first `limit`
    // of each, merged, in one statement, so both are read from the same
    // commits (two statements could see a commit in between and leave a
    // gap: a feedback row the first missed below a change the second saw;
    // MySQL sessions run READ COMMITTED, a snapshot per statement).
    auto horizon = shared::db::FeedHorizon(**conn, "feed_sequence");
    if (!horizon.ok()) return horizon.status();
    const std::string where =
        tenant ? "WHERE tenant = ? AND sequence > ? AND sequence < ?" : "WHERE sequence > ? AND sequence < ?";
    SqlParams params;
    for (int side = 0; side < 2; ++side) {
      if (tenant) params.push_back(*tenant);
      params.push_back(after);
      params.push_back(*horizon);
      params.push_back(int64_t{limit});
    }
    params.push_back(int64_t{limit});
    auto merged = (*conn)->Query(
        absl::StrCat("SELECT * FROM (SELECT tenant, sequence, committed_at_us, body, 0 AS kind FROM feedback ", where,
                     " ORDER BY sequence LIMIT ?) f UNION ALL SELECT * FROM (SELECT tenant, sequence, committed_at_us, "
                     "body, 1 AS kind FROM feed_changes ",
                     where, " ORDER BY sequence LIMIT ?) c ORDER BY sequence LIMIT ?"),
        params);
    if (!merged.ok()) return merged.status();
    std::vector<FeedbackChange> out;
    out.reserve(merged->size());
    for (const auto& row : *merged) {
      FeedbackChange change;
      if (row.Int(4) == 0) {
        change.set_tenant(row.Text(0));
        change.set_sequence(row.Int(1));
        *change.mutable_commit_time() = TimeUtil::MicrosecondsToTimestamp(row.Int(2));
        if (!change.mutable_feedback_created()->ParseFromString(row.Text(3))) {
          return absl::DataLossError("a stored feedback does not parse");
        }
      } else if (!change.ParseFromString(row.Text(3))) {
        return absl::DataLossError("a stored change does not parse");
      }
      out.push_back(std::move(change));
    }
    return out;
  }

  absl::StatusOr<std::optional<v1::FollowUp>> GetFollowUp(const std::string& tenant, int64_t id) override {
    auto conn = pool_->Acquire();
    if (!conn.ok()) return conn.status();
    auto rows = (*conn)->Query("SELECT body FROM follow_ups WHERE tenant = ? AND id = ?", {tenant, id});
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return std::optional<v1::FollowUp>();
    v1::FollowUp f;
    if (!f.ParseFromString(rows->front().Text(0))) return absl::DataLossError("a stored follow-up does not parse");
    return std::optional<v1::FollowUp>(std::move(f));
  }

  absl::StatusOr<std::vector<v1::FollowUp>> ListFollowUps(const FollowUpQuery& query) override {
    const FollowUpFilter& f = query.filter;
    auto conn = pool_->Acquire();
    if (!conn.ok()) return conn.status();
    // One customer's cases come through their feedback (CaseIdOf).
    const bool by_customer = !f.customer_id.empty();
    std::string sql = by_customer ? absl::StrCat("SELECT fu.body FROM ", CasesOfCustomerFrom((*conn)->backend()))
                                  : "SELECT body FROM follow_ups fu WHERE fu.tenant = ?";
    SqlParams params{f.tenant};
    if (by_customer) params.push_back(f.customer_id);
    auto add = [&](const char* clause, shared::db::SqlValue value) {
      absl::StrAppend(&sql, " AND ", clause);
      params.push_back(std::move(value));
    };
    if (f.status != 0) add("fu.status = ?", int64_t{f.status});
    if (!f.assignee.empty()) add("fu.assignee = ?", f.assignee);
    if (f.created_from_us) add("fu.created_us >= ?", *f.created_from_us);
    if (f.created_to_us) add("fu.created_us < ?", *f.created_to_us);
    if (query.after) {
      absl::StrAppend(&sql, " AND (fu.created_us < ? OR (fu.created_us = ? AND fu.id < ?))");
      params.push_back(query.after->first);
      params.push_back(query.after->first);
      params.push_back(query.after->second);
    }
    absl::StrAppend(&sql, " ORDER BY fu.created_us DESC, fu.id DESC LIMIT ?");
    params.push_back(int64_t{query.limit});
    auto rows = (*conn)->Query(sql, params);
    if (!rows.ok()) return rows.status();
    std::vector<v1::FollowUp> out(rows->size());
    for (size_t i = 0; i < rows->size(); ++i) {
      if (!out[i].ParseFromString((*rows)[i].Text(0))) return absl::DataLossError("a stored follow-up does not parse");
    }
    return out;
  }

  absl::StatusOr<v1::FollowUp> UpdateFollowUp(const std::string& tenant, int64_t id,
                                              const std::function<absl::Status(v1::FollowUp*)>& update) override {
    auto conn = pool_->Acquire();
    if (!conn.ok()) return conn.status();
    SqlConnection& c = **conn;
    v1::FollowUp result;
    absl::Status s = shared::db::InWriteTransaction(c, [&]() -> absl::Status {
      // The sequence row first (the order every writer takes), then the case.
      auto first = LockSequence(c);
      if (!first.ok()) return first.status();
      auto rows = c.Query(c.backend() == Backend::kMysql
                              ? "SELECT body FROM follow_ups WHERE tenant = ? AND id = ? FOR UPDATE"
                              : "SELECT body FROM follow_ups WHERE tenant = ? AND id = ?",
                          {tenant, id});
      if (!rows.ok()) return rows.status();
      if (rows->empty()) return absl::NotFoundError(absl::StrCat("followups/", id, " not found"));
      if (!result.ParseFromString(rows->front().Text(0))) return absl::DataLossError("a stored follow-up does not parse");
      if (absl::Status u = update(&result); !u.ok()) return u;
      const int64_t committed_us = absl::ToUnixMicros(absl::Now());
      auto changed = c.Execute(
          "UPDATE follow_ups SET status = ?, assignee = ?, outcome = ?, resolved_us = ?, body = ? "
          "WHERE tenant = ? AND id = ?",
          {int64_t{result.status()}, result.assignee(), int64_t{result.outcome()}, ResolvedColumn(result),
           result.SerializeAsString(), tenant, id});
      if (!changed.ok()) return changed.status();
      if (absl::Status st = InsertChange(c, tenant, *first, committed_us, result); !st.ok()) return st;
      // Listed by its case, for an erasure (CaseChanges).
      auto listed = c.Execute("INSERT INTO follow_up_updates (tenant, follow_up_id, sequence) VALUES (?, ?, ?)",
                              {tenant, id, *first});
      if (!listed.ok()) return listed.status();
      return AdvanceSequence(c, *first, 1);
    });
    if (!s.ok()) return s;
    return result;
  }

  absl::StatusOr<FollowUpCounts> CountFollowUps(const std::string& tenant, std::optional<int64_t> from_us,
                                                std::optional<int64_t> to_us) override {
    auto conn = pool_->Acquire();
    if (!conn.ok()) return conn.status();
    auto range = [&](const char* column, SqlParams* params) {
      std::string sql;
      if (from_us) {
        absl::StrAppend(&sql, " AND ", column, " >= ?");
        params->push_back(*from_us);
      }
      if (to_us) {
        absl::StrAppend(&sql, " AND ", column, " < ?");
        params->push_back(*to_us);
      }
      return sql;
    };
    FollowUpCounts out;
    SqlParams params{tenant};
    auto counts = (*conn)->Query(
        absl::StrCat("SELECT status, COUNT(*) FROM follow_ups WHERE tenant = ?", range("created_us", &params),
                     " GROUP BY status"),
        params);
    if (!counts.ok()) return counts.status();
    for (const auto& row : *counts) {
      switch (row.Int(0)) {
        case v1::FOLLOW_UP_STATUS_OPEN: out.open = row.Int(1); break;
        case v1::FOLLOW_UP_STATUS_IN_PROGRESS: out.in_progress = row.Int(1); break;
        case v1::FOLLOW_UP_STATUS_RESOLVED: out.resolved = row.Int(1); break;
        default: break;
      }
    }
    SqlParams closed_params{tenant};
    auto closed = (*conn)->Query(
        absl::StrCat("SELECT outcome, resolved_us - created_us FROM follow_ups WHERE tenant = ? AND resolved_us IS NOT NULL",
                     range("resolved_us", &closed_params)),
        closed_params);
    if (!closed.ok()) return closed.status();
    out.closed.reserve(closed->size());
    for (const auto& row : *closed) out.closed.push_back({static_cast<int>(row.Int(0)), row.Int(1)});
    return out;
  }

  absl::StatusOr<std::optional<StoredRules>> GetRules(const std::string& tenant, RulesKind kind) override {
    auto conn = pool_->Acquire();
    if (!conn.ok()) return conn.status();
    auto rows = (*conn)->Query("SELECT body, updated_us FROM tenant_rules WHERE tenant = ? AND kind = ?",
                               {tenant, std::string(KindName(kind))});
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return std::optional<StoredRules>();
    return std::optional<StoredRules>(StoredRules{rows->front().Text(0), rows->front().Int(1)});
  }

  absl::Status PutRules(const std::string& tenant, RulesKind kind, const StoredRules& rules) override {
    auto conn = pool_->Acquire();
    if (!conn.ok()) return conn.status();
    const char* sql = (*conn)->backend() == Backend::kMysql
                          ? "INSERT INTO tenant_rules (tenant, kind, body, updated_us) VALUES (?, ?, ?, ?) "
                            "ON DUPLICATE KEY UPDATE body = VALUES(body), updated_us = VALUES(updated_us)"
                          : "INSERT INTO tenant_rules (tenant, kind, body, updated_us) VALUES (?, ?, ?, ?) "
                            "ON CONFLICT (tenant, kind) DO UPDATE SET body = excluded.body, updated_us = excluded.updated_us";
    return (*conn)->Execute(sql, {tenant, std::string(KindName(kind)), rules.body, rules.updated_us}).status();
  }

  absl::StatusOr<cx::common::v1::Erasure> EraseCustomer(const EraseInput& in) override {
    auto conn = pool_->Acquire();
    if (!conn.ok()) return conn.status();
    SqlConnection& c = **conn;
    cx::common::v1::Erasure out;
    absl::Status s = shared::db::InWriteTransaction(c, [&]() -> absl::Status {
      // The sequence row first (the order every writer takes): no write of
      // the customer can commit between what is read here and the erasure.
      auto first = LockSequence(c);
      if (!first.ok()) return first.status();
      auto stored = shared::db::StoredErasure(c, in.tenant, in.erasure.customer_digest());
      if (!stored.ok()) return stored.status();
      if (stored->has_value()) {
        out = **stored;
        out.set_already_erased(true);
        return absl::OkStatus();
      }
      out = in.erasure;
      const int64_t now_us = TimeUtil::TimestampToMicroseconds(out.erase_time());
      const int64_t tombstone = *first;
      FeedbackChange tomb;
      tomb.set_sequence(tombstone);
      tomb.set_tenant(in.tenant);
      *tomb.mutable_commit_time() = out.erase_time();
      auto* erased = tomb.mutable_customer_erased();

      // The customer's cases, found through their feedback (CaseIdOf), so
      // before that is deleted.
      auto cases = c.Query(absl::StrCat("SELECT fu.id FROM ", CasesOfCustomerFrom(c.backend())),
                           {in.tenant, in.customer_id});
      if (!cases.ok()) return cases.status();

      // Feedback rows are their own feed records: each becomes a redacted
      // change at the same sequence.
      auto feedback = c.Query(absl::StrCat("SELECT f.sequence, f.committed_at_us FROM ", FeedbackOfCustomer(c.backend()),
                                           " WHERE f.tenant = ? AND f.customer_id = ?"),
                              {in.tenant, in.customer_id});
      if (!feedback.ok()) return feedback.status();
      for (const auto& row : *feedback) {
        if (auto st = PutRedacted(c, in.tenant, row.Int(0), row.Int(1), /*replace=*/false); !st.ok()) return st;
        erased->add_feedback(absl::StrCat("feedback/", row.Int(0)));
      }
      auto deleted = c.Execute("DELETE FROM feedback WHERE tenant = ? AND customer_id = ?", {in.tenant, in.customer_id});
      if (!deleted.ok()) return deleted.status();

      // Follow-up cases, and every feed record of a change of one of them.
      std::vector<int64_t> case_ids;
      for (const auto& row : *cases) {
        case_ids.push_back(row.Int(0));
        erased->add_follow_ups(absl::StrCat("followups/", row.Int(0)));
      }
      auto changes = CaseChanges(c, in.tenant, case_ids);
      if (!changes.ok()) return changes.status();
      for (const auto& [sequence, committed_us] : *changes) {
        if (auto st = PutRedacted(c, in.tenant, sequence, committed_us, /*replace=*/true); !st.ok()) return st;
      }
      for (int64_t id : case_ids) {
        for (const char* rows : {"follow_ups WHERE tenant = ? AND id = ?",
                                 "follow_up_updates WHERE tenant = ? AND follow_up_id = ?"}) {
          auto gone = c.Execute(absl::StrCat("DELETE FROM ", rows), {in.tenant, id});
          if (!gone.ok()) return gone.status();
        }
      }
      out.set_records_erased(static_cast<int64_t>(feedback->size() + case_ids.size()));
      *erased->mutable_erasure() = out;
      auto r = c.Execute("INSERT INTO feed_changes (sequence, tenant, committed_at_us, body) VALUES (?, ?, ?, ?)",
                         {tombstone, in.tenant, now_us, tomb.SerializeAsString()});
      if (!r.ok()) return r.status();
      if (auto st = shared::db::RecordErasure(c, in.tenant, out); !st.ok()) return st;
      return AdvanceSequence(c, tombstone, 1);
    });
    if (!s.ok()) return s;
    // Also on a repeat: a caller retrying after a failed scrub completes it.
    if (auto st = shared::db::ScrubDeleted(c); !st.ok()) return st;
    return out;
  }

  absl::StatusOr<std::vector<Feedback>> CustomerFeedback(const std::string& tenant, const std::string& customer_id,
                                                         int64_t after, int limit) override {
    auto conn = pool_->Acquire();
    if (!conn.ok()) return conn.status();
    auto rows = (*conn)->Query(absl::StrCat("SELECT f.body FROM ", FeedbackOfCustomer((*conn)->backend()),
                                            " WHERE f.tenant = ? AND f.customer_id = ? AND f.sequence > ?"
                                            " ORDER BY f.sequence LIMIT ?"),
                               {tenant, customer_id, after, int64_t{limit}});
    return ParseBodies(rows);
  }

  absl::Status Ping() override { return pool_->Ping(); }

 private:
  // The feed record at `sequence` becomes a redacted change (inserted for a
  // feedback row, which is its own record; replaced for other changes).
  static absl::Status PutRedacted(SqlConnection& c, const std::string& tenant, int64_t sequence,
                                  int64_t committed_us, bool replace) {
    FeedbackChange change;
    change.set_sequence(sequence);
    change.set_tenant(tenant);
    *change.mutable_commit_time() = TimeUtil::MicrosecondsToTimestamp(committed_us);
    change.mutable_redacted();
    const std::string body = change.SerializeAsString();
    auto r = replace ? c.Execute("UPDATE feed_changes SET body = ? WHERE sequence = ?", {body, sequence})
                     : c.Execute("INSERT INTO feed_changes (sequence, tenant, committed_at_us, body) VALUES (?, ?, ?, ?)",
                                 {sequence, tenant, committed_us, body});
    return r.status();
  }

  // The feed records (sequence, committed_at_us) of the cases `ids` of
  // `tenant`: each one's opening record, at its id, and its updates, listed
  // in follow_up_updates. Updates committed before that table existed
  // (migration SQLite 007, MySQL 006) and not yet listed are found by
  // reading the tenant's changes from the oldest such case up to where the
  // listing starts. OpenFeedbackRepository lists them (ListBelowMarker)
  // before it returns, so this reads anything only while another replica
  // is still listing.
  static absl::StatusOr<std::vector<std::pair<int64_t, int64_t>>> CaseChanges(SqlConnection& c,
                                                                             const std::string& tenant,
                                                                             const std::vector<int64_t>& ids) {
    std::vector<std::pair<int64_t, int64_t>> out;
    if (ids.empty()) return out;
    for (int64_t id : ids) {
      auto rows = c.Query(
          "SELECT sequence, committed_at_us FROM feed_changes WHERE sequence = ? AND tenant = ? UNION ALL "
          "SELECT c.sequence, c.committed_at_us FROM follow_up_updates u JOIN feed_changes c ON c.sequence = u.sequence "
          "WHERE u.tenant = ? AND u.follow_up_id = ?",
          {id, tenant, tenant, id});
      if (!rows.ok()) return rows.status();
      for (const auto& row : *rows) out.emplace_back(row.Int(0), row.Int(1));
    }
    auto from = c.Query("SELECT value FROM feedback_meta WHERE name = 'follow_up_updates_from'");
    if (!from.ok()) return from.status();
    const int64_t listed_from = from->empty() ? 0 : from->front().Int(0);
    const int64_t oldest = *std::min_element(ids.begin(), ids.end());
    if (oldest >= listed_from) return out;
    std::set<std::string> names;
    for (int64_t id : ids) names.insert(absl::StrCat("followups/", id));
    auto older = c.Query("SELECT sequence, committed_at_us, body FROM feed_changes WHERE tenant = ? AND sequence > ? "
                         "AND sequence < ?",
                         {tenant, oldest, listed_from});
    if (!older.ok()) return older.status();
    for (const auto& row : *older) {
      FeedbackChange change;
      if (!change.ParseFromString(row.Text(2))) return absl::DataLossError("a stored change does not parse");
      // Opening records are taken above by id; the rest are updates.
      if (!change.has_follow_up_changed() || !names.count(change.follow_up_changed().name()) ||
          names.count(absl::StrCat("followups/", row.Int(0)))) {
        continue;
      }
      out.emplace_back(row.Int(0), row.Int(1));
    }
    return out;
  }

  absl::Status WriteOnce(SqlConnection& c, absl::Span<const NewFeedback> batch, std::vector<WriteResult>* out) {
    std::vector<WriteResult>& results = *out;
    results.clear();
    results.reserve(batch.size());
    // What each (tenant, request_id) of the batch maps to: a row stored
    // earlier (hash, body) or one this batch inserts (index into `rows`).
    absl::flat_hash_map<std::pair<std::string, std::string>, Known> known;
    if (auto s = LoadExisting(c, batch, &known); !s.ok()) return s;
    struct PendingRow {
      const NewFeedback* item;
      size_t result;  // index into results
      std::string body;
    };
    std::vector<PendingRow> rows;
    rows.reserve(batch.size());
    // (result index, index of the first result with the same key) of keys
    // repeated inside the batch; they get the first one's record once numbered.
    std::vector<std::pair<size_t, size_t>> repeats;
    for (const NewFeedback& item : batch) {
      auto [it, inserted] = known.try_emplace(std::make_pair(item.tenant, item.request_id));
      Known& k = it->second;
      if (inserted) {
        k.pending = static_cast<int>(rows.size());
        rows.push_back({&item, results.size(), ""});
        results.push_back({WriteOutcome::kCreated, item.feedback});
        continue;
      }
      const std::string& stored_hash = k.pending >= 0 ? rows[k.pending].item->payload_hash : k.hash;
      WriteOutcome outcome = stored_hash == item.payload_hash ? WriteOutcome::kDuplicate : WriteOutcome::kConflict;
      if (k.pending >= 0) {
        results.push_back({outcome, Feedback()});  // filled in once numbered
        repeats.emplace_back(results.size() - 1, rows[k.pending].result);
      } else {
        auto stored = ParseBody(k.body);
        if (!stored.ok()) return stored.status();
        results.push_back({outcome, *std::move(stored)});
      }
    }
    if (rows.empty()) return absl::OkStatus();

    // Taken as late as possible and held to COMMIT: the sequence row lock
    // serialises writers (also across replicas), so sequence order is commit
    // order and no reader can skip a late commit.
    auto locked = LockSequence(c);
    if (!locked.ok()) return locked.status();
    const int64_t first = *locked;

    // Checked under the sequence lock, so an erasure that committed first
    // is seen: items of erased customers store nothing. Only the rows of
    // tenants that have erased someone need their digests looked up.
    std::map<std::string, std::vector<std::string>> digests;  // by tenant
    for (const PendingRow& row : rows) digests.try_emplace(row.item->tenant);
    if (auto s = shared::db::KeepTenantsWithErasures(c, &digests); !s.ok()) return s;
    std::vector<std::string> row_digests(rows.size());  // empty where not looked up
    for (size_t i = 0; i < rows.size(); ++i) {
      auto tenant = digests.find(rows[i].item->tenant);
      if (tenant == digests.end()) continue;
      row_digests[i] = shared::CustomerDigest(rows[i].item->tenant, rows[i].item->feedback.customer_id());
      tenant->second.push_back(row_digests[i]);
    }
    std::set<std::pair<std::string, std::string>> erased;
    for (auto& [tenant, list] : digests) {
      auto found = shared::db::ErasedAmong(c, tenant, std::move(list));
      if (!found.ok()) return found.status();
      for (const std::string& d : *found) erased.emplace(tenant, d);
    }
    if (!erased.empty()) {
      std::set<size_t> refused;  // result indexes
      std::vector<PendingRow> kept;
      for (size_t i = 0; i < rows.size(); ++i) {
        if (erased.count({rows[i].item->tenant, row_digests[i]})) {
          results[rows[i].result] = {WriteOutcome::kErased, Feedback()};
          refused.insert(rows[i].result);
        } else {
          kept.push_back(std::move(rows[i]));
        }
      }
      rows = std::move(kept);
      for (auto [repeat, source] : repeats) {
        if (refused.count(source)) results[repeat] = {WriteOutcome::kErased, Feedback()};
      }
      repeats.erase(std::remove_if(repeats.begin(), repeats.end(),
                                   [&](const auto& r) { return refused.count(r.second) > 0; }),
                    repeats.end());
      if (rows.empty()) return absl::OkStatus();
    }
    int64_t next = first;
    struct NewCase {
      const std::string* tenant;
      int64_t id;
      int64_t feedback_sequence;
      v1::FollowUp follow_up;
    };
    std::vector<NewCase> cases;
    for (size_t i = 0; i < rows.size(); ++i) {
      Feedback& f = results[rows[i].result].feedback;
      const int64_t sequence = next++;
      f.set_sequence(sequence);
      f.set_id(absl::StrCat(sequence));
      f.set_name(absl::StrCat("feedback/", sequence));
      f.set_request_id(rows[i].item->request_id);
      if (rows[i].item->follow_up) {
        v1::FollowUp fu = *rows[i].item->follow_up;
        const int64_t id = CaseIdOf(sequence);
        next = id + 1;
        fu.set_id(absl::StrCat(id));
        fu.set_name(absl::StrCat("followups/", id));
        fu.set_feedback(f.name());
        f.set_follow_up(fu.name());
        cases.push_back({&rows[i].item->tenant, id, sequence, std::move(fu)});
      }
      rows[i].body = f.SerializeAsString();
    }
    for (auto [repeat, source] : repeats) results[repeat].feedback = results[source].feedback;

    const int64_t committed_us = absl::ToUnixMicros(absl::Now());
    // SQLite is in-process: one prepared single-row INSERT per row is its
    // fastest path. MySQL pays a round trip per statement: many rows each.
    const size_t max_rows = c.backend() == Backend::kMysql ? 256 : 1;
    // A row's columns copy parts of its body: three times the body bounds them.
    auto row_bytes = [&](size_t i) { return 3 * rows[i].body.size() + 512; };
    absl::Status s = ForEachStatementChunk(c, rows.size(), max_rows, row_bytes, [&](size_t offset, size_t count) {
      SqlParams params;
      params.reserve(count * kInsertColumns);
      for (size_t i = offset; i < offset + count; ++i) {
        const NewFeedback& item = *rows[i].item;
        const Feedback& f = results[rows[i].result].feedback;
        params.emplace_back(item.tenant);
        params.emplace_back(f.sequence());
        params.emplace_back(item.request_id);
        params.emplace_back(item.payload_hash);
        params.emplace_back(f.customer_id());
        params.emplace_back(int64_t{f.kind()});
        if (f.has_score()) params.emplace_back(int64_t{f.score()});
        else params.emplace_back(std::monostate{});
        params.emplace_back(int64_t{f.channel()});
        params.emplace_back(int64_t{f.source()});
        params.emplace_back(f.touchpoint_id());
        params.emplace_back(int64_t{f.journey_stage()});
        params.emplace_back(TagsColumn(f));
        params.emplace_back(TimeUtil::TimestampToMicroseconds(f.occurred_at()));
        params.emplace_back(TimeUtil::TimestampToMicroseconds(f.received_at()));
        params.emplace_back(committed_us);
        params.emplace_back(std::move(rows[i].body));
      }
      return c.ExecuteLater(absl::StrCat(kInsertPrefix, Placeholders(count, kInsertColumns)), params);
    });
    if (!s.ok()) return s;
    // The cases and their feed records, chunked like the rows above.
    // Each case's record goes into both statements, as the row and in its change.
    auto case_bytes = [&](size_t i) { return 4 * cases[i].follow_up.ByteSizeLong() + 512; };
    s = ForEachStatementChunk(c, cases.size(), max_rows, case_bytes, [&](size_t offset, size_t count) {
      SqlParams follow_ups, changes;
      for (size_t i = offset; i < offset + count; ++i) {
        const NewCase& n = cases[i];
        std::string body = n.follow_up.SerializeAsString();
        AppendChange(*n.tenant, n.id, committed_us, body, &changes);
        AppendFollowUp(*n.tenant, n.id, n.feedback_sequence, n.follow_up, std::move(body), &follow_ups);
      }
      if (auto r = c.ExecuteLater(absl::StrCat(kFollowUpInsert, Placeholders(count, kFollowUpColumns)), follow_ups);
          !r.ok()) {
        return r;
      }
      return c.ExecuteLater(absl::StrCat(kChangeInsert, Placeholders(count, kChangeColumns)), changes);
    });
    if (!s.ok()) return s;
    return AdvanceSequence(c, first, next - first);
  }

  static const char* KindName(RulesKind kind) { return kind == RulesKind::kTopics ? "topics" : "follow_ups"; }

  static shared::db::SqlValue ResolvedColumn(const v1::FollowUp& f) {
    if (!f.has_resolve_time()) return std::monostate{};
    return TimeUtil::TimestampToMicroseconds(f.resolve_time());
  }

  // Takes the feed sequence row (held to COMMIT) and returns the next number.
  static absl::StatusOr<int64_t> LockSequence(SqlConnection& c) {
    auto rows = c.Query(c.backend() == Backend::kMysql
                            ? "SELECT next_sequence FROM feed_sequence WHERE shard = 0 FOR UPDATE"
                            : "SELECT next_sequence FROM feed_sequence WHERE shard = 0");
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return absl::InternalError("feed_sequence row missing");
    return rows->front().Int(0);
  }

  static absl::Status AdvanceSequence(SqlConnection& c, int64_t first, int64_t count) {
    auto updated = c.Execute("UPDATE feed_sequence SET next_sequence = ? WHERE shard = 0 AND next_sequence = ?",
                             {first + count, first});
    if (!updated.ok()) return updated.status();
    if (*updated != 1) return absl::AbortedError("feed sequence moved during the batch");
    return absl::OkStatus();
  }

  static constexpr char kChangeInsert[] = "INSERT INTO feed_changes (sequence, tenant, committed_at_us, body) VALUES ";
  static constexpr int kChangeColumns = 4;
  static constexpr char kFollowUpInsert[] =
      "INSERT INTO follow_ups (tenant, id, feedback_sequence, customer_id, status, assignee, outcome, created_us, "
      "resolved_us, body) VALUES ";
  static constexpr int kFollowUpColumns = 10;

  // The values of one feed_changes row recording a case at `sequence`;
  // `follow_up` is the case serialized (also its row's body), put into the
  // change as it is rather than parsed and serialized again.
  static void AppendChange(const std::string& tenant, int64_t sequence, int64_t committed_us,
                           const std::string& follow_up, SqlParams* params) {
    FeedbackChange change;
    change.set_sequence(sequence);
    change.set_tenant(tenant);
    *change.mutable_commit_time() = TimeUtil::MicrosecondsToTimestamp(committed_us);
    std::string body = change.SerializeAsString();
    shared::AppendMessageField(FeedbackChange::kFollowUpChangedFieldNumber, follow_up, &body);
    params->insert(params->end(), {sequence, tenant, committed_us, std::move(body)});
  }

  // The values of one follow_ups row; `body` is `f` serialized.
  static void AppendFollowUp(const std::string& tenant, int64_t id, int64_t feedback_sequence,
                             const v1::FollowUp& f, std::string body, SqlParams* params) {
    params->insert(params->end(), {tenant, id, feedback_sequence, f.customer_id(), int64_t{f.status()}, f.assignee(),
                                   int64_t{f.outcome()}, TimeUtil::TimestampToMicroseconds(f.create_time()),
                                   ResolvedColumn(f), std::move(body)});
  }

  static absl::Status InsertChange(SqlConnection& c, const std::string& tenant, int64_t sequence, int64_t committed_us,
                                   const v1::FollowUp& follow_up) {
    SqlParams params;
    AppendChange(tenant, sequence, committed_us, follow_up.SerializeAsString(), &params);
    return c.Execute(absl::StrCat(kChangeInsert, Placeholders(1, kChangeColumns)), params).status();
  }

  struct Known {
    std::string hash;
    std::string body;
    int pending = -1;
  };

  // Loads (hash, body) of every (tenant, request_id) of the batch that is
  // already stored.
  template <typename Map>
  absl::Status LoadExisting(SqlConnection& c, absl::Span<const NewFeedback> batch, Map* known) {
    std::map<std::string, std::vector<std::string>> by_tenant;
    for (const auto& item : batch) by_tenant[item.tenant].push_back(item.request_id);
    for (auto& entry : by_tenant) {
      const std::string& tenant = entry.first;  // (a lambda below captures it)
      std::vector<std::string>& ids = entry.second;
      std::sort(ids.begin(), ids.end());
      ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
      const std::string table = shared::db::ThroughIndex(c.backend(), "feedback", "feedback_by_request");
      absl::Status s = shared::db::QueryIn(
          c, absl::StrCat("SELECT request_id, payload_hash, body FROM ", table, " WHERE tenant = ? AND request_id IN "),
          {tenant}, ids, "", [&](const shared::db::SqlRow& row) {
            auto& k = (*known)[{tenant, row.Text(0)}];
            k.hash = row.Text(1);
            k.body = row.Text(2);
            return absl::OkStatus();
          });
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

  std::shared_ptr<ConnectionPool> pool_;
};

// Lists in follow_up_updates the case updates with lo <= sequence < hi:
// those committed before it existed (migration SQLite 007, MySQL 006). A
// case's opening record is at its own id and is not listed; a redacted
// record names no case.
absl::Status ListOlderCaseUpdates(SqlConnection& c, int64_t lo, int64_t hi) {
  auto rows = c.Query("SELECT tenant, sequence, body FROM feed_changes WHERE sequence >= ? AND sequence < ?", {lo, hi});
  if (!rows.ok()) return rows.status();
  for (const auto& row : *rows) {
    FeedbackChange change;
    if (!change.ParseFromString(row.Text(2))) return absl::DataLossError("a stored change does not parse");
    if (!change.has_follow_up_changed()) continue;
    int64_t id = 0;
    if (!absl::SimpleAtoi(change.follow_up_changed().id(), &id)) {
      return absl::DataLossError(absl::StrCat("the change at ", row.Int(1), " names no case id"));
    }
    if (id == row.Int(1)) continue;
    auto listed = c.Execute("INSERT INTO follow_up_updates (tenant, follow_up_id, sequence) VALUES (?, ?, ?)",
                            {row.Text(0), id, row.Int(1)});
    if (!listed.ok()) return listed.status();
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<FeedbackRepository>> OpenFeedbackRepository(
    std::shared_ptr<ConnectionPool> pool) {
  const auto& migrations = pool->backend() == Backend::kMysql ? MysqlFeedbackMigrations()
                                                              : SqliteFeedbackMigrations();
  if (auto s = shared::db::ApplyMigrations(*pool, "feedback", migrations); !s.ok()) return s;
  // Sequences of up to 10000 changes per transaction: a few MB of bodies.
  if (auto s = shared::db::ListBelowMarker(*pool, "feedback_meta", "follow_up_updates_from", 10000,
                                           ListOlderCaseUpdates);
      !s.ok()) {
    return s;
  }
  return std::shared_ptr<FeedbackRepository>(std::make_shared<SqlFeedbackRepository>(std::move(pool)));
}

}  // namespace cx::feedback
