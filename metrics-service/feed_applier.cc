#include "metrics-service/feed_applier.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"

namespace cx::metrics {
namespace {

constexpr int kMaxMergeDepth = 1000;

// The segment each id counts under: that of the customer at the root of its
// merges ("" when unknown).
absl::StatusOr<std::map<std::string, std::string>> SegmentsOf(RollupTx& tx, const std::string& tenant,
                                                             const std::vector<std::string>& ids) {
  std::map<std::string, CustomerNode> known;
  std::vector<std::string> wanted = ids;
  for (int depth = 0; !wanted.empty(); ++depth) {
    if (depth > kMaxMergeDepth) return absl::InternalError("merge chain too deep");
    auto nodes = tx.Customers(tenant, wanted);
    if (!nodes.ok()) return nodes.status();
    wanted.clear();
    for (auto& [id, node] : *nodes) {
      if (!node.parent.empty() && !known.count(node.parent) && !nodes->count(node.parent)) {
        wanted.push_back(node.parent);
      }
      known[id] = std::move(node);
    }
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  }
  std::map<std::string, std::string> out;
  for (const std::string& id : ids) {
    std::string at = id;
    for (int depth = 0; depth <= kMaxMergeDepth; ++depth) {
      auto it = known.find(at);
      if (it == known.end()) {
        out[id] = "";
        break;
      }
      if (it->second.parent.empty()) {
        out[id] = it->second.segment;
        break;
      }
      at = it->second.parent;
    }
  }
  return out;
}

// Moves the facts of `id` and every identity merged into it (directly or
// not) to the segment they count under now.
absl::Status Reassign(RollupTx& tx, const std::string& tenant, const std::string& id, std::vector<CellDelta>* out) {
  auto segments = SegmentsOf(tx, tenant, {id});
  if (!segments.ok()) return segments.status();
  const std::string segment = (*segments)[id];
  std::vector<std::string> subtree{id};
  std::set<std::string> seen{id};
  for (std::vector<std::string> frontier{id}; !frontier.empty();) {
    auto children = tx.ChildrenOf(tenant, frontier);
    if (!children.ok()) return children.status();
    frontier.clear();
    for (std::string& child : *children) {
      if (seen.insert(child).second) {
        subtree.push_back(child);
        frontier.push_back(std::move(child));
      }
    }
  }
  auto facts = tx.FactsOf(tenant, subtree);
  if (!facts.ok()) return facts.status();
  std::vector<std::pair<std::string, std::string>> moved;
  for (Fact& f : *facts) {
    if (f.key[kSegment] == segment) continue;
    AppendCells(f, -1, out);
    f.key[kSegment] = segment;
    AppendCells(f, +1, out);
    moved.emplace_back(f.feedback_id, segment);
  }
  return moved.empty() ? absl::OkStatus() : tx.SetFactSegments(tenant, moved);
}

}  // namespace

std::optional<Fact> FactOf(const std::string& tenant, const feedback::v1::Feedback& f) {
  Metric metric;
  switch (f.kind()) {
    case feedback::v1::FEEDBACK_KIND_NPS: metric = Metric::kNps; break;
    case feedback::v1::FEEDBACK_KIND_CSAT: metric = Metric::kCsat; break;
    case feedback::v1::FEEDBACK_KIND_CES: metric = Metric::kCes; break;
    default: return std::nullopt;
  }
  if (!f.has_score()) return std::nullopt;
  Fact fact;
  fact.tenant = tenant;
  fact.feedback_id = f.id();
  fact.customer_id = f.customer_id();
  fact.metric = metric;
  fact.score = f.score();
  const auto& at = f.has_occurred_at() ? f.occurred_at() : f.received_at();
  fact.hour = at.seconds() >= 0 ? at.seconds() / 3600 : -((-at.seconds() + 3599) / 3600);
  fact.key[kChannel] = std::to_string(static_cast<int>(f.channel()));
  fact.key[kSource] = std::to_string(static_cast<int>(f.source()));
  fact.key[kTouchpoint] = f.touchpoint_id();
  fact.key[kStage] = std::to_string(static_cast<int>(f.journey_stage()));
  fact.tags.assign(f.tags().begin(), f.tags().end());
  std::sort(fact.tags.begin(), fact.tags.end());
  fact.tags.erase(std::unique(fact.tags.begin(), fact.tags.end()), fact.tags.end());
  return fact;
}

void AppendCells(const Fact& fact, int sign, std::vector<CellDelta>* out) {
  Counts c = CountsOf(fact.metric, fact.score);
  if (sign < 0) {
    Counts zero;
    zero -= c;
    c = zero;
  }
  CellDelta d{fact.tenant, fact.metric, fact.hour, fact.key, c};
  d.key[kTag].clear();
  out->push_back(d);
  for (const std::string& tag : fact.tags) {
    d.key[kTag] = tag;
    out->push_back(d);
  }
}

absl::Status FeedApplier::Load() {
  std::vector<CellDelta> cells;
  auto s = repository_->ForEachCell([&](CellDelta&& d) {
    cells.push_back(std::move(d));
    if (cells.size() >= 100000) {
      index_->Apply(cells);
      cells.clear();
    }
  });
  if (!s.ok()) return s;
  index_->Apply(cells);
  return absl::OkStatus();
}

absl::Status FeedApplier::Commit(const std::string& feed, int64_t after, int64_t next,
                                 const std::function<absl::Status(RollupTx&, std::vector<CellDelta>*)>& body,
                                 std::vector<std::string> tenants) {
  std::lock_guard<std::mutex> lock(write_mu_);
  std::vector<CellDelta> deltas;
  auto s = repository_->Apply(feed, after, next, [&](RollupTx& tx) {
    deltas.clear();  // a retried body starts afresh
    if (auto st = body(tx, &deltas); !st.ok()) return st;
    return deltas.empty() ? absl::OkStatus() : tx.AddCells(deltas);
  });
  if (!s.ok()) return s;
  index_->Apply(deltas);
  std::sort(tenants.begin(), tenants.end());
  tenants.erase(std::unique(tenants.begin(), tenants.end()), tenants.end());
  if (on_applied_ && !deltas.empty()) on_applied_(tenants);
  return absl::OkStatus();
}

absl::Status FeedApplier::ApplyFeedback(int64_t after, const std::vector<feedback::v1::FeedbackChange>& changes) {
  if (changes.empty()) return absl::OkStatus();
  std::map<std::string, std::vector<Fact>> by_tenant;
  for (const auto& change : changes) {
    if (change.change_case() != feedback::v1::FeedbackChange::kFeedbackCreated) continue;
    if (auto fact = FactOf(change.tenant(), change.feedback_created())) by_tenant[change.tenant()].push_back(*fact);
  }
  std::vector<std::string> tenants;
  for (const auto& [tenant, facts] : by_tenant) tenants.push_back(tenant);
  return Commit(
      kFeedbackFeed, after, changes.back().sequence(),
      [&](RollupTx& tx, std::vector<CellDelta>* out) -> absl::Status {
        for (auto& [tenant, facts] : by_tenant) {
          std::vector<std::string> ids;
          for (const Fact& f : facts) ids.push_back(f.customer_id);
          std::sort(ids.begin(), ids.end());
          ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
          auto segments = SegmentsOf(tx, tenant, ids);
          if (!segments.ok()) return segments.status();
          for (Fact& f : facts) {
            f.key[kSegment] = (*segments)[f.customer_id];
            AppendCells(f, +1, out);
          }
          if (auto s = tx.InsertFacts(facts); !s.ok()) return s;
        }
        return absl::OkStatus();
      },
      tenants);
}

absl::Status FeedApplier::ApplyJourney(int64_t after, const std::vector<journey::v1::JourneyChange>& changes) {
  if (changes.empty()) return absl::OkStatus();
  std::vector<std::string> tenants;
  for (const auto& change : changes) tenants.push_back(change.tenant());
  return Commit(
      kJourneyFeed, after, changes.back().sequence(),
      [&](RollupTx& tx, std::vector<CellDelta>* out) -> absl::Status {
        for (const auto& change : changes) {
          const std::string& tenant = change.tenant();
          std::string id;
          std::function<void(CustomerNode&)> edit;
          switch (change.change_case()) {
            case journey::v1::JourneyChange::kCustomerUpserted:
              id = change.customer_upserted().customer_id();
              edit = [&](CustomerNode& n) { n.segment = change.customer_upserted().traits().segment(); };
              break;
            case journey::v1::JourneyChange::kCustomersMerged:
              id = change.customers_merged().source().customer_id();  // anonymous ids give no feedback
              edit = [&](CustomerNode& n) { n.parent = change.customers_merged().target_customer_id(); };
              break;
            case journey::v1::JourneyChange::kCustomersUnmerged:
              id = change.customers_unmerged().source().customer_id();
              edit = [](CustomerNode& n) { n.parent.clear(); };
              break;
            default:
              break;  // events are for the journey metrics
          }
          if (id.empty()) continue;
          auto nodes = tx.Customers(tenant, {id});
          if (!nodes.ok()) return nodes.status();
          CustomerNode node = nodes->count(id) ? (*nodes)[id] : CustomerNode{id, "", ""};
          const CustomerNode before = node;
          edit(node);
          if (nodes->count(id) && node.segment == before.segment && node.parent == before.parent) continue;
          if (auto s = tx.PutCustomer(tenant, node); !s.ok()) return s;
          if (auto s = Reassign(tx, tenant, id, out); !s.ok()) return s;
        }
        return absl::OkStatus();
      },
      tenants);
}

}  // namespace cx::metrics
