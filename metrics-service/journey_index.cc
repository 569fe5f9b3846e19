#include "metrics-service/journey_index.h"

#include <algorithm>
#include <mutex>

#include "absl/strings/numbers.h"
#include "metrics-service/varint.h"

namespace cx::metrics {

namespace {

uint64_t FeedOrderOf(const std::string& feedback_id) {
  uint64_t order = 0;
  return absl::SimpleAtoi(feedback_id, &order) ? order : 0;
}

}  // namespace

void FeedbackSummary::Add(const Fact& f) {
  any = true;
  last_time_us = std::max(last_time_us, f.time_us);
  switch (f.metric) {
    case Metric::kNps:
      if (const uint64_t order = FeedOrderOf(f.feedback_id);
          !has_nps || f.time_us > nps_time_us || (f.time_us == nps_time_us && order > nps_order)) {
        has_nps = true;
        nps_time_us = f.time_us;
        nps_order = order;
        nps_score = f.score;
      }
      break;
    case Metric::kCsat:
      ++csat_n;
      csat_sum += f.score;
      break;
    case Metric::kCes:
      ++ces_n;
      ces_sum += f.score;
      break;
  }
}

void FeedbackSummary::Merge(const FeedbackSummary& o) {
  if (!o.any) return;
  any = true;
  last_time_us = std::max(last_time_us, o.last_time_us);
  if (o.has_nps && (!has_nps || o.nps_time_us > nps_time_us ||
                    (o.nps_time_us == nps_time_us && o.nps_order > nps_order))) {
    has_nps = true;
    nps_time_us = o.nps_time_us;
    nps_order = o.nps_order;
    nps_score = o.nps_score;
  }
  csat_n += o.csat_n;
  csat_sum += o.csat_sum;
  ces_n += o.ces_n;
  ces_sum += o.ces_sum;
}

void EventList::Append(const Ev& e) {
  Header h = bytes_.empty() ? Header{0, 0, 0} : Head();
  const bool extras = e.ticket != 0 || e.currency != 0 || e.amount_minor != 0;
  uint8_t code[8 * 10];  // at most eight varints
  uint8_t* end = code;
  end = PutVarint(Zigzag(e.time_us - h.last_time_us), end);
  end = PutVarint(Zigzag(e.sequence - h.last_sequence), end);
  end = PutVarint(e.type, end);
  end = PutVarint(e.touchpoint, end);
  end = PutVarint(static_cast<uint64_t>(e.channel) << 4 | static_cast<uint64_t>(e.stage & 7) << 1 | (extras ? 1 : 0),
                  end);
  if (extras) {
    end = PutVarint(e.ticket, end);
    end = PutVarint(e.currency, end);
    end = PutVarint(Zigzag(e.amount_minor), end);
  }
  h.last_time_us = e.time_us;
  h.last_sequence = e.sequence;
  ++h.count;
  if (bytes_.empty()) {
    const auto* head = reinterpret_cast<const uint8_t*>(&h);
    bytes_.append(head, head + sizeof h);
  } else {
    std::memcpy(bytes_.begin(), &h, sizeof h);
  }
  bytes_.append(code, end);
}

void EventList::Insert(const Ev& e) {
  if (!bytes_.empty()) {
    const Header h = Head();
    Ev last;
    last.time_us = h.last_time_us;
    last.sequence = h.last_sequence;
    if (EventBefore(e, last)) {  // a late event
      std::vector<Ev> all;
      all.reserve(h.count + 1);
      DecodeTo(&all);
      all.insert(std::upper_bound(all.begin(), all.end(), e, EventBefore), e);
      *this = EventList();
      for (const Ev& each : all) Append(each);
      return;
    }
  }
  Append(e);
}

void EventList::DecodeTo(std::vector<Ev>* out) const {
  if (bytes_.empty()) return;
  const uint32_t count = Head().count;
  const uint8_t* p = bytes_.data() + sizeof(Header);
  int64_t time_us = 0, sequence = 0;
  for (uint32_t i = 0; i < count; ++i) {
    Ev e;
    time_us += Unzigzag(GetVarint(p));
    sequence += Unzigzag(GetVarint(p));
    e.time_us = time_us;
    e.sequence = sequence;
    e.type = static_cast<uint32_t>(GetVarint(p));
    e.touchpoint = static_cast<uint32_t>(GetVarint(p));
    const uint64_t bits = GetVarint(p);
    e.channel = static_cast<uint8_t>(bits >> 4);
    e.stage = static_cast<uint8_t>(bits >> 1 & 7);
    if (bits & 1) {
      e.ticket = static_cast<uint32_t>(GetVarint(p));
      e.currency = static_cast<uint16_t>(GetVarint(p));
      e.amount_minor = Unzigzag(GetVarint(p));
    }
    out->push_back(e);
  }
}

TicketKind TicketKindOf(const std::string& type) {
  if (type == "support_ticket_opened") return kTicketOpened;
  if (type == "support_ticket_contact") return kTicketContact;
  if (type == "support_ticket_resolved") return kTicketResolved;
  if (type == "support_ticket_reopened") return kTicketReopened;
  return kTicketOther;
}

int TenantJourneys::Root(int node) const {
  // Merges form a forest (a merged customer cannot be a merge target), so
  // this ends; the bound guards against a corrupt store.
  for (int depth = 0; depth < 1000 && nodes[node].parent >= 0; ++depth) node = nodes[node].parent;
  return node;
}

void TenantJourneys::Subtree(int node, std::vector<int>* out) const {
  out->clear();
  out->push_back(node);
  for (size_t i = 0; i < out->size() && i < 100000; ++i) {
    auto it = children.find((*out)[i]);
    if (it == children.end()) continue;
    for (int child : it->second) out->push_back(child);
  }
}

std::pair<const Ev*, const Ev*> TenantJourneys::Timeline(int root, std::vector<Ev>* scratch) const {
  scratch->clear();
  if (children.count(root) == 0) {
    nodes[root].events.DecodeTo(scratch);
    return {scratch->data(), scratch->data() + scratch->size()};
  }
  std::vector<int> members;
  Subtree(root, &members);
  for (int m : members) nodes[m].events.DecodeTo(scratch);
  std::sort(scratch->begin(), scratch->end(), EventBefore);
  return {scratch->data(), scratch->data() + scratch->size()};
}

std::vector<int> TenantJourneys::RootsOf(const std::vector<int>& members) const {
  std::vector<int> roots;
  roots.reserve(members.size());
  for (int m : members) roots.push_back(Root(m));
  std::sort(roots.begin(), roots.end());
  roots.erase(std::unique(roots.begin(), roots.end()), roots.end());
  return roots;
}

std::vector<int> TenantJourneys::Roots() const {
  std::vector<int> roots;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].parent < 0) roots.push_back(static_cast<int>(i));
  }
  return roots;
}

