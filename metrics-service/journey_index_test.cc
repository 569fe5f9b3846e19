#include "metrics-service/journey_index.h"

#include <algorithm>
#include <limits>
#include <random>
#include <tuple>
#include <vector>

#include "shared/testing/test_util.h"

namespace cx::metrics {
namespace {

auto Fields(const Ev& e) {
  return std::make_tuple(e.time_us, e.sequence, e.amount_minor, e.type, e.touchpoint, e.ticket, e.currency, e.channel,
                         e.stage);
}

std::vector<Ev> Decoded(const EventList& list) {
  std::vector<Ev> out;
  list.DecodeTo(&out);
  return out;
}

// Events inserted in any order decode to the same events sorted, every
// field intact: extremes of each field, equal times ordered by sequence,
// and events without revenue or ticket next to ones with them.
TEST(EventListTest, InsertsInAnyOrderAndDecodesEveryFieldSorted) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<Ev> events;
    const int n = static_cast<int>(rng() % 60);
    for (int i = 0; i < n; ++i) {
      Ev e;
      switch (rng() % 4) {
        case 0: e.time_us = static_cast<int64_t>(rng() % 1000); break;  // many equal times
        case 1: e.time_us = 1700000000000000 + static_cast<int64_t>(rng() % 20000000000000); break;
        case 2: e.time_us = -static_cast<int64_t>(rng() % 1000000000); break;
        default: e.time_us = std::numeric_limits<int64_t>::max() / 4 - static_cast<int64_t>(rng() % 1000); break;
      }
      e.sequence = static_cast<int64_t>(rng() % 4 == 0 ? rng() >> 2 : rng() % 100000) + i;
      e.type = static_cast<uint32_t>(rng() % 3 == 0 ? rng() : rng() % 20);
      e.touchpoint = static_cast<uint32_t>(rng() % 500);
      e.channel = static_cast<uint8_t>(rng() % 256);
      e.stage = static_cast<uint8_t>(rng() % 8);
      if (rng() % 3 == 0) {
        e.ticket = static_cast<uint32_t>(rng() % 2 ? rng() : 0);
        e.currency = static_cast<uint16_t>(rng() % 70000);
        e.amount_minor = static_cast<int64_t>(rng()) / 2 - (int64_t{1} << 61);
      }
      events.push_back(e);
    }
    // Sequences are unique in a feed.
    std::sort(events.begin(), events.end(), [](const Ev& a, const Ev& b) { return a.sequence < b.sequence; });
    events.erase(std::unique(events.begin(), events.end(),
                             [](const Ev& a, const Ev& b) { return a.sequence == b.sequence; }),
                 events.end());
    std::shuffle(events.begin(), events.end(), rng);
    EventList list;
    for (const Ev& e : events) list.Insert(e);
    if (round % 2 == 0) list.ShrinkToFit();
    std::sort(events.begin(), events.end(), EventBefore);
    const std::vector<Ev> got = Decoded(list);
    ASSERT_EQ(list.size(), events.size());
    ASSERT_EQ(got.size(), events.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(Fields(got[i]), Fields(events[i])) << "round " << round << " #" << i;
  }
}

TEST(EventListTest, AnEventInTimeOrderTakesAFewBytes) {
  // A visit a day for a year, web channel, one of ten touchpoints.
  EventList list;
  int64_t sequence = 1000000;
  for (int day = 0; day < 365; ++day) {
    Ev e;
    e.time_us = 1700000000000000 + int64_t{day} * 86400000000 + day * 7919;
    e.sequence = (sequence += 37);
    e.type = static_cast<uint32_t>(day % 5);
    e.touchpoint = static_cast<uint32_t>(day % 10);
    e.channel = 1;
    e.stage = 2;
    list.Insert(e);
  }
  list.ShrinkToFit();
  std::vector<Ev> got = Decoded(list);
  ASSERT_EQ(got.size(), 365u);
  EXPECT_EQ(got[364].sequence, 1000000 + 365 * 37);
  // time delta 6 bytes, sequence 1, type 1, touchpoint 1, channel/stage 1;
  // the first event's time and sequence from 0, and the header.
  EXPECT_LE(list.bytes(), 365u * 10 + 16 + 24);
  EXPECT_EQ(sizeof(EventList), 16u);
  EXPECT_EQ(EventList().bytes(), 0u);
  EXPECT_TRUE(EventList().empty());
}

}  // namespace
}  // namespace cx::metrics
