#include "metrics-service/feed_applier.h"

#include <malloc.h>

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "shared/erasure.h"
#include "shared/log.h"

namespace cx::metrics {
namespace {

constexpr int kMaxMergeDepth = 1000;

// The root of each id's merges (itself when unknown or not merged).
absl::StatusOr<std::map<std::string, CustomerNode>> RootsOf(RollupTx& tx, const std::string& tenant,
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
  std::map<std::string, CustomerNode> out;
  for (const std::string& id : ids) {
    std::string at = id;
    for (int depth = 0; depth <= kMaxMergeDepth; ++depth) {
      auto it = known.find(at);
      if (it == known.end()) {
        out[id] = CustomerNode{at, "", ""};
        break;
      }
      if (it->second.parent.empty()) {
        out[id] = it->second;
        break;
      }
      at = it->second.parent;
    }
  }
  return out;
}

// The segment each id counts under: that of the customer at the root of its
// merges ("" when unknown).
absl::StatusOr<std::map<std::string, std::string>> SegmentsOf(RollupTx& tx, const std::string& tenant,
                                                             const std::vector<std::string>& ids) {
  auto roots = RootsOf(tx, tenant, ids);
  if (!roots.ok()) return roots.status();
  std::map<std::string, std::string> out;
  for (auto& [id, root] : *roots) out[id] = root.segment;
  return out;
}

bool IsAnonymous(const std::string& key) { return key.rfind(kAnonymousPrefix, 0) == 0; }

std::string KeyOf(const journey::v1::Identity& identity) {
  return identity.has_anonymous_id() ? absl::StrCat(kAnonymousPrefix, identity.anonymous_id())
                                     : identity.customer_id();
}

// Gives every customer whose health inputs changed in this batch (and the
// customer each is merged into) a new health version.
absl::Status Reversion(RollupTx& tx, BatchEffects* effects) {
  for (auto& [tenant, touched] : effects->touched) {
    std::vector<std::string> ids(touched.begin(), touched.end());
    auto roots = RootsOf(tx, tenant, ids);
    if (!roots.ok()) return roots.status();
    std::set<std::string> keys;
    for (const std::string& id : ids) {
      if (!IsAnonymous(id)) keys.insert(id);
      if (!IsAnonymous((*roots)[id].customer_id)) keys.insert((*roots)[id].customer_id);
    }
    if (keys.empty()) continue;
    auto first = tx.ReserveHealthVersions(static_cast<int64_t>(keys.size()));
    if (!first.ok()) return first.status();
    auto& versions = effects->versions[tenant];
    int64_t next = *first;
    for (const std::string& key : keys) versions.emplace_back(key, next++);
    if (auto s = tx.SetHealthVersions(tenant, versions); !s.ok()) return s;
  }
  return absl::OkStatus();
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
  fact.time_us = at.seconds() * 1000000 + at.nanos() / 1000;
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

JourneyEventRow EventRowOf(const std::string& tenant, int64_t sequence, const journey::v1::Event& e) {
  JourneyEventRow row;
  row.tenant = tenant;
  row.event_id = e.event_id();
  row.subject = e.customer_id().empty() ? absl::StrCat(kAnonymousPrefix, e.anonymous_id()) : e.customer_id();
  row.sequence = sequence;
  const auto& at = e.has_event_time() ? e.event_time() : e.has_occurred_at() ? e.occurred_at() : e.received_at();
  row.time_us = at.seconds() * 1000000 + at.nanos() / 1000;
  row.type = e.type();
  row.channel = static_cast<int>(e.channel());
  row.touchpoint = e.touchpoint_id();
  row.stage = static_cast<int>(e.resolved_stage() != common::v1::JOURNEY_STAGE_UNSPECIFIED ? e.resolved_stage()
                                                                                             : e.stage());
  if (e.has_revenue()) {
    row.currency = e.revenue().currency_code();
    row.amount_minor = e.revenue().amount_minor();
  }
  if (auto it = e.properties().find("ticket_id"); it != e.properties().end()) row.ticket_id = it->second;
  return row;
}

absl::Status FeedApplier::LoadJourneys(JourneyIndex& into, const std::optional<std::string>& tenant) {
  if (auto s = repository_->ForEachCustomer(
          tenant, [&](const std::string& t, CustomerNode&& node) { into.PutNode(t, node); });
      !s.ok()) {
    return s;
  }
  std::vector<JourneyEventRow> events;
  auto loaded = repository_->ForEachEvent(tenant, [&](JourneyEventRow&& e) {
    events.push_back(std::move(e));
    if (events.size() >= 100000) {
      into.AddEvents(events);
      events.clear();
    }
  });
  if (!loaded.ok()) return loaded;
  into.AddEvents(events);
  if (auto s = repository_->ForEachFact(tenant, [&](Fact&& f) { into.AddFeedback(f); }); !s.ok()) return s;
  return repository_->ForEachFollowUp(tenant, [&](FollowUpRow&& r) {
    if (r.open) into.AddOpenFollowUps(r.tenant, r.customer_id, 1);
  });
}

absl::Status FeedApplier::Load() {
  if (auto s = LoadJourneys(*journeys_, std::nullopt); !s.ok()) return s;
  journeys_->ShrinkToFit();
  // Small batches: the index's merge buffers are transient, and at a rebuild
  // of millions of cells large ones would leave the heap fragmented.
  std::vector<CellDelta> cells;
  auto s = repository_->ForEachCell([&](CellDelta&& d) {
    cells.push_back(std::move(d));
    if (cells.size() >= 10000) {
      index_->Apply(cells);
      cells.clear();
    }
  });
  if (!s.ok()) return s;
  index_->Apply(cells);
  cells = {};
  index_->Compact();
  // The rebuild's transient buffers are freed; give their pages back to the
  // system (glibc keeps freed heap memory otherwise).
  malloc_trim(0);
  return absl::OkStatus();
}

absl::Status FeedApplier::Commit(const std::string& feed, int64_t after, int64_t next,
                                 const std::function<absl::Status(RollupTx&, BatchEffects*)>& body,
                                 std::vector<std::string> tenants) {
  std::lock_guard<std::mutex> lock(write_mu_);
  BatchEffects effects;
  auto s = repository_->Apply(feed, after, next, [&](RollupTx& tx) {
    effects = BatchEffects();  // a retried body starts afresh
    if (auto st = body(tx, &effects); !st.ok()) return st;
    if (auto st = Reversion(tx, &effects); !st.ok()) return st;
    return effects.cells.empty() ? absl::OkStatus() : tx.AddCells(effects.cells);
  });
  if (!s.ok()) return s;
  index_->Apply(effects.cells);
  for (const auto& [tenant, node] : effects.nodes) journeys_->PutNode(tenant, node);
  journeys_->AddEvents(effects.events);
  for (const Fact& f : effects.facts) journeys_->AddFeedback(f);
  for (const auto& [tenant, customer, delta] : effects.open_follow_ups) journeys_->AddOpenFollowUps(tenant, customer, delta);
  for (const auto& [tenant, versions] : effects.versions) journeys_->SetVersions(tenant, versions);
  if (!effects.reload.empty()) {
    if (auto st = repository_->ScrubDeleted(); !st.ok()) {
      shared::LogWarning("scrubbing the store after an erasure failed", {{"error", st.ToString()}});
    }
  }
  for (const std::string& tenant : effects.reload) {
    JourneyIndex fresh;
    if (auto st = LoadJourneys(fresh, tenant); !st.ok()) {
      // Committed, but memory is behind the store until a restart rebuilds it.
      shared::LogError("journey index rebuild after an erasure failed", {{"error", st.ToString()}});
      return st;
    }
    fresh.ShrinkToFit();
    journeys_->ReplaceTenant(tenant, std::move(fresh));
  }
  std::sort(tenants.begin(), tenants.end());
  tenants.erase(std::unique(tenants.begin(), tenants.end()), tenants.end());
  if (on_applied_ && (!effects.cells.empty() || !effects.versions.empty() || !effects.reload.empty())) {
    on_applied_(tenants);
  }
  return absl::OkStatus();
}

absl::Status FeedApplier::ApplyFeedback(int64_t after, const std::vector<feedback::v1::FeedbackChange>& changes) {
  if (changes.empty()) return absl::OkStatus();
  std::map<std::string, std::vector<Fact>> by_tenant;
  std::map<std::string, std::vector<const feedback::v1::FollowUp*>> cases;  // by tenant, in feed order
  std::vector<std::string> tenants;
  std::vector<std::pair<std::string, const feedback::v1::CustomerErased*>> erasures;  // in feed order
  for (const auto& change : changes) {
    if (change.change_case() == feedback::v1::FeedbackChange::kCustomerErased) {
      erasures.emplace_back(change.tenant(), &change.customer_erased());
      tenants.push_back(change.tenant());
      continue;
    }
    if (change.change_case() == feedback::v1::FeedbackChange::kFollowUpChanged) {
      cases[change.tenant()].push_back(&change.follow_up_changed());
      tenants.push_back(change.tenant());
      continue;
    }
    if (change.change_case() != feedback::v1::FeedbackChange::kFeedbackCreated) continue;
    if (auto fact = FactOf(change.tenant(), change.feedback_created())) {
      by_tenant[change.tenant()].push_back(*fact);
      tenants.push_back(change.tenant());
    }
  }
  std::sort(tenants.begin(), tenants.end());
  tenants.erase(std::unique(tenants.begin(), tenants.end()), tenants.end());
  return Commit(
      kFeedbackFeed, after, changes.back().sequence(),
      [&](RollupTx& tx, BatchEffects* effects) -> absl::Status {
        for (auto& [tenant, facts] : by_tenant) {
          std::vector<std::string> ids;
          for (const Fact& f : facts) ids.push_back(f.customer_id);
          std::sort(ids.begin(), ids.end());
          ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
          auto segments = SegmentsOf(tx, tenant, ids);
          if (!segments.ok()) return segments.status();
          for (Fact& f : facts) {
            f.key[kSegment] = (*segments)[f.customer_id];
            AppendCells(f, +1, &effects->cells);
            effects->facts.push_back(f);
            effects->touched[tenant].insert(f.customer_id);
          }
          if (auto s = tx.InsertFacts(facts); !s.ok()) return s;
        }
        for (const auto& [tenant, list] : cases) {
          if (auto s = ApplyFollowUps(tx, tenant, list, effects); !s.ok()) return s;
        }
        // A tombstone names only records of earlier batches: a feed read
        // after the erasure shows the erased records as `redacted`.
        for (const auto& [tenant, erased] : erasures) {
          if (auto s = EraseFeedback(tx, tenant, *erased, effects); !s.ok()) return s;
        }
        return absl::OkStatus();
      },
      tenants);
}

absl::Status FeedApplier::ApplyFollowUps(RollupTx& tx, const std::string& tenant,
                                         const std::vector<const feedback::v1::FollowUp*>& list,
                                         BatchEffects* effects) {
  std::vector<std::string> names;
  for (const auto* f : list) names.push_back(f->name());
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  auto stored = tx.FollowUpsOf(tenant, names);
  if (!stored.ok()) return stored.status();
  std::map<std::string, FollowUpRow> latest = *std::move(stored);
  std::map<std::string, int> delta;  // by customer
  for (const auto* f : list) {
    FollowUpRow row{tenant, f->name(), f->customer_id(), f->status() != feedback::v1::FOLLOW_UP_STATUS_RESOLVED};
    auto it = latest.find(row.follow_up);
    if (it != latest.end() && it->second.open) --delta[it->second.customer_id];
    if (row.open) ++delta[row.customer_id];
    latest[row.follow_up] = row;
  }
  std::vector<FollowUpRow> rows;
  for (const auto& name : names) rows.push_back(latest[name]);
  if (auto s = tx.PutFollowUps(rows); !s.ok()) return s;
  for (const auto& [customer, d] : delta) {
    if (d == 0) continue;
    effects->open_follow_ups.emplace_back(tenant, customer, d);
    effects->touched[tenant].insert(customer);
  }
  return absl::OkStatus();
}

absl::Status FeedApplier::EraseFeedback(RollupTx& tx, const std::string& tenant,
                                        const feedback::v1::CustomerErased& erased, BatchEffects* effects) {
  std::vector<std::string> ids;
  for (const std::string& name : erased.feedback()) ids.emplace_back(absl::StripPrefix(name, "feedback/"));
  auto facts = tx.FactsById(tenant, ids);
  if (!facts.ok()) return facts.status();
  for (const Fact& f : *facts) AppendCells(f, -1, &effects->cells);
  if (auto s = tx.DeleteFacts(tenant, ids); !s.ok()) return s;
  std::vector<std::string> cases(erased.follow_ups().begin(), erased.follow_ups().end());
  if (auto s = tx.DeleteFollowUps(tenant, cases); !s.ok()) return s;
  effects->reload.insert(tenant);
  return absl::OkStatus();
}

absl::Status FeedApplier::EraseIdentities(RollupTx& tx, const std::string& tenant, const common::v1::Erasure& erasure,
                                          BatchEffects* effects) {
  std::set<std::string> digests(erasure.related_digests().begin(), erasure.related_digests().end());
  digests.insert(erasure.customer_digest());
  // The tombstone names identities by digest only: find ours among the
  // tenant's identities (rare, so a pass over them is fine).
  std::vector<std::string> keys;
  journeys_->Read(tenant, [&](const TenantJourneys& t) {
    for (size_t i = 0; i < t.nodes.size(); ++i) {
      const std::string key(t.KeyOf(static_cast<int>(i)));
      const std::string digest =
          t.nodes[i].anonymous ? shared::AnonymousDigest(tenant, absl::StripPrefix(key, kAnonymousPrefix))
                               : shared::CustomerDigest(tenant, key);
      if (digests.count(digest)) keys.push_back(key);
    }
  });
  if (keys.empty()) return absl::OkStatus();
  if (auto s = tx.DeleteIdentities(tenant, keys); !s.ok()) return s;
  // Their feedback (erased through the feedback feed) counts without a
  // segment until then.
  for (const std::string& key : keys) {
    if (IsAnonymous(key)) continue;
    if (auto s = Reassign(tx, tenant, key, &effects->cells); !s.ok()) return s;
  }
  effects->reload.insert(tenant);
  return absl::OkStatus();
}

absl::Status FeedApplier::ApplyJourney(int64_t after, const std::vector<journey::v1::JourneyChange>& changes) {
  if (changes.empty()) return absl::OkStatus();
  std::vector<std::string> tenants;
  for (const auto& change : changes) tenants.push_back(change.tenant());
  return Commit(
      kJourneyFeed, after, changes.back().sequence(),
      [&](RollupTx& tx, BatchEffects* effects) -> absl::Status {
        std::map<std::string, std::vector<JourneyEventRow>> events;  // by tenant
        for (const auto& change : changes) {
          const std::string& tenant = change.tenant();
          std::string id;
          std::function<void(CustomerNode&)> edit;
          switch (change.change_case()) {
            case journey::v1::JourneyChange::kEventRecorded: {
              JourneyEventRow row = EventRowOf(tenant, change.sequence(), change.event_recorded());
              effects->touched[tenant].insert(row.subject);
              events[tenant].push_back(std::move(row));
              break;
            }
            case journey::v1::JourneyChange::kCustomerUpserted:
              id = change.customer_upserted().customer_id();
              edit = [&](CustomerNode& n) { n.segment = change.customer_upserted().traits().segment(); };
              break;
            case journey::v1::JourneyChange::kCustomersMerged:
              id = KeyOf(change.customers_merged().source());
              edit = [&](CustomerNode& n) { n.parent = change.customers_merged().target_customer_id(); };
              effects->touched[tenant].insert(change.customers_merged().target_customer_id());
              break;
            case journey::v1::JourneyChange::kCustomerErased:
              if (auto s = EraseIdentities(tx, tenant, change.customer_erased(), effects); !s.ok()) return s;
              break;
            case journey::v1::JourneyChange::kCustomersUnmerged:
              id = KeyOf(change.customers_unmerged().source());
              edit = [](CustomerNode& n) { n.parent.clear(); };
              // The customer it was merged into, before the change.
              if (auto roots = RootsOf(tx, tenant, {change.customers_unmerged().target_customer_id()}); roots.ok()) {
                effects->touched[tenant].insert(roots->begin()->second.customer_id);
              } else {
                return roots.status();
              }
              break;
            default:
              break;
          }
          if (id.empty()) continue;
          effects->touched[tenant].insert(id);
          auto nodes = tx.Customers(tenant, {id});
          if (!nodes.ok()) return nodes.status();
          CustomerNode node = nodes->count(id) ? (*nodes)[id] : CustomerNode{id, "", ""};
          const CustomerNode before = node;
          edit(node);
          if (nodes->count(id) && node.segment == before.segment && node.parent == before.parent) continue;
          if (auto s = tx.PutCustomer(tenant, node); !s.ok()) return s;
          effects->nodes.emplace_back(tenant, node);
          if (auto s = Reassign(tx, tenant, id, &effects->cells); !s.ok()) return s;
        }
        // Each event once, even if the feed repeated one.
        for (auto& [tenant, rows] : events) {
          std::vector<std::string> ids;
          for (const auto& r : rows) ids.push_back(r.event_id);
          auto stored = tx.ExistingEvents(tenant, ids);
          if (!stored.ok()) return stored.status();
          std::vector<JourneyEventRow> fresh;
          for (auto& r : rows) {
            if (stored->insert(r.event_id).second) fresh.push_back(std::move(r));
          }
          if (auto s = tx.InsertEvents(fresh); !s.ok()) return s;
          for (auto& r : fresh) effects->events.push_back(std::move(r));
        }
        return absl::OkStatus();
      },
      tenants);
}

}  // namespace cx::metrics