TenantJourneys& JourneyIndex::Tenant(const std::string& tenant) {
  auto& t = tenants_[tenant];
  if (!t) t = std::make_unique<TenantJourneys>();
  return *t;
}

int JourneyIndex::NodeOf(TenantJourneys& t, const std::string& key) {
  if (const int found = t.Find(key); found >= 0) return found;
  IdentityNode n;
  n.key_offset = static_cast<uint32_t>(t.key_chars.size());
  n.key_size = static_cast<uint32_t>(key.size());
  t.key_chars.append(key);
  n.anonymous = key.rfind(kAnonymousPrefix, 0) == 0;
  t.nodes.push_back(std::move(n));
  t.by_key.Insert(static_cast<uint32_t>(t.nodes.size() - 1));
  return static_cast<int>(t.nodes.size() - 1);
}

void JourneyIndex::AddEvents(const std::vector<JourneyEventRow>& events) {
  std::unique_lock lock(mu_);
  for (const JourneyEventRow& row : events) {
    TenantJourneys& t = Tenant(row.tenant);
    const int id = NodeOf(t, row.subject);
    Ev e;
    e.time_us = row.time_us;
    e.sequence = row.sequence;
    e.amount_minor = row.amount_minor;
    e.type = t.types.Intern(row.type);
    e.touchpoint = t.touchpoints.Intern(row.touchpoint);
    e.ticket = row.ticket_id.empty() ? 0 : t.ticket_ids.Intern(row.ticket_id);
    e.currency = static_cast<uint16_t>(t.currencies.Intern(row.currency));
    e.channel = static_cast<uint8_t>(row.channel);
    e.stage = static_cast<uint8_t>(row.stage & 7);
    IdentityNode& n = t.nodes[id];
    n.events.Insert(e);
    auto type_at = std::lower_bound(n.types.begin(), n.types.end(), e.type);
    if (type_at == n.types.end() || *type_at != e.type) {
      n.types.insert(type_at, e.type);
      if (t.by_type.size() <= e.type) t.by_type.resize(e.type + 1);
      t.by_type[e.type].push_back(id);
    }
    if (!(n.stages & (1u << e.stage))) {
      n.stages |= static_cast<uint8_t>(1u << e.stage);
      t.by_stage[e.stage].push_back(id);
    }
    if (e.ticket != 0) {
      auto& ticket = t.tickets[e.ticket];
      const TicketEvent te{e.time_us, e.sequence, TicketKindOf(row.type), e.channel, e.touchpoint, id};
      ticket.insert(std::upper_bound(ticket.begin(), ticket.end(), te,
                                     [](const TicketEvent& a, const TicketEvent& b) {
                                       return a.time_us != b.time_us ? a.time_us < b.time_us : a.sequence < b.sequence;
                                     }),
                    te);
    }
    ++events_;
  }
}

