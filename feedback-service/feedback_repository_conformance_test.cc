// One conformance suite for FeedbackRepository, instantiated for SQLite and
// for MySQL/MariaDB (the MariaDB the test script starts; it never skips).
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include <google/protobuf/util/message_differencer.h>
#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "feedback-service/sql_feedback_repository.h"
#include "shared/erasure.h"
#include "shared/testing/query_plans.h"
#include "shared/testing/test_util.h"

namespace cx::feedback {
namespace {

using google::protobuf::util::MessageDifferencer;
using google::protobuf::util::TimeUtil;

NewFeedback Make(const std::string& tenant, const std::string& request_id, int score,
                 int64_t occurred_us = 1'700'000'000'000'000, const std::string& customer = "c1") {
  NewFeedback n;
  n.tenant = tenant;
  n.request_id = request_id;
  n.payload_hash = absl::StrCat("hash-", request_id, "-", score);
  Feedback& f = n.feedback;
  f.set_customer_id(customer);
  f.set_kind(v1::FEEDBACK_KIND_NPS);
  f.set_score(score);
  f.set_channel(cx::common::v1::CHANNEL_WEB);
  f.set_source(cx::common::v1::SOURCE_SURVEY);
  f.set_comment(absl::StrCat("comment ", score, " ünïcödé"));
  *f.mutable_occurred_at() = TimeUtil::MicrosecondsToTimestamp(occurred_us);
  *f.mutable_received_at() = TimeUtil::MicrosecondsToTimestamp(occurred_us + 1000);
  return n;
}

class FeedbackRepositoryConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    db_ = std::make_unique<shared::testing::ScratchDatabase>(GetParam(), "cx_feedback_conf");
    ASSERT_TRUE(db_->status().ok()) << db_->status();
    repo_ = Open();
    ASSERT_NE(repo_, nullptr);
  }

  std::shared_ptr<FeedbackRepository> Open() {
    auto pool = shared::db::OpenDatabase(db_->url(), "", 4);
    EXPECT_TRUE(pool.ok()) << pool.status();
    if (!pool.ok()) return nullptr;
    auto repo = OpenFeedbackRepository(*pool);
    EXPECT_TRUE(repo.ok()) << repo.status();
    return repo.ok() ? *repo : nullptr;
  }

  std::vector<WriteResult> WriteOk(std::vector<NewFeedback> batch) {
    auto r = repo_->Write(batch);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::vector<WriteResult>{};
  }

  // Erases a customer as an admin of the tenant would.
  absl::StatusOr<cx::common::v1::Erasure> Erase(const std::string& tenant, const std::string& customer) {
    EraseInput erase;
    erase.tenant = tenant;
    erase.customer_id = customer;
    erase.erasure = shared::NewErasure(tenant, "admin", customer, absl::Now());
    return repo_->EraseCustomer(erase);
  }

  std::unique_ptr<shared::testing::ScratchDatabase> db_;
  std::shared_ptr<FeedbackRepository> repo_;
};

TEST_P(FeedbackRepositoryConformance, WritesGetContiguousSequencesAndReadBackExactly) {
  auto results = WriteOk({Make("acme", "r1", 9), Make("acme", "r2", 0), Make("globex", "r1", 5)});
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) EXPECT_EQ(r.outcome, WriteOutcome::kCreated);
  EXPECT_EQ(results[1].feedback.sequence(), results[0].feedback.sequence() + 1);
  EXPECT_EQ(results[2].feedback.sequence(), results[0].feedback.sequence() + 2);
  EXPECT_EQ(results[0].feedback.name(), absl::StrCat("feedback/", results[0].feedback.sequence()));
  EXPECT_EQ(results[0].feedback.request_id(), "r1");

  auto got = repo_->Get("acme", results[1].feedback.sequence());
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_TRUE(MessageDifferencer::Equals(**got, results[1].feedback)) << (*got)->DebugString();
  // Another tenant's row reads as missing.
  auto foreign = repo_->Get("globex", results[1].feedback.sequence());
  ASSERT_TRUE(foreign.ok());
  EXPECT_FALSE(foreign->has_value());
}

TEST_P(FeedbackRepositoryConformance, SameKeyIsDuplicateSamePayloadOrConflict) {
  auto first = WriteOk({Make("acme", "r1", 9)});
  auto again = WriteOk({Make("acme", "r1", 9)});
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].outcome, WriteOutcome::kDuplicate);
  EXPECT_TRUE(MessageDifferencer::Equals(again[0].feedback, first[0].feedback));
  auto different = WriteOk({Make("acme", "r1", 3)});
  EXPECT_EQ(different[0].outcome, WriteOutcome::kConflict);
  // The same key in another tenant is another record.
  auto other = WriteOk({Make("globex", "r1", 9)});
  EXPECT_EQ(other[0].outcome, WriteOutcome::kCreated);
  auto changes = repo_->ListChanges(std::nullopt, 0, 100);
  ASSERT_TRUE(changes.ok());
  EXPECT_EQ(changes->size(), 2u);
}

TEST_P(FeedbackRepositoryConformance, KeyRepeatedInsideABatchIsStoredOnce) {
  auto results = WriteOk({Make("acme", "r1", 9), Make("acme", "r1", 9), Make("acme", "r1", 2)});
  EXPECT_EQ(results[0].outcome, WriteOutcome::kCreated);
  EXPECT_EQ(results[1].outcome, WriteOutcome::kDuplicate);
  EXPECT_EQ(results[2].outcome, WriteOutcome::kConflict);
  EXPECT_EQ(results[1].feedback.sequence(), results[0].feedback.sequence());
  auto changes = repo_->ListChanges(std::nullopt, 0, 100);
  ASSERT_TRUE(changes.ok());
  EXPECT_EQ(changes->size(), 1u);
}

