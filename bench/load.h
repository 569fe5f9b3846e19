// A closed-loop load generator for the benchmarks: keeps N calls in flight
// over the gRPC callback client API for a bounded time, and reports
// throughput, latency percentiles and errors by code.
#ifndef CX_BENCH_LOAD_H_
#define CX_BENCH_LOAD_H_

#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <iterator>
#include <sstream>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace cx::bench {

struct LoadResult {
  double seconds = 0;
  int64_t calls = 0;
  int64_t errors = 0;
  std::map<int, int64_t> errors_by_code;
  std::vector<double> latencies_us;
  // Of the load generator's own process: CPU time used during the run, and
  // the resident set at its end.
  double cpu_seconds = 0;
  int64_t rss_kb = 0;

  double cores() const { return seconds > 0 ? cpu_seconds / seconds : 0; }
  double Max() const { return latencies_us.empty() ? 0 : latencies_us.back(); }

  double rps() const { return seconds > 0 ? (calls - errors) / seconds : 0; }
  double Percentile(double p) const {
    if (latencies_us.empty()) return 0;
    size_t i = std::min(latencies_us.size() - 1, static_cast<size_t>(p * latencies_us.size()));
    return latencies_us[i];
  }
  std::string Errors() const {
    if (errors_by_code.empty()) return "0";
    std::string out;
    for (auto [code, n] : errors_by_code) out += absl::StrFormat("%scode%d:%d", out.empty() ? "" : ",", code, n);
    return out;
  }
};

// issue(done) must start one asynchronous call and invoke done(status) when
// it completes.
using IssueFn = std::function<void(std::function<void(const grpc::Status&)>)>;

inline double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// A counter of another process's storage I/O, from /proc/PID/io:
// "read_bytes" or "write_bytes" (what it caused to be read from or written
// to storage; the kernel's page cache serves reads that do not count), or -1
// when unreadable.
inline int64_t ProcessIoCounter(pid_t pid, const std::string& counter) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/io");
  std::string key;
  int64_t value = 0;
  while (in >> key >> value) {
    if (key == counter + ":") return value;
  }
  return -1;
}

inline int64_t ProcessStorageWriteBytes(pid_t pid) { return ProcessIoCounter(pid, "write_bytes"); }

// CPU seconds (user + system) and resident set of another process, from /proc.
inline double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) start at state (3).
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

inline int64_t ProcessRssKb(pid_t pid = 0) {
  std::ifstream statm(pid == 0 ? std::string("/proc/self/statm") : "/proc/" + std::to_string(pid) + "/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

// Bounded in time (`duration`) and in calls (`max_calls`).
inline LoadResult RunLoad(int in_flight, absl::Duration duration, const IssueFn& issue,
                          int64_t max_calls = 10'000'000) {
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    int active = 0;
    absl::Time end;
    LoadResult result;
  } state;
  state.end = absl::Now() + duration;
  std::function<void()> launch = [&] {
    const absl::Time start = absl::Now();
    issue([&, start](const grpc::Status& s) {
      const absl::Time now = absl::Now();
      bool again;
      {
        std::lock_guard<std::mutex> lock(state.mu);
        state.result.calls++;
        if (!s.ok()) {
          state.result.errors++;
          state.result.errors_by_code[s.error_code()]++;
        } else {
          state.result.latencies_us.push_back(absl::ToDoubleMicroseconds(now - start));
        }
        again = now < state.end && state.result.calls + state.active <= max_calls;
        if (!again) --state.active;
      }
      if (again) {
        launch();
      } else {
        state.cv.notify_all();
      }
    });
  };
  const absl::Time begin = absl::Now();
  const double cpu_begin = ProcessCpuSeconds();
  {
    std::lock_guard<std::mutex> lock(state.mu);
    state.active = in_flight;
  }
  for (int i = 0; i < in_flight; ++i) launch();
  std::unique_lock<std::mutex> lock(state.mu);
  state.cv.wait(lock, [&] { return state.active == 0; });
  state.result.seconds = absl::ToDoubleSeconds(absl::Now() - begin);
  state.result.cpu_seconds = ProcessCpuSeconds() - cpu_begin;
  state.result.rss_kb = ProcessRssKb();
  std::sort(state.result.latencies_us.begin(), state.result.latencies_us.end());
  return std::move(state.result);
}

}  // namespace cx::bench

#endif  // CX_BENCH_LOAD_H_
