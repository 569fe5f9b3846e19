// The in-memory state the journey metrics are answered from: per tenant,
// every identity (customer or anonymous visitor) with its merge parent,
// segment, sorted event timeline and feedback summary, plus posting lists
// (which identities did an event type), support tickets and the health
// versions. It is rebuilt from the repository at start and then changed
// only after the feed applier's transaction commits, so it always equals
// the stored state.
#ifndef CX_METRICS_JOURNEY_INDEX_H_
#define CX_METRICS_JOURNEY_INDEX_H_

#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/container/btree_set.h"
#include "metrics-service/compact_vector.h"
#include "metrics-service/dictionary.h"
#include "metrics-service/metrics_repository.h"
#include "metrics-service/position_index.h"

namespace cx::metrics {

// One event, decoded (40 bytes; stored in an EventList in about 12).
struct Ev {
  int64_t time_us = 0;
  int64_t sequence = 0;
  int64_t amount_minor = 0;
  uint32_t type = 0;
  uint32_t touchpoint = 0;
  uint32_t ticket = 0;  // Dictionary id of the ticket id; 0: none
  uint16_t currency = 0;
  uint8_t channel = 0;
  uint8_t stage = 0;
};

inline bool EventBefore(const Ev& a, const Ev& b) {
  return a.time_us != b.time_us ? a.time_us < b.time_us : a.sequence < b.sequence;
}

// One identity's events, sorted by EventBefore, as varints: each event's time
// and feed sequence as zigzag differences from the previous event's (from 0
// for the first), then its type and touchpoint ids, then channel << 4 |
// stage << 1 | extras, then only when extras is 1 the ticket id, currency id
// and zigzag amount. An event takes about 12 bytes instead of 40; readers
// decode a timeline into a scratch vector.
class EventList {
 public:
  size_t size() const { return bytes_.empty() ? 0 : Head().count; }
  bool empty() const { return size() == 0; }
  // Inserts in order: appends when `e` sorts last (events mostly arrive in
  // time order), else decodes, inserts and encodes again.
  void Insert(const Ev& e);
  // Appends the events, in order, to *out.
  void DecodeTo(std::vector<Ev>* out) const;
  void ShrinkToFit() { bytes_.shrink_to_fit(); }
  // Bytes held, the header included.
  size_t bytes() const { return bytes_.size(); }

 private:
  // At the start of the bytes, so an identity without events pays only for
  // the 16-byte vector.
  struct Header {
    int64_t last_time_us;  // of the last event: the base of the next
    int64_t last_sequence;
    uint32_t count;
  };
  Header Head() const {
    Header h;
    std::memcpy(&h, bytes_.data(), sizeof h);
    return h;
  }
  void Append(const Ev& e);

  CompactVector<uint8_t> bytes_;  // the header, then the events
};

// What one identity's scored feedback adds up to.
// (Fields ordered by size: one per identity, in memory.)
struct FeedbackSummary {
  int64_t nps_time_us = 0;
  // Ties of time: the answer later in the feed is the latest. Feedback ids
  // are their feed sequences in decimal; this is that number.
  uint64_t nps_order = 0;
  int64_t last_time_us = 0;
  uint32_t csat_n = 0, csat_sum = 0, ces_n = 0, ces_sum = 0;  // of one identity: far below 2^32
  int nps_score = 0;
  bool has_nps = false;
  bool any = false;
  void Add(const Fact& f);
  void Merge(const FeedbackSummary& o);
};

// (Fields ordered by size: one per identity, in memory.)
struct IdentityNode {
  FeedbackSummary feedback;
  EventList events;
  CompactVector<uint32_t> types;  // sorted distinct event types
  int64_t version = 0;
  // The key (customer id, or kAnonymousPrefix + anonymous id) in
  // TenantJourneys::key_chars: TenantJourneys::KeyOf.
  uint32_t key_offset = 0, key_size = 0;
  int parent = -1;
  uint32_t segment = 0;     // id in TenantJourneys::segments
  int open_follow_ups = 0;  // follow-up cases of this identity not yet resolved
  uint8_t stages = 0;       // bit s: has an event of stage s
  bool anonymous = false;
};

// A support ticket's event, kept sorted by (time, sequence) per ticket.
struct TicketEvent {
  int64_t time_us = 0;
  int64_t sequence = 0;
  int kind = 0;  // TicketKind
  uint8_t channel = 0;
  uint32_t touchpoint = 0;
  int node = -1;  // the identity it was recorded for
};
enum TicketKind { kTicketOther = 0, kTicketOpened, kTicketContact, kTicketResolved, kTicketReopened };
TicketKind TicketKindOf(const std::string& type);

struct TenantJourneys {
  TenantJourneys() = default;
  TenantJourneys(const TenantJourneys&) = delete;  // by_key refers to nodes
  TenantJourneys& operator=(const TenantJourneys&) = delete;