// A write looks up its rows' customers among the erased only for tenants
// that have erased someone: in one transaction with rows of both kinds of
// tenant, only the erased customer's row in the tenant that erased them is
// refused.
TEST_P(FeedbackRepositoryConformance, AnErasedCustomerIsRefusedOnlyInTheTenantThatErasedThem) {
  constexpr int64_t kT = 1'700'000'000'000'000;
  WriteOk({Make("acme", "r1", 9, kT, "c1")});
  auto erased = Erase("acme", "c1");
  ASSERT_TRUE(erased.ok()) << erased.status();

  auto results = WriteOk({Make("acme", "r2", 3, kT, "c1"), Make("globex", "r2", 3, kT, "c1"),
                          Make("acme", "r3", 4, kT, "c2"), Make("initech", "r2", 3, kT, "c1")});
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kErased);
  EXPECT_EQ(results[1].outcome, WriteOutcome::kCreated);
  EXPECT_EQ(results[2].outcome, WriteOutcome::kCreated);
  EXPECT_EQ(results[3].outcome, WriteOutcome::kCreated);
  auto acme = repo_->CustomerFeedback("acme", "c1", 0, 10);
  ASSERT_TRUE(acme.ok()) << acme.status();
  EXPECT_TRUE(acme->empty());
  for (const char* tenant : {"globex", "initech"}) {
    auto kept = repo_->CustomerFeedback(tenant, "c1", 0, 10);
    ASSERT_TRUE(kept.ok()) << kept.status();
    ASSERT_EQ(kept->size(), 1u) << tenant;
    EXPECT_EQ(kept->front().request_id(), "r2");
  }
}

TEST_P(FeedbackRepositoryConformance, LargeBatchesCommitWhole) {
  std::vector<NewFeedback> batch;
  for (int i = 0; i < 1000; ++i) batch.push_back(Make("acme", absl::StrCat("big-", i), i % 11));
  auto results = WriteOk(batch);
  ASSERT_EQ(results.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(results[i].outcome, WriteOutcome::kCreated);
    ASSERT_EQ(results[i].feedback.sequence(), results[0].feedback.sequence() + i);
  }
  auto changes = repo_->ListChanges("acme", 0, 1000);
  ASSERT_TRUE(changes.ok());
  EXPECT_EQ(changes->size(), 1000u);
}

TEST_P(FeedbackRepositoryConformance, ListFiltersAndPagesNewestFirst) {
  std::vector<NewFeedback> batch;
  for (int i = 0; i < 40; ++i) {
    NewFeedback n = Make("acme", absl::StrCat("r", i), i % 11, 1'700'000'000'000'000 + (i % 13) * 1'000'000,
                         i % 2 == 0 ? "even" : "odd");
    if (i % 3 == 0) n.feedback.add_tags("delivery");
    if (i % 4 == 0) n.feedback.add_tags("price_x");
    n.feedback.set_channel(i % 5 == 0 ? cx::common::v1::CHANNEL_EMAIL : cx::common::v1::CHANNEL_WEB);
    batch.push_back(n);
  }
  batch.push_back(Make("globex", "g1", 10));
  auto written = WriteOk(batch);
  std::vector<Feedback> acme;
  for (size_t i = 0; i + 1 < written.size(); ++i) acme.push_back(written[i].feedback);

  auto brute = [&](const std::function<bool(const Feedback&)>& pred) {
    std::vector<Feedback> out;
    for (const auto& f : acme) if (pred(f)) out.push_back(f);
    std::sort(out.begin(), out.end(), [](const Feedback& a, const Feedback& b) {
      auto ta = TimeUtil::TimestampToMicroseconds(a.occurred_at());
      auto tb = TimeUtil::TimestampToMicroseconds(b.occurred_at());
      return ta != tb ? ta > tb : a.sequence() > b.sequence();
    });
    return out;
  };
  auto list_all = [&](FeedbackFilter filter, int page) {
    filter.tenant = "acme";
    std::vector<Feedback> out;
    FeedbackQuery q{filter, std::nullopt, page};
    while (true) {
      auto rows = repo_->List(q);
      EXPECT_TRUE(rows.ok()) << rows.status();
      if (!rows.ok() || rows->empty()) break;
      for (auto& f : *rows) out.push_back(f);
      const Feedback& last = rows->back();
      q.after = ListPosition{TimeUtil::TimestampToMicroseconds(last.occurred_at()), last.sequence()};
      if (static_cast<int>(rows->size()) < page) break;
    }
    return out;
  };
  auto sequences = [](const std::vector<Feedback>& v) {
    std::vector<int64_t> s;
    for (const auto& f : v) s.push_back(f.sequence());
    return s;
  };

  EXPECT_EQ(sequences(list_all({}, 7)), sequences(brute([](const Feedback&) { return true; })));
  FeedbackFilter by_customer;
  by_customer.customer_id = "even";
  EXPECT_EQ(sequences(list_all(by_customer, 5)), sequences(brute([](const Feedback& f) { return f.customer_id() == "even"; })));
  FeedbackFilter by_tag;
  by_tag.tag = "price_x";
  EXPECT_EQ(sequences(list_all(by_tag, 3)), sequences(brute([](const Feedback& f) {
              return std::find(f.tags().begin(), f.tags().end(), "price_x") != f.tags().end(); })));
  FeedbackFilter by_tag_wildcard;  // '_' must not act as a wildcard
  by_tag_wildcard.tag = "price_";
  EXPECT_TRUE(list_all(by_tag_wildcard, 10).empty());
  FeedbackFilter scored;
  scored.min_score = 3;
  scored.max_score = 6;
  scored.channel = cx::common::v1::CHANNEL_WEB;
  scored.occurred_from_us = 1'700'000'000'000'000 + 2'000'000;
  scored.occurred_to_us = 1'700'000'000'000'000 + 9'000'000;
  EXPECT_EQ(sequences(list_all(scored, 4)), sequences(brute([](const Feedback& f) {
              auto t = TimeUtil::TimestampToMicroseconds(f.occurred_at()) - 1'700'000'000'000'000;
              return f.score() >= 3 && f.score() <= 6 && f.channel() == cx::common::v1::CHANNEL_WEB &&
                     t >= 2'000'000 && t < 9'000'000; })));
}

