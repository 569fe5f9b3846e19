// Starts a service binary as a child process (tests that need a real
// process for signals, exit codes and restarts; cx-bench), reads its JSON log lines and
// stops it by PID. A thread reads the child's output as it comes: a child
// that logs more than a pipe holds never blocks on a full pipe, whether or
// not anyone is waiting for a line.
#ifndef CX_SHARED_CHILD_PROCESS_H_
#define CX_SHARED_CHILD_PROCESS_H_

#include <sys/types.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"

namespace cx::shared {

class ChildProcess {
 public:
  ChildProcess(std::string binary, std::vector<std::string> args, std::map<std::string, std::string> env = {});
  ~ChildProcess();  // SIGKILLs a child that is still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The child gets SIGKILL if the thread that started it ends first, so a
  // parent that exits or crashes leaves nothing running: start children from
  // a thread that outlives them (the main thread).
  bool Start();
  // The next log line (after those an earlier call returned or passed)
  // that contains `needle`; nullopt on timeout or when the child closed its
  // output first.
  std::optional<std::string> WaitForLine(const std::string& needle, absl::Duration timeout);
  // The "port" field of the next log line that contains `needle`; 0 when
  // none came within `timeout`.
  int WaitForLoggedPort(const std::string& needle, absl::Duration timeout);
  // The gRPC port: that of the "listening" log line.
  int WaitForPort(absl::Duration timeout = absl::Seconds(20)) {
    return WaitForLoggedPort("\"msg\":\"listening\"", timeout);
  }
  void Signal(int signal);
  // Exit status (or 128+signal), or nullopt on timeout.
  std::optional<int> Wait(absl::Duration timeout);
  pid_t pid() const { return pid_; }
  // What the child printed so far (its last kMaxOutput bytes).
  std::string output() const;

  static constexpr size_t kMaxOutput = 8 << 20;

 private:
  void ReadOutput();  // the reader thread

  std::string binary_;
  std::vector<std::string> args_;
  std::map<std::string, std::string> env_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  bool exited_ = false;
  std::thread reader_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string output_;     // guarded by mu_
  size_t consumed_ = 0;    // guarded by mu_: lines before it were searched
  bool output_closed_ = false;  // guarded by mu_
  bool stop_reading_ = false;   // guarded by mu_
};

}  // namespace cx::shared

#endif  // CX_SHARED_CHILD_PROCESS_H_
