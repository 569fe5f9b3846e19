// A service binary run by a benchmark as its own process, as it is
// deployed: on free loopback ports, with its CPU and RSS read from /proc and
// its Prometheus figures from its /metrics.
#ifndef CX_BENCH_SERVICE_PROCESS_H_
#define CX_BENCH_SERVICE_PROCESS_H_

#include <signal.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/ascii.h"
#include "bench/load.h"
#include "shared/child_process.h"
#include "shared/local_net.h"  // HttpGet

namespace cx::bench {

// Adds --listen and --metrics-listen on loopback port 0 to `args`: the
// service binds ports the kernel picks and logs them, so no other process
// can take a port between its choice and the bind. Those lines are logged
// at level info, so it also sets --log-level=info (a caller's --log-level=error
// hid them, and the process never counted as started).
class ServiceProcess {
 public:
  ServiceProcess(const std::string& binary, std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    args.erase(std::remove_if(args.begin(), args.end(),
                              [](const std::string& a) { return absl::StartsWith(a, "--log-level="); }),
               args.end());
    args.push_back("--log-level=info");
    args.push_back("--listen=127.0.0.1:0");
    args.push_back("--metrics-listen=127.0.0.1:0");
    child_ = std::make_unique<shared::ChildProcess>(binary, std::move(args), std::move(env));
  }

  // Starts the process and waits (up to `timeout`) until it logs its ports
  // (its /metrics port first, then its gRPC port) and the gRPC port accepts
  // connections.
  bool Start(const std::string& name, absl::Duration timeout = absl::Seconds(60)) {
    const absl::Time deadline = absl::Now() + timeout;
    if (!child_->Start()) return false;
    metrics_port_ = child_->WaitForLoggedPort("\"msg\":\"metrics listening\"", deadline - absl::Now());
    port_ = metrics_port_ > 0 ? child_->WaitForPort(deadline - absl::Now()) : 0;
    if (port_ <= 0) {
      std::cerr << name << " did not start: " << child_->output() << "\n";
      return false;
    }
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials());
    if (!channel->WaitForConnected(absl::ToChronoTime(deadline))) {
      std::cerr << name << " does not accept connections on port " << port_ << ": " << child_->output() << "\n";
      return false;
    }
    return true;
  }

  // SIGTERM, then the exit status (the drain is part of what is measured
  // elsewhere; here it only has to end).
  void Stop() {
    child_->Signal(SIGTERM);
    if (!child_->Wait(absl::Seconds(30)).has_value()) child_->Signal(SIGKILL);
  }

  int port() const { return port_; }
  // What the process printed so far.
  std::string output() const { return child_->output(); }
  pid_t pid() const { return child_->pid(); }
  double CpuSeconds() const { return ProcessCpuSeconds(child_->pid()); }
  int64_t RssKb() const { return ProcessRssKb(child_->pid()); }
  // "RssAnon: ... RssFile: ..." from /proc (heap against mapped files).
  std::string RssParts() const {
    std::ifstream in("/proc/" + std::to_string(child_->pid()) + "/status");
    std::string line, out;
    while (std::getline(in, line)) {
      if (absl::StartsWith(line, "RssAnon") || absl::StartsWith(line, "RssFile")) {
        out += (out.empty() ? "" : ", ") + std::string(absl::StripAsciiWhitespace(line));
      }
    }
    return out;
  }

  // Sum of the values of every sample of `name` (all label sets) on /metrics.
  double Scrape(const std::string& name) const {
    double total = 0;
    for (absl::string_view line : absl::StrSplit(shared::HttpGet(metrics_port_, "/metrics"), '\n')) {
      if (!absl::StartsWith(line, name)) continue;
      absl::string_view rest = line.substr(name.size());
      if (!rest.empty() && rest[0] != ' ' && rest[0] != '{') continue;  // a longer name
      double v = 0;
      if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) total += v;
    }
    return total;
  }

 private:
  int port_ = 0;
  int metrics_port_ = 0;
  std::unique_ptr<shared::ChildProcess> child_;
};

}  // namespace cx::bench

#endif  // CX_BENCH_SERVICE_PROCESS_H_