TEST_P(FeedbackRepositoryConformance, ChangesAreScopedByTenantAndOrdered) {
  WriteOk({Make("acme", "a1", 1), Make("globex", "g1", 2), Make("acme", "a2", 3)});
  auto all = repo_->ListChanges(std::nullopt, 0, 10);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[1].tenant(), "globex");
  EXPECT_EQ((*all)[2].sequence(), (*all)[0].sequence() + 2);
  EXPECT_EQ((*all)[0].feedback_created().request_id(), "a1");
  auto acme = repo_->ListChanges("acme", 0, 10);
  ASSERT_TRUE(acme.ok());
  ASSERT_EQ(acme->size(), 2u);
  auto after = repo_->ListChanges("acme", (*acme)[0].sequence(), 10);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].feedback_created().request_id(), "a2");
}

// Two "replicas" (separate pools) write concurrently while a reader follows
// the feed: the reader must see every sequence exactly once, in order.
TEST_P(FeedbackRepositoryConformance, ConcurrentWritersNeverLetAReaderSkipOrRepeat) {
  auto replica_b = Open();
  ASSERT_NE(replica_b, nullptr);
  constexpr int kWriters = 4, kBatches = 15, kBatchSize = 40;
  std::atomic<int> done_writers{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      FeedbackRepository* repo = w % 2 == 0 ? repo_.get() : replica_b.get();
      for (int b = 0; b < kBatches; ++b) {
        std::vector<NewFeedback> batch;
        for (int i = 0; i < kBatchSize; ++i) batch.push_back(Make("acme", absl::StrCat("w", w, "b", b, "i", i), i % 11));
        while (true) {
          auto r = repo->Write(batch);
          if (r.ok()) break;
          ASSERT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();  // busy: retry
        }
      }
      ++done_writers;
    });
  }
  std::vector<int64_t> seen;
  int64_t cursor = 0;
  const int total = kWriters * kBatches * kBatchSize;
  for (int rounds = 0; static_cast<int>(seen.size()) < total && rounds < 1000000; ++rounds) {
    const bool writers_done = done_writers == kWriters;  // read before the poll
    auto changes = replica_b->ListChanges(std::nullopt, cursor, 97);
    ASSERT_TRUE(changes.ok()) << changes.status();
    for (const auto& c : *changes) {
      seen.push_back(c.sequence());
      cursor = c.sequence();
    }
    if (changes->empty() && writers_done) break;
    if (changes->empty()) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  for (auto& t : writers) t.join();
  ASSERT_EQ(static_cast<int>(seen.size()), total);
  for (size_t i = 1; i < seen.size(); ++i) ASSERT_EQ(seen[i], seen[i - 1] + 1) << "at " << i;
}

// Two replicas store the same keys at the same time: each key is stored once,
// and every writer's answer is the stored record (created or duplicate).
TEST_P(FeedbackRepositoryConformance, ReplicasRacingOnTheSameKeysStoreEachOnce) {
  auto replica_b = Open();
  ASSERT_NE(replica_b, nullptr);
  constexpr int kRounds = 30;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<NewFeedback> batch;
    for (int i = 0; i < 20; ++i) batch.push_back(Make("acme", absl::StrCat("race-", round, "-", i), i % 11));
    absl::StatusOr<std::vector<WriteResult>> a, b;
    std::thread ta([&] { a = repo_->Write(batch); });
    std::thread tb([&] { b = replica_b->Write(batch); });
    ta.join();
    tb.join();
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_TRUE(b.ok()) << b.status();
    for (int i = 0; i < 20; ++i) {
      EXPECT_NE((*a)[i].outcome, WriteOutcome::kConflict);
      EXPECT_NE((*b)[i].outcome, WriteOutcome::kConflict);
      EXPECT_EQ((*a)[i].feedback.sequence(), (*b)[i].feedback.sequence());
      EXPECT_TRUE((*a)[i].outcome == WriteOutcome::kCreated || (*b)[i].outcome == WriteOutcome::kCreated);
    }
  }
  auto changes = repo_->ListChanges(std::nullopt, 0, 1000);
  ASSERT_TRUE(changes.ok());
  EXPECT_EQ(changes->size(), static_cast<size_t>(kRounds * 20));
}

// A feedback with the case a rule opened for it.
NewFeedback WithCase(NewFeedback n, int64_t created_us = 1'700'000'100'000'000) {
  v1::FollowUp fu;
  fu.set_customer_id(n.feedback.customer_id());
  fu.add_reasons("nps_detractor");
  fu.set_status(v1::FOLLOW_UP_STATUS_OPEN);
  fu.set_priority(v1::FOLLOW_UP_PRIORITY_NORMAL);
  fu.set_version(1);
  *fu.mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(created_us);
  *fu.mutable_update_time() = fu.create_time();
  n.follow_up = fu;
  return n;
}

