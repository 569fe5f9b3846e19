#include "shared/group_commit.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "shared/testing/test_util.h"

namespace cx::shared {
namespace {

struct Item {
  int value;
  std::promise<int>* done;
};

TEST(GroupCommitWriterTest, BatchesUpToTheRowLimitAndCompletesEveryItem) {
  std::vector<size_t> batch_sizes;
  std::mutex mu;
  std::promise<void> gate;
  auto gate_future = gate.get_future().share();
  GroupCommitOptions options;
  options.max_batch_rows = 10;
  GroupCommitWriter<Item> writer(options, [&](std::vector<Item>& batch) {
    gate_future.wait();  // hold the first batch so the rest queue up
    {
      std::lock_guard<std::mutex> lock(mu);
      batch_sizes.push_back(batch.size());
    }
    for (auto& item : batch) item.done->set_value(item.value * 2);
  });
  std::vector<std::promise<int>> promises(35);
  for (int i = 0; i < 35; ++i) ASSERT_TRUE(writer.Enqueue({i, &promises[i]}, 1).ok());
  gate.set_value();
  for (int i = 0; i < 35; ++i) EXPECT_EQ(promises[i].get_future().get(), i * 2);
  std::lock_guard<std::mutex> lock(mu);
  size_t total = 0;
  for (size_t s : batch_sizes) {
    EXPECT_LE(s, 10u);
    total += s;
  }
  EXPECT_EQ(total, 35u);
  EXPECT_LE(batch_sizes.size(), 5u);  // the first alone, then full batches
}

TEST(GroupCommitWriterTest, FullQueueAnswersResourceExhausted) {
  std::promise<void> gate;
  auto gate_future = gate.get_future().share();
  GroupCommitOptions options;
  options.capacity_rows = 5;
  options.max_batch_rows = 1;
  std::atomic<int> committed{0};
  GroupCommitWriter<int> writer(options, [&](std::vector<int>& batch) {
    gate_future.wait();
    committed += static_cast<int>(batch.size());
  });
  ASSERT_TRUE(writer.Enqueue(0, 1).ok());  // taken by the writer, blocked
  while (writer.queued_rows() != 0) std::this_thread::yield();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(writer.Enqueue(int{i}, 1).ok());
  EXPECT_THAT(writer.Enqueue(9, 1), testing::StatusIs(absl::StatusCode::kResourceExhausted));
  gate.set_value();
  writer.Stop();
  EXPECT_EQ(committed.load(), 6);  // Stop drained everything accepted
  EXPECT_THAT(writer.Enqueue(1, 1), testing::StatusIs(absl::StatusCode::kUnavailable));
}

TEST(GroupCommitWriterTest, ARefusedItemIsLeftAsItWas) {
  GroupCommitWriter<std::string> writer(GroupCommitOptions{}, [](std::vector<std::string>&) {});
  writer.Stop();
  std::string item = "answer me";
  EXPECT_THAT(writer.Enqueue(std::move(item), 1), testing::StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(item, "answer me");  // NOLINT(bugprone-use-after-move): a refused item is not moved from
}

TEST(GroupCommitWriterTest, OversizedItemIsAdmittedIntoAnEmptyQueue) {
  GroupCommitOptions options;
  options.capacity_rows = 10;
  std::promise<size_t> rows;
  GroupCommitWriter<size_t> writer(options, [&](std::vector<size_t>& batch) { rows.set_value(batch[0]); });
  ASSERT_TRUE(writer.Enqueue(500, 500).ok());
  EXPECT_EQ(rows.get_future().get(), 500u);
}

// Two writers: while one commit runs, a few queued rows wait for it and go
// out together in the next commit; a backlog of parallel_backlog_rows starts
// a second commit beside the first.
TEST(GroupCommitWriterTest, ASecondCommitStartsBesideARunningOneOnlyForABacklog) {
  std::promise<void> release;
  auto released = release.get_future().share();
  std::mutex mu;
  std::condition_variable changed;
  int running = 0, most_running = 0;
  std::vector<size_t> batch_rows;
  GroupCommitOptions options;
  options.writers = 2;
  options.parallel_backlog_rows = 10;
  GroupCommitWriter<int> writer(options, [&](std::vector<int>& batch) {
    {
      std::lock_guard<std::mutex> lock(mu);
      most_running = std::max(most_running, ++running);
      batch_rows.push_back(batch.size());
      changed.notify_all();
    }
    released.wait();
    std::lock_guard<std::mutex> lock(mu);
    --running;
  });
  auto wait_for = [&](auto done) {
    std::unique_lock<std::mutex> lock(mu);
    return changed.wait_for(lock, std::chrono::seconds(30), done);
  };
  ASSERT_TRUE(writer.Enqueue(0, 1).ok());
  ASSERT_TRUE(wait_for([&] { return running == 1; }));  // the first commit runs, held
  for (int i = 1; i <= 9; ++i) ASSERT_TRUE(writer.Enqueue(int{i}, 1).ok());
  // 9 rows wait, below the backlog: the idle writer leaves them.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(running, 1);
  }
  EXPECT_EQ(writer.queued_rows(), 9u);
  ASSERT_TRUE(writer.Enqueue(10, 1).ok());  // the 10th: a backlog
  ASSERT_TRUE(wait_for([&] { return running == 2; }));
  EXPECT_EQ(writer.queued_rows(), 0u);
  release.set_value();
  writer.Stop();
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(most_running, 2);
  EXPECT_EQ(batch_rows, (std::vector<size_t>{1, 10}));
}

// The rows left waiting beside a running commit are not stranded: the
// writer that ends it takes them, before any Stop.
TEST(GroupCommitWriterTest, RowsLeftWaitingGoOutWhenTheRunningCommitEnds) {
  std::promise<void> release;
  auto released = release.get_future().share();
  std::promise<void> first_taken;
  std::mutex mu;
  std::vector<size_t> batch_rows;
  std::promise<void> all_committed;
  size_t committed = 0;
  GroupCommitOptions options;
  options.writers = 2;
  options.parallel_backlog_rows = 100;
  GroupCommitWriter<int> writer(options, [&](std::vector<int>& batch) {
    if (batch.front() == 0) {
      first_taken.set_value();
      released.wait();
    }
    std::lock_guard<std::mutex> lock(mu);
    batch_rows.push_back(batch.size());
    committed += batch.size();
    if (committed == 4) all_committed.set_value();
  });
  ASSERT_TRUE(writer.Enqueue(0, 1).ok());
  first_taken.get_future().wait();
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(writer.Enqueue(int{i}, 1).ok());
  release.set_value();
  ASSERT_EQ(all_committed.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(batch_rows, (std::vector<size_t>{1, 3}));
}

// The observer hears of every commit after it ends: its rows, the rows
// still waiting then, how long its oldest row waited and how long it ran.
// Rows 1 and 2 are queued while row 0's commit is held for 30 ms, so that
// commit ran at least 30 ms and they waited at least as long.
TEST(GroupCommitWriterTest, TheObserverSeesEachCommitsRowsQueueWaitAndDuration) {
  std::promise<void> first_taken;
  std::promise<void> release;
  auto released = release.get_future().share();
  std::mutex mu;
  std::vector<CommitObservation> seen;
  std::promise<void> both_seen;
  GroupCommitOptions options;
  GroupCommitWriter<int> writer(
      options,
      [&](std::vector<int>& batch) {
        if (batch.front() == 0) {
          first_taken.set_value();
          released.wait();
          std::this_thread::sleep_for(std::chrono::milliseconds(30));
        }
      },
      [&](const CommitObservation& o) {
        std::lock_guard<std::mutex> lock(mu);
        seen.push_back(o);
        if (seen.size() == 2) both_seen.set_value();
      });
  ASSERT_TRUE(writer.Enqueue(0, 1).ok());
  first_taken.get_future().wait();
  ASSERT_TRUE(writer.Enqueue(1, 1).ok());
  ASSERT_TRUE(writer.Enqueue(2, 1).ok());
  release.set_value();
  ASSERT_EQ(both_seen.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(seen[0].batch_rows, 1u);
  EXPECT_EQ(seen[0].queued_rows, 2u);
  EXPECT_GE(seen[0].commit_seconds, 0.030);
  EXPECT_GE(seen[0].wait_seconds, 0.0);
  EXPECT_EQ(seen[1].batch_rows, 2u);
  EXPECT_EQ(seen[1].queued_rows, 0u);
  EXPECT_GE(seen[1].wait_seconds, 0.030);
  EXPECT_GE(seen[1].commit_seconds, 0.0);
}

TEST(RecordWriterTest, AnswersEachCallerItsSliceInOrderAndStopAnswersEverythingQueued) {
  GroupCommitOptions options;
  options.max_batch_rows = 7;
  std::atomic<int> writes{0};
  RecordWriter<int, int> writer(options, [&](absl::Span<const int> records) {
    ++writes;
    return absl::StatusOr<std::vector<int>>(std::vector<int>(records.begin(), records.end()));
  });
  std::mutex mu;
  std::vector<int> answered;  // every value, in the order the callers were answered
  for (int call = 0; call < 20; ++call) {
    std::vector<int> records = {call * 10, call * 10 + 1, call * 10 + 2};
    writer.Submit(records, [&, records](absl::StatusOr<std::vector<int>> results) {
      ASSERT_TRUE(results.ok());
      EXPECT_EQ(*results, records);
      std::lock_guard<std::mutex> lock(mu);
      answered.insert(answered.end(), results->begin(), results->end());
    });
  }
  writer.Stop();
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(answered.size(), 60u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(answered[i * 3], i * 10);
  EXPECT_GT(writes.load(), 1);
}

TEST(RecordWriterTest, AFailedWriteAnswersEveryCallerOfItsBatchWithTheError) {
  RecordWriter<int, int> writer(GroupCommitOptions{}, [](absl::Span<const int>) {
    return absl::StatusOr<std::vector<int>>(absl::UnavailableError("database down"));
  });
  std::promise<absl::Status> answer;
  writer.Submit({1, 2}, [&](absl::StatusOr<std::vector<int>> results) { answer.set_value(results.status()); });
  EXPECT_THAT(answer.get_future().get(), testing::StatusIs(absl::StatusCode::kUnavailable));
}

TEST(RecordWriterTest, TheWriterGoesOnToTheNextCommitWhileAnAnswerIsStillBeingSent) {
  GroupCommitOptions options;
  options.max_batch_rows = 1;  // each call its own transaction
  std::promise<void> second_written;
  std::shared_future<void> second = second_written.get_future().share();
  RecordWriter<int, int> writer(options, [&](absl::Span<const int> records) {
    if (records[0] == 2) second_written.set_value();
    return absl::StatusOr<std::vector<int>>(std::vector<int>(records.begin(), records.end()));
  });
  std::promise<bool> first_answered;
  // The first caller's answer takes until the second call is written, which
  // happens only if the writer does not wait for that answer.
  writer.Submit({1}, [&](absl::StatusOr<std::vector<int>>) {
    first_answered.set_value(second.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  });
  std::promise<void> second_answered;
  writer.Submit({2}, [&](absl::StatusOr<std::vector<int>>) { second_answered.set_value(); });
  EXPECT_TRUE(first_answered.get_future().get());
  second_answered.get_future().wait();
  writer.Stop();
}

}  // namespace
}  // namespace cx::shared