  Dictionary types, touchpoints, currencies, ticket_ids, segments;
  std::vector<IdentityNode> nodes;
  std::string key_chars;  // every node's key, one after another
  // Identities merged into a node, by node (few nodes have any).
  std::unordered_map<int, std::vector<int>> children;
  struct NodeKey {
    const TenantJourneys* t;
    std::string_view operator()(uint32_t i) const { return t->KeyOf(static_cast<int>(i)); }
  };
  PositionIndex<std::string_view, NodeKey> by_key{NodeKey{this}};  // key -> node
  std::vector<std::vector<int>> by_type;  // type id -> identities with such events
  std::vector<int> by_stage[8];           // stage -> identities with such events
  std::map<uint32_t, std::vector<TicketEvent>> tickets;  // ticket id -> sorted events
  absl::btree_set<std::pair<int64_t, int>> by_version;   // customers (not anonymous)

  int Find(const std::string& key) const {
    auto node = by_key.Find(key);
    return node ? static_cast<int>(*node) : -1;
  }
  std::string_view KeyOf(int node) const {
    return std::string_view(key_chars).substr(nodes[node].key_offset, nodes[node].key_size);
  }
  int Root(int node) const;
  const std::string& SegmentOf(int node) const { return segments.Name(nodes[node].segment); }
  // The node and every identity merged into it, directly or not.
  void Subtree(int node, std::vector<int>* out) const;
  // The events of a root and its subtree, sorted, decoded into `scratch`.
  std::pair<const Ev*, const Ev*> Timeline(int root, std::vector<Ev>* scratch) const;
  // Roots of every identity in `nodes`, each once, ascending.
  std::vector<int> RootsOf(const std::vector<int>& nodes) const;
  std::vector<int> Roots() const;
};

class JourneyIndex {
 public:
  // Adds events (each id once: the applier skips stored ones).
  void AddEvents(const std::vector<JourneyEventRow>& events);
  // Sets an identity's segment and merge parent ("" for none).
  void PutNode(const std::string& tenant, const CustomerNode& node);
  void AddFeedback(const Fact& fact);
  void AddOpenFollowUps(const std::string& tenant, const std::string& customer_id, int delta);
  void SetVersions(const std::string& tenant, const std::vector<std::pair<std::string, int64_t>>& versions);
  // Replaces one tenant's state with the one `fresh` holds (after an
  // erasure, the tenant is rebuilt from the repository).
  void ReplaceTenant(const std::string& tenant, JourneyIndex&& fresh);
  // Gives back the spare capacity of every vector (after a rebuild, when
  // nothing grows for a while).
  void ShrinkToFit();

  // Runs fn over the tenant's state under a shared lock (an empty state
  // when the tenant is unknown).
  void Read(const std::string& tenant, const std::function<void(const TenantJourneys&)>& fn) const;
  int64_t events() const;

 private:
  TenantJourneys& Tenant(const std::string& tenant);
  static int NodeOf(TenantJourneys& t, const std::string& key);

  mutable std::shared_mutex mu_;
  std::map<std::string, std::unique_ptr<TenantJourneys>> tenants_;
  int64_t events_ = 0;
};

}  // namespace cx::metrics

#endif  // CX_METRICS_JOURNEY_INDEX_H_
