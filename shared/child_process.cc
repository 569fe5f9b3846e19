#include "shared/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"

extern char** environ;

namespace cx::shared {

ChildProcess::ChildProcess(std::string binary, std::vector<std::string> args,
                           std::map<std::string, std::string> env)
    : binary_(std::move(binary)), args_(std::move(args)), env_(std::move(env)) {}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exited_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  {
    // A grandchild may still hold the pipe open: the reader stops anyway.
    std::lock_guard<std::mutex> lock(mu_);
    stop_reading_ = true;
  }
  if (reader_.joinable()) reader_.join();
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

bool ChildProcess::Start() {
  // Everything the child needs is built before fork: between fork and exec a
  // child of a multi-threaded parent may only make async-signal-safe calls
  // (a malloc there can wait forever on a lock another thread held at fork).
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    if (env_.count(entry.substr(0, entry.find('='))) == 0) env_strings.push_back(entry);
  }
  for (const auto& [k, v] : env_) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<char*> argv;
  argv.push_back(binary_.data());
  for (auto& a : args_) argv.push_back(a.data());
  argv.push_back(nullptr);
  sigset_t none;
  sigemptyset(&none);

  const pid_t parent = getpid();

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return false;
  pid_ = fork();
  if (pid_ < 0) {
    close(fds[0]);
    close(fds[1]);
    return false;
  }
  if (pid_ == 0) {
    dup2(fds[1], STDOUT_FILENO);  // dup2 clears close-on-exec on the copies
    dup2(fds[1], STDERR_FILENO);
    // Signals blocked in the parent's threads must not stay blocked here.
    sigprocmask(SIG_SETMASK, &none, nullptr);
    // A parent that dies without stopping it (a crash, an exit on an error)
    // takes the child with it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(fds[1]);
  stdout_fd_ = fds[0];
  reader_ = std::thread([this] { ReadOutput(); });
  return true;
}

void ChildProcess::ReadOutput() {
  char buffer[16384];
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_reading_) break;
    }
    // Woken now and then to see whether the owner is done with the child.
    pollfd p{stdout_fd_, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = read(stdout_fd_, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    std::lock_guard<std::mutex> lock(mu_);
    if (n <= 0) break;
    output_.append(buffer, static_cast<size_t>(n));
    if (output_.size() > kMaxOutput) {
      // Keep the newest half; lines not yet searched that fall out are lost.
      const size_t drop = output_.size() - kMaxOutput / 2;
      output_.erase(0, drop);
      consumed_ = consumed_ > drop ? consumed_ - drop : 0;
    }
    cv_.notify_all();
  }
  std::lock_guard<std::mutex> lock(mu_);
  output_closed_ = true;
  cv_.notify_all();
}

std::optional<std::string> ChildProcess::WaitForLine(const std::string& needle, absl::Duration timeout) {
  const auto deadline = absl::ToChronoTime(absl::Now() + timeout);
  std::unique_lock<std::mutex> lock(mu_);
  bool timed_out = false;
  while (true) {
    // The lines not yet searched, also those that came with the deadline.
    size_t newline;
    while ((newline = output_.find('\n', consumed_)) != std::string::npos) {
      std::string line = output_.substr(consumed_, newline - consumed_);
      consumed_ = newline + 1;
      if (line.find(needle) != std::string::npos) return line;
    }
    if (output_closed_ || timed_out) return std::nullopt;
    timed_out = cv_.wait_until(lock, deadline) == std::cv_status::timeout;
  }
}

std::string ChildProcess::output() const {
  std::lock_guard<std::mutex> lock(mu_);
  return output_;
}

int ChildProcess::WaitForLoggedPort(const std::string& needle, absl::Duration timeout) {
  auto line = WaitForLine(needle, timeout);
  if (!line) return 0;
  auto at = line->find("\"port\":\"");
  if (at == std::string::npos) return 0;
  at += 8;
  int port = 0;
  absl::SimpleAtoi(line->substr(at, line->find('"', at) - at), &port);
  return port;
}

void ChildProcess::Signal(int signal) {
  if (pid_ > 0 && !exited_) kill(pid_, signal);
}

std::optional<int> ChildProcess::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      // Keep what it printed last: the reader sees the end of the output
      // once the pipe is drained (a grandchild holding it open: 1 s at most).
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait_for(lock, std::chrono::seconds(1), [this] { return output_closed_; });
      }
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -1;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return std::nullopt;
}

}  // namespace cx::shared