void JourneyIndex::PutNode(const std::string& tenant, const CustomerNode& node) {
  std::unique_lock lock(mu_);
  TenantJourneys& t = Tenant(tenant);
  const int id = NodeOf(t, node.customer_id);
  const int parent = node.parent.empty() ? -1 : NodeOf(t, node.parent);
  IdentityNode& n = t.nodes[id];
  n.segment = t.segments.Intern(node.segment);
  if (n.parent != parent) {
    if (n.parent >= 0) {
      auto& siblings = t.children[n.parent];
      siblings.erase(std::remove(siblings.begin(), siblings.end(), id), siblings.end());
      if (siblings.empty()) t.children.erase(n.parent);
    }
    n.parent = parent;
    if (parent >= 0) t.children[parent].push_back(id);
  }
  if (node.health_version != 0 && node.health_version != n.version && !n.anonymous) {
    t.by_version.erase({n.version, id});
    n.version = node.health_version;
    t.by_version.insert({n.version, id});
  }
}

void JourneyIndex::AddFeedback(const Fact& fact) {
  std::unique_lock lock(mu_);
  TenantJourneys& t = Tenant(fact.tenant);
  t.nodes[NodeOf(t, fact.customer_id)].feedback.Add(fact);
}

void JourneyIndex::AddOpenFollowUps(const std::string& tenant, const std::string& customer_id, int delta) {
  std::unique_lock lock(mu_);
  TenantJourneys& t = Tenant(tenant);
  t.nodes[NodeOf(t, customer_id)].open_follow_ups += delta;
}

void JourneyIndex::ShrinkToFit() {
  std::unique_lock lock(mu_);
  for (auto& [name, t] : tenants_) {
    t->nodes.shrink_to_fit();
    t->key_chars.shrink_to_fit();
    for (IdentityNode& n : t->nodes) {
      n.events.ShrinkToFit();
      n.types.shrink_to_fit();
    }
    for (auto& ids : t->by_type) ids.shrink_to_fit();
    for (auto& ids : t->by_stage) ids.shrink_to_fit();
  }
}

void JourneyIndex::SetVersions(const std::string& tenant,
                               const std::vector<std::pair<std::string, int64_t>>& versions) {
  std::unique_lock lock(mu_);
  TenantJourneys& t = Tenant(tenant);
  for (const auto& [key, version] : versions) {
    const int id = NodeOf(t, key);
    IdentityNode& n = t.nodes[id];
    if (n.anonymous) continue;
    t.by_version.erase({n.version, id});
    n.version = version;
    t.by_version.insert({version, id});
  }
}

void JourneyIndex::Read(const std::string& tenant, const std::function<void(const TenantJourneys&)>& fn) const {
  std::shared_lock lock(mu_);
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) {
    static const TenantJourneys kEmpty;
    fn(kEmpty);
    return;
  }
  fn(*it->second);
}

void JourneyIndex::ReplaceTenant(const std::string& tenant, JourneyIndex&& fresh) {
  auto count = [](const TenantJourneys& t) {
    int64_t n = 0;
    for (const IdentityNode& node : t.nodes) n += static_cast<int64_t>(node.events.size());
    return n;
  };
  std::unique_lock lock(mu_);
  if (auto it = tenants_.find(tenant); it != tenants_.end()) {
    events_ -= count(*it->second);
    tenants_.erase(it);
  }
  if (auto it = fresh.tenants_.find(tenant); it != fresh.tenants_.end()) {
    events_ += count(*it->second);
    tenants_[tenant] = std::move(it->second);
  }
}

int64_t JourneyIndex::events() const {
  std::shared_lock lock(mu_);
  return events_;
}

}  // namespace cx::metrics