// Several cases in one batch (stored many rows per statement on MySQL):
// each right after its feedback, linked both ways, in its own tenant.
TEST_P(FeedbackRepositoryConformance, ManyCasesInOneBatchEachFollowTheirFeedback) {
  std::vector<NewFeedback> batch;
  for (int i = 0; i < 12; ++i) {
    NewFeedback n = Make(i % 3 == 0 ? "globex" : "acme", absl::StrCat("m", i), i % 2 ? 2 : 9);
    batch.push_back(i % 2 ? WithCase(std::move(n)) : std::move(n));
  }
  auto results = WriteOk(batch);
  ASSERT_EQ(results.size(), 12u);
  int64_t expected = 1;
  for (int i = 0; i < 12; ++i) {
    const auto& f = results[static_cast<size_t>(i)].feedback;
    EXPECT_EQ(f.sequence(), expected) << i;
    expected += i % 2 ? 2 : 1;
    if (i % 2 == 0) {
      EXPECT_TRUE(f.follow_up().empty()) << i;
      continue;
    }
    const int64_t case_id = f.sequence() + 1;
    EXPECT_EQ(f.follow_up(), absl::StrCat("followups/", case_id)) << i;
    auto stored = repo_->GetFollowUp(i % 3 == 0 ? "globex" : "acme", case_id);
    ASSERT_TRUE(stored.ok() && stored->has_value()) << i;
    EXPECT_EQ((*stored)->feedback(), f.name()) << i;
    EXPECT_EQ((*stored)->customer_id(), f.customer_id()) << i;
  }
  auto changes = repo_->ListChanges(std::nullopt, 0, 100);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->size(), 18u);
  for (size_t i = 0; i < changes->size(); ++i) EXPECT_EQ((*changes)[i].sequence(), static_cast<int64_t>(i) + 1);
  int cases = 0;
  for (const auto& c : *changes) cases += c.change_case() == v1::FeedbackChange::kFollowUpChanged;
  EXPECT_EQ(cases, 6);
}

TEST_P(FeedbackRepositoryConformance, ACaseOpensWithItsFeedbackOnceAndTakesTheNextSequence) {
  auto first = WriteOk({Make("acme", "a", 9), WithCase(Make("acme", "b", 2)), Make("acme", "c", 8)});
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0].feedback.sequence(), 1);
  EXPECT_EQ(first[1].feedback.sequence(), 2);
  EXPECT_EQ(first[1].feedback.follow_up(), "followups/3");
  EXPECT_EQ(first[2].feedback.sequence(), 4);
  EXPECT_TRUE(first[0].feedback.follow_up().empty());
  // A retry of the same key is a duplicate and opens nothing more.
  auto retry = WriteOk({WithCase(Make("acme", "b", 2))});
  EXPECT_EQ(retry[0].outcome, WriteOutcome::kDuplicate);
  EXPECT_EQ(retry[0].feedback.follow_up(), "followups/3");
  auto stored = repo_->GetFollowUp("acme", 3);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->name(), "followups/3");
  EXPECT_EQ((*stored)->feedback(), "feedback/2");
  EXPECT_EQ((*stored)->status(), v1::FOLLOW_UP_STATUS_OPEN);
  // The feed holds four changes without a gap: the case between its feedback and the next.
  auto changes = repo_->ListChanges(std::nullopt, 0, 100);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ((*changes)[i].sequence(), i + 1);
  EXPECT_EQ((*changes)[2].change_case(), v1::FeedbackChange::kFollowUpChanged);
  EXPECT_EQ((*changes)[2].follow_up_changed().name(), "followups/3");
  EXPECT_EQ((*changes)[2].tenant(), "acme");
  EXPECT_TRUE((*changes)[2].has_commit_time());
  // Paging through the merged feed with small limits sees the same order.
  std::vector<int64_t> seen;
  for (int64_t after = 0;;) {
    auto page = repo_->ListChanges("acme", after, 1);
    ASSERT_TRUE(page.ok());
    if (page->empty()) break;
    seen.push_back(page->front().sequence());
    after = page->front().sequence();
  }
  EXPECT_EQ(seen, (std::vector<int64_t>{1, 2, 3, 4}));
  // Another tenant sees neither the case nor its change.
  auto other = repo_->GetFollowUp("globex", 3);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->has_value());
  auto globex = repo_->ListChanges("globex", 0, 100);
  ASSERT_TRUE(globex.ok());
  EXPECT_TRUE(globex->empty());
}

