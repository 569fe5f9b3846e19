// Starts a service binary as a child process (tests that need a real
// process for signals, exit codes and restarts; cx-bench), reads its JSON log lines and
// stops it by PID.
#ifndef CX_SHARED_CHILD_PROCESS_H_
#define CX_SHARED_CHILD_PROCESS_H_

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace cx::shared {

class ChildProcess {
 public:
  ChildProcess(std::string binary, std::vector<std::string> args, std::map<std::string, std::string> env = {});
  ~ChildProcess();  // SIGKILLs a child that is still running

  // The child gets SIGKILL if the thread that started it ends first, so a
  // parent that exits or crashes leaves nothing running: start children from
  // a thread that outlives them (the main thread).
  bool Start();
  // Reads log lines until one contains `needle` (returns it) or timeout.
  std::optional<std::string> WaitForLine(const std::string& needle, absl::Duration timeout);
  // The "port" field of the "listening" log line.
  int WaitForPort(absl::Duration timeout = absl::Seconds(20));
  void Signal(int signal);
  // Exit status (or 128+signal), or nullopt on timeout.
  std::optional<int> Wait(absl::Duration timeout);
  pid_t pid() const { return pid_; }
  const std::string& output() const { return output_; }

 private:
  std::string binary_;
  std::vector<std::string> args_;
  std::map<std::string, std::string> env_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string output_;
  size_t consumed_ = 0;
  bool exited_ = false;
};

}  // namespace cx::shared

#endif  // CX_SHARED_CHILD_PROCESS_H_
