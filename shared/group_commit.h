// The group-commit writer: request handlers enqueue work into a bounded
// queue; writer threads drain up to max_batch_rows rows at a time and commit
// them in one transaction (CommitFn), which completes every item only after
// the commit. A full queue answers RESOURCE_EXHAUSTED at once, so callers
// back off instead of piling up.
#ifndef CX_SHARED_GROUP_COMMIT_H_
#define CX_SHARED_GROUP_COMMIT_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace cx::shared {

struct GroupCommitOptions {
  size_t capacity_rows = 100000;
  size_t max_batch_rows = 1000;
  int writers = 1;
};

template <typename Item>
class GroupCommitWriter {
 public:
  // Runs on a writer thread; must complete (answer) every item of the batch.
  using CommitFn = std::function<void(std::vector<Item>& batch)>;
  // Told the size of every batch and the queue depth after taking it.
  using ObserveFn = std::function<void(size_t batch_rows, size_t queued_rows)>;

  GroupCommitWriter(GroupCommitOptions options, CommitFn commit, ObserveFn observe = nullptr)
      : options_(options), commit_(std::move(commit)), observe_(std::move(observe)) {
    for (int i = 0; i < std::max(1, options_.writers); ++i) {
      threads_.emplace_back([this] { Run(); });
    }
  }

  ~GroupCommitWriter() { Stop(); }

  GroupCommitWriter(const GroupCommitWriter&) = delete;
  GroupCommitWriter& operator=(const GroupCommitWriter&) = delete;

  // `rows` is the item's weight. An item larger than the whole capacity is
  // still admitted into an empty queue, so a maximal batch always fits.
  absl::Status Enqueue(Item item, size_t rows) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return absl::UnavailableError("the server is shutting down");
      if (queued_rows_ > 0 && queued_rows_ + rows > options_.capacity_rows) {
        return absl::ResourceExhaustedError("write queue is full; retry with backoff");
      }
      queue_.push_back({std::move(item), rows});
      queued_rows_ += rows;
    }
    cv_.notify_one();
    return absl::OkStatus();
  }

  // Stops accepting, commits everything already queued, joins the writers.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_ && threads_.empty()) return;
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  size_t queued_rows() const {
    std::lock_guard<std::mutex> lock(mu_);
    return queued_rows_;
  }

 private:
  struct Entry {
    Item item;
    size_t rows;
  };

  void Run() {
    std::vector<Item> batch;
    while (true) {
      size_t batch_rows = 0;
      size_t remaining = 0;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping and drained
        while (!queue_.empty() &&
               (batch_rows == 0 || batch_rows + queue_.front().rows <= options_.max_batch_rows)) {
          batch_rows += queue_.front().rows;
          batch.push_back(std::move(queue_.front().item));
          queue_.pop_front();
        }
        queued_rows_ -= batch_rows;
        remaining = queued_rows_;
      }
      if (observe_) observe_(batch_rows, remaining);
      commit_(batch);
      batch.clear();
    }
  }

  const GroupCommitOptions options_;
  CommitFn commit_;
  ObserveFn observe_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Entry> queue_;
  size_t queued_rows_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace cx::shared

#endif  // CX_SHARED_GROUP_COMMIT_H_