TEST_P(FeedbackRepositoryConformance, UpdatesAreAtomicAndEachIsAChange) {
  WriteOk({WithCase(Make("acme", "a", 1))});  // feedback 1, case 2
  auto updated = repo_->UpdateFollowUp("acme", 2, [](v1::FollowUp* f) {
    f->set_status(v1::FOLLOW_UP_STATUS_IN_PROGRESS);
    f->set_assignee("agent-7");
    f->set_version(f->version() + 1);
    return absl::OkStatus();
  });
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->version(), 2);
  // An update that fails stores nothing and adds no change.
  auto refused = repo_->UpdateFollowUp("acme", 2, [](v1::FollowUp* f) {
    f->set_assignee("someone-else");
    return absl::FailedPreconditionError("no");
  });
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  auto missing = repo_->UpdateFollowUp("globex", 2, [](v1::FollowUp*) { return absl::OkStatus(); });
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  auto resolved = repo_->UpdateFollowUp("acme", 2, [](v1::FollowUp* f) {
    f->set_status(v1::FOLLOW_UP_STATUS_RESOLVED);
    f->set_outcome(v1::FOLLOW_UP_OUTCOME_RESOLVED);
    *f->mutable_resolve_time() = TimeUtil::MicrosecondsToTimestamp(1'700'000'160'000'000);  // 60 s after creation
    return absl::OkStatus();
  });
  ASSERT_TRUE(resolved.ok());
  auto stored = repo_->GetFollowUp("acme", 2);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->assignee(), "agent-7");
  EXPECT_EQ((*stored)->status(), v1::FOLLOW_UP_STATUS_RESOLVED);
  auto changes = repo_->ListChanges(std::nullopt, 0, 100);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->size(), 4u);  // feedback, opened, in progress, resolved
  EXPECT_EQ((*changes)[2].sequence(), 3);
  EXPECT_EQ((*changes)[2].follow_up_changed().status(), v1::FOLLOW_UP_STATUS_IN_PROGRESS);
  EXPECT_EQ((*changes)[3].sequence(), 4);
  EXPECT_EQ((*changes)[3].follow_up_changed().status(), v1::FOLLOW_UP_STATUS_RESOLVED);
  // Feedback written afterwards continues the sequence.
  auto next = WriteOk({Make("acme", "later", 9)});
  EXPECT_EQ(next[0].feedback.sequence(), 5);
  // Counts: by status over creation time, time to close over resolution time.
  auto counts = repo_->CountFollowUps("acme", std::nullopt, std::nullopt);
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->resolved, 1);
  EXPECT_EQ(counts->open, 0);
  ASSERT_EQ(counts->closed.size(), 1u);
  EXPECT_EQ(counts->closed[0].outcome, v1::FOLLOW_UP_OUTCOME_RESOLVED);
  EXPECT_EQ(counts->closed[0].time_to_close_us, 60'000'000);
  auto none = repo_->CountFollowUps("acme", 1'700'000'200'000'000, std::nullopt);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->resolved, 0);
  EXPECT_TRUE(none->closed.empty());
}

TEST_P(FeedbackRepositoryConformance, CasesListNewestFirstWithFiltersAndPages) {
  std::vector<NewFeedback> batch;
  for (int i = 0; i < 7; ++i) {
    batch.push_back(WithCase(Make("acme", absl::StrCat("k", i), 1, 1'700'000'000'000'000, i % 2 ? "odd" : "even"),
                             1'700'000'000'000'000 + i * 1'000'000));
  }
  batch.push_back(WithCase(Make("globex", "g", 1)));
  WriteOk(batch);
  FollowUpQuery q;
  q.filter.tenant = "acme";
  q.limit = 3;
  std::vector<std::string> customers;
  for (;;) {
    auto page = repo_->ListFollowUps(q);
    ASSERT_TRUE(page.ok());
    for (const auto& f : *page) customers.push_back(f.customer_id());
    if (static_cast<int>(page->size()) < q.limit) break;
    q.after = std::make_pair(TimeUtil::TimestampToMicroseconds(page->back().create_time()), std::stoll(page->back().id()));
  }
  EXPECT_EQ(customers, (std::vector<std::string>{"even", "odd", "even", "odd", "even", "odd", "even"}));
  FollowUpQuery odd;
  odd.filter.tenant = "acme";
  odd.filter.customer_id = "odd";
  odd.filter.status = v1::FOLLOW_UP_STATUS_OPEN;
  odd.filter.created_from_us = 1'700'000'002'000'000;
  auto rows = repo_->ListFollowUps(odd);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);  // cases 5 and 3 (created at +5 s and +3 s)
  EXPECT_GT(rows->front().create_time().seconds(), rows->back().create_time().seconds());
}

// A customer's cases are found through their feedback (a case's id is its
// feedback's sequence + 1): across batches, among other customers' cases,
// feedback without a case, another tenant with the same customer id, and
// pages; erasing the customer removes exactly their cases.
TEST_P(FeedbackRepositoryConformance, ACustomersCasesAreListedAndErasedThroughTheirFeedback) {
  constexpr int64_t kT = 1'700'000'000'000'000;
  std::vector<std::string> expected;  // c7's case names, newest first
  for (int b = 0; b < 3; ++b) {
    std::vector<NewFeedback> batch;
    for (int i = 0; i < 10; ++i) {
      const std::string customer = i % 3 == 0 ? "c7" : absl::StrCat("other-", i);
      NewFeedback n = Make("acme", absl::StrCat("r", b, "-", i), i % 2 ? 2 : 9, kT, customer);
      batch.push_back(i % 2 == 0 && i != 0 ? std::move(n) : WithCase(std::move(n), kT + (b * 10 + i) * 1000));
    }
    batch.push_back(WithCase(Make("globex", absl::StrCat("g", b), 1, kT, "c7"), kT));
    auto results = WriteOk(batch);
    for (int i = 0; i < 10; ++i) {
      if (i % 3 == 0 && !results[static_cast<size_t>(i)].feedback.follow_up().empty()) {
        expected.insert(expected.begin(), results[static_cast<size_t>(i)].feedback.follow_up());
      }
    }
  }
  ASSERT_EQ(expected.size(), 9u);  // c7's i = 0, 3 and 9 of each batch open a case; 6 does not
  FollowUpQuery q;
  q.filter.tenant = "acme";
  q.filter.customer_id = "c7";
  q.limit = 4;
  std::vector<std::string> listed;
  for (;;) {
    auto page = repo_->ListFollowUps(q);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& f : *page) {
      EXPECT_EQ(f.customer_id(), "c7");
      listed.push_back(f.name());
    }
    if (static_cast<int>(page->size()) < q.limit) break;
    q.after = std::make_pair(TimeUtil::TimestampToMicroseconds(page->back().create_time()), std::stoll(page->back().id()));
  }
  EXPECT_EQ(listed, expected);

  FollowUpQuery everyone;
  everyone.filter.tenant = "acme";
  everyone.limit = 100;
  auto before = repo_->ListFollowUps(everyone);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->size(), 18u);

  auto erased = Erase("acme", "c7");
  ASSERT_TRUE(erased.ok()) << erased.status();
  EXPECT_EQ(erased->records_erased(), 12 + 9);  // 4 feedback of c7 in each batch, 9 cases
  auto left = repo_->ListFollowUps(everyone);
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->size(), 9u);
  for (const auto& f : *left) EXPECT_NE(f.customer_id(), "c7");
  FollowUpQuery globex;
  globex.filter.tenant = "globex";
  globex.filter.customer_id = "c7";
  globex.limit = 100;
  auto kept = repo_->ListFollowUps(globex);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->size(), 3u);
}

// Every feed record of an erased customer's cases is redacted: each case's
// opening record and each of its updates, found by the case, also updates
// committed before the cases' updates were listed (a database migrated from
// before SQLite 007 / MySQL 006, made here by emptying the listing and moving
// its start past them). Other customers' records are kept. While the older
// updates are unlisted the erasure reads them itself (as on a replica while
// another lists them); opening the repository lists them, each exactly as
// the write path lists an update.
TEST_P(FeedbackRepositoryConformance, AnErasureRedactsEveryRecordOfTheCustomersCases) {
  enum class Listing { kAlways, kUnlisted, kListedAtOpen };
  for (const Listing listing : {Listing::kAlways, Listing::kUnlisted, Listing::kListedAtOpen}) {
    const bool listed_before = listing == Listing::kAlways;
    SCOPED_TRACE(listed_before ? "updates listed" : listing == Listing::kUnlisted ? "older updates unlisted"
                                                                                  : "older updates listed at open");
    const std::string tenant = listed_before ? "acme" : listing == Listing::kUnlisted ? "initech" : "umbrella";
    auto written = WriteOk({WithCase(Make(tenant, "a", 1, 1'700'000'000'000'000, "c7")),
                            WithCase(Make(tenant, "b", 2, 1'700'000'000'000'000, "keep")),
                            Make(tenant, "c", 9, 1'700'000'000'000'000, "c7"),
                            WithCase(Make(tenant, "d", 0, 1'700'000'000'000'000, "c7"))});
    ASSERT_EQ(written.size(), 4u);
    std::vector<int64_t> c7_cases, kept_cases;
    for (const auto& r : written) {
      if (r.feedback.follow_up().empty()) continue;
      (r.feedback.customer_id() == "c7" ? c7_cases : kept_cases).push_back(r.feedback.sequence() + 1);
    }
    ASSERT_EQ(c7_cases.size(), 2u);
    auto update = [&](int64_t id, const std::string& assignee) {
      auto r = repo_->UpdateFollowUp(tenant, id, [&](v1::FollowUp* f) {
        f->set_assignee(assignee);
        f->set_version(f->version() + 1);
        return absl::OkStatus();
      });
      ASSERT_TRUE(r.ok()) << r.status();
    };
    for (int64_t id : c7_cases) update(id, "agent-1");
    update(kept_cases[0], "agent-1");
    auto pool = shared::db::OpenDatabase(db_->url(), "", 1);
    ASSERT_TRUE(pool.ok()) << pool.status();
    auto c = (*pool)->Acquire();
    ASSERT_TRUE(c.ok());
    auto listed = [&] {
      std::set<std::pair<int64_t, int64_t>> out;
      auto rows = (*c)->Query("SELECT follow_up_id, sequence FROM follow_up_updates WHERE tenant = ?", {tenant});
      EXPECT_TRUE(rows.ok()) << rows.status();
      if (rows.ok()) {
        for (const auto& row : *rows) out.emplace(row.Int(0), row.Int(1));
      }
      return out;
    };
    const auto listed_by_writes = listed();
    EXPECT_EQ(listed_by_writes.size(), 3u);
    if (!listed_before) {
      ASSERT_TRUE((*c)->Execute("DELETE FROM follow_up_updates").ok());
      ASSERT_TRUE((*c)->Execute("UPDATE feedback_meta SET value = (SELECT next_sequence FROM feed_sequence "
                                "WHERE shard = 0) WHERE name = 'follow_up_updates_from'")
                      .ok());
    }
    // Updates after the listing starts, and feedback of others between them.
    WriteOk({Make(tenant, "e", 7, 1'700'000'000'000'000, "keep")});
    update(c7_cases[0], "agent-2");
    update(kept_cases[0], "agent-2");
    if (listing == Listing::kListedAtOpen) {
      auto later = listed();
      EXPECT_EQ(later.size(), 2u);
      repo_ = Open();  // a restart of the service on the migrated database
      ASSERT_NE(repo_, nullptr);
      later.insert(listed_by_writes.begin(), listed_by_writes.end());
      EXPECT_EQ(listed(), later);
      auto marker = (*c)->Query("SELECT value FROM feedback_meta WHERE name = 'follow_up_updates_from'");
      ASSERT_TRUE(marker.ok() && marker->size() == 1);
      EXPECT_LE(marker->front().Int(0), 1);
    }

    auto before = repo_->ListChanges(tenant, 0, 1000);
    ASSERT_TRUE(before.ok());
    auto erased = Erase(tenant, "c7");
    ASSERT_TRUE(erased.ok()) << erased.status();
    EXPECT_EQ(erased->records_erased(), 3 + 2);
    auto after = repo_->ListChanges(tenant, 0, 1000);
    ASSERT_TRUE(after.ok());
    ASSERT_EQ(after->size(), before->size() + 1);  // and the tombstone
    std::set<int64_t> redacted, kept;
    for (const auto& change : *after) {
      if (change.has_redacted()) redacted.insert(change.sequence());
      if (change.has_follow_up_changed()) {
        EXPECT_EQ(change.follow_up_changed().customer_id(), "keep");
        kept.insert(change.sequence());
      }
    }
    // c7: three feedback, two cases opened, three updates.
    EXPECT_EQ(redacted.size(), 3u + 2u + 3u);
    EXPECT_EQ(kept.size(), 3u);  // keep's case opened and updated twice
    for (int64_t id : c7_cases) EXPECT_TRUE(redacted.count(id)) << id;
    // A second erasure of the same customer finds nothing more to redact.
    auto again = Erase(tenant, "c7");
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(again->already_erased());
  }
}

TEST_P(FeedbackRepositoryConformance, RulesAreStoredPerTenantAndReplaced) {
  auto none = repo_->GetRules("acme", RulesKind::kTopics);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(repo_->PutRules("acme", RulesKind::kTopics, {"first", 1}).ok());
  ASSERT_TRUE(repo_->PutRules("acme", RulesKind::kTopics, {std::string("second\0bytes", 13), 2}).ok());
  ASSERT_TRUE(repo_->PutRules("acme", RulesKind::kFollowUps, {"cases", 3}).ok());
  auto topics = repo_->GetRules("acme", RulesKind::kTopics);
  ASSERT_TRUE(topics.ok() && topics->has_value());
  EXPECT_EQ((*topics)->body, std::string("second\0bytes", 13));
  EXPECT_EQ((*topics)->updated_us, 2);
  auto cases = repo_->GetRules("acme", RulesKind::kFollowUps);
  ASSERT_TRUE(cases.ok() && cases->has_value());
  EXPECT_EQ((*cases)->body, "cases");
  auto other = repo_->GetRules("globex", RulesKind::kTopics);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->has_value());
}

// SQLite only (MySQL has no partial indexes): the resolution-time index
// holds closed cases alone, so opening a case writes no entry into it, and
// the resolution statistics still read through it.
TEST(SqliteFeedbackSchema, TheResolutionIndexHoldsClosedCasesOnlyAndServesTheStatistics) {
  const auto dir = std::filesystem::temp_directory_path() / absl::StrCat("cx_feedback_schema_", getpid());
  std::filesystem::remove_all(dir);
  auto pool = shared::db::OpenDatabase(absl::StrCat("sqlite://", (dir / "feedback.db").string()), "", 1);
  ASSERT_TRUE(pool.ok()) << pool.status();
  auto repo = OpenFeedbackRepository(*pool);
  ASSERT_TRUE(repo.ok()) << repo.status();
  // Three cases (ids 2, 4, 6); the first is resolved.
  std::vector<NewFeedback> batch;
  for (int i = 0; i < 3; ++i) batch.push_back(WithCase(Make("acme", absl::StrCat("r", i), 1)));
  ASSERT_TRUE((*repo)->Write(batch).ok());
  ASSERT_TRUE((*repo)
                  ->UpdateFollowUp("acme", 2,
                                   [](v1::FollowUp* f) {
                                     f->set_status(v1::FOLLOW_UP_STATUS_RESOLVED);
                                     f->set_outcome(v1::FOLLOW_UP_OUTCOME_RESOLVED);
                                     *f->mutable_resolve_time() =
                                         TimeUtil::MicrosecondsToTimestamp(1'700'000'160'000'000);
                                     return absl::OkStatus();
                                   })
                  .ok());
  {
    auto conn = (*pool)->Acquire();  // the pool's one connection, given back at the end of this block
    ASSERT_TRUE(conn.ok()) << conn.status();
    auto indexes =
        (*conn)->Query("SELECT partial FROM pragma_index_list('follow_ups') WHERE name = 'follow_ups_by_resolved'");
    ASSERT_TRUE(indexes.ok()) << indexes.status();
    ASSERT_EQ(indexes->size(), 1u);
    EXPECT_EQ(indexes->front().Int(0), 1);  // partial
    // Every entry of the index, read through the index itself.
    auto entries = (*conn)->Query(
        "SELECT count(*) FROM follow_ups INDEXED BY follow_ups_by_resolved "
        "WHERE tenant = 'acme' AND resolved_us IS NOT NULL");
    ASSERT_TRUE(entries.ok()) << entries.status();
    EXPECT_EQ(entries->front().Int(0), 1);
    auto cases = (*conn)->Query("SELECT count(*) FROM follow_ups");
    ASSERT_TRUE(cases.ok());
    EXPECT_EQ(cases->front().Int(0), 3);
    auto plan = (*conn)->Query(
        "EXPLAIN QUERY PLAN SELECT outcome, resolved_us - created_us FROM follow_ups WHERE tenant = 'acme' AND "
        "resolved_us IS NOT NULL AND resolved_us >= 0");
    ASSERT_TRUE(plan.ok()) << plan.status();
    std::string details;
    for (const auto& row : *plan) details += row.Text(3);
    EXPECT_NE(details.find("follow_ups_by_resolved"), std::string::npos) << details;
  }
  auto counts = (*repo)->CountFollowUps("acme", std::nullopt, std::nullopt);
  ASSERT_TRUE(counts.ok());
  ASSERT_EQ(counts->closed.size(), 1u);
  EXPECT_EQ(counts->closed[0].time_to_close_us, 60'000'000);
  std::filesystem::remove_all(dir);
}

// Writes and every operation on one customer or one record read no range
// bounded by the tenant alone, so their cost does not grow with the tenant:
// on SQLite (its planner without statistics) and on MariaDB (with them).
class FeedbackQueryPlans : public ::testing::TestWithParam<std::string> {};

TEST_P(FeedbackQueryPlans, OperationsOnOneCustomerReadNoTenantWideRange) {
  shared::testing::ScratchDatabase db(GetParam(), "cx_feedback_plans");
  ASSERT_TRUE(db.status().ok()) << db.status();
  auto log = std::make_shared<shared::testing::StatementLog>();
  auto pool = shared::testing::OpenLoggedDatabase(db.url(), log);
  ASSERT_TRUE(pool.ok()) << pool.status();
  auto opened = OpenFeedbackRepository(*pool);
  ASSERT_TRUE(opened.ok()) << opened.status();
  FeedbackRepository& repo = **opened;
  // A tenant of many customers, so MariaDB's optimizer weighs the rows of
  // the whole tenant against those of one customer as in production.
  for (int chunk = 0; chunk < 8; ++chunk) {
    std::vector<NewFeedback> others;
    for (int i = chunk * 500; i < (chunk + 1) * 500; ++i) {
      NewFeedback n = Make("acme", absl::StrCat("other-", i), i % 11, 1'690'000'000'000'000 + i * 60'000'000LL,
                           absl::StrCat("other-customer-", i % 2000));
      others.push_back(i % 3 ? std::move(n) : WithCase(std::move(n)));
    }
    ASSERT_TRUE(repo.Write(others).ok());
  }
  log->Take();  // the migrations and the other customers

  std::vector<NewFeedback> batch;
  for (int i = 0; i < 6; ++i) {
    NewFeedback n = Make("acme", absl::StrCat("r", i), i, 1'700'000'000'000'000, absl::StrCat("c", i % 2));
    batch.push_back(i % 2 ? WithCase(std::move(n)) : std::move(n));
  }
  auto written = repo.Write(batch);
  ASSERT_TRUE(written.ok()) << written.status();
  ASSERT_TRUE(repo.Write(batch).ok());  // the same keys again: found as stored
  const int64_t case_id = std::stoll((*written)[1].feedback.follow_up().substr(sizeof("followups/") - 1));
  ASSERT_TRUE(repo.UpdateFollowUp("acme", case_id, [](v1::FollowUp* f) {
                    f->set_assignee("agent-1");
                    return absl::OkStatus();
                  }).ok());
  ASSERT_TRUE(repo.GetFollowUp("acme", case_id).ok());
  ASSERT_TRUE(repo.Get("acme", (*written)[0].feedback.sequence()).ok());
  FeedbackQuery by_customer;
  by_customer.filter.tenant = "acme";
  by_customer.filter.customer_id = "c1";
  ASSERT_TRUE(repo.List(by_customer).ok());
  // A later page of one customer's NPS answers in a time range, below a
  // score: what a CRM asks of one customer.
  by_customer.filter.kind = v1::FEEDBACK_KIND_NPS;
  by_customer.filter.channel = cx::common::v1::CHANNEL_WEB;
  by_customer.filter.occurred_from_us = 1'600'000'000'000'000;
  by_customer.filter.occurred_to_us = 1'800'000'000'000'000;
  by_customer.filter.max_score = 6;
  by_customer.after = ListPosition{1'750'000'000'000'000, 1000000};
  ASSERT_TRUE(repo.List(by_customer).ok());
  FollowUpQuery cases;
  cases.filter.tenant = "acme";
  cases.filter.customer_id = "c1";
  cases.limit = 10;
  ASSERT_TRUE(repo.ListFollowUps(cases).ok());
  cases.filter.status = v1::FOLLOW_UP_STATUS_OPEN;
  cases.filter.created_from_us = 1'600'000'000'000'000;
  ASSERT_TRUE(repo.ListFollowUps(cases).ok());
  ASSERT_TRUE(repo.CustomerFeedback("acme", "c1", 0, 100).ok());
  EraseInput erase;
  erase.tenant = "acme";
  erase.customer_id = "c1";
  erase.erasure = shared::NewErasure("acme", "admin", "c1", absl::Now());
  ASSERT_TRUE(repo.EraseCustomer(erase).ok());

  const auto statements = log->Take();
  ASSERT_GT(statements.size(), 20u);
  auto wide = shared::testing::TenantWideReads(db.url(), statements);
  ASSERT_TRUE(wide.ok()) << wide.status();
  EXPECT_THAT(*wide, ::testing::IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(Backends, FeedbackRepositoryConformance, ::testing::Values("sqlite", "mysql"),
                         [](const auto& info) { return info.param == "mysql" ? "MariaDB" : "SQLite"; });
INSTANTIATE_TEST_SUITE_P(Backends, FeedbackQueryPlans, ::testing::Values("sqlite", "mysql"),
                         [](const auto& info) { return info.param == "mysql" ? "MariaDB" : "SQLite"; });

}  // namespace
}  // namespace cx::feedback
