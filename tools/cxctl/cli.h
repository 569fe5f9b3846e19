// cxctl plumbing: arguments (positional words and --flags), the endpoint and
// token resolution (flag, then environment, then config file, then
// default), authenticated stubs, enum and time parsing, and output as
// aligned tables or JSON.
#ifndef CX_TOOLS_CXCTL_CLI_H_
#define CX_TOOLS_CXCTL_CLI_H_

#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cx/feedback/v1/feedback_service.grpc.pb.h"
#include "cx/journey/v1/journey_service.grpc.pb.h"
#include "cx/metrics/v1/metrics_service.grpc.pb.h"

namespace cx::cxctl {

// The words and flags of one invocation. Flags are "--name=value" or
// "--name value"; "--name" alone is "true".
struct Args {
  std::vector<std::string> words;
  std::map<std::string, std::string> flags;

  static Args Parse(int argc, char** argv);
  bool Has(const std::string& name) const { return flags.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  // INVALID_ARGUMENT naming the flag when it is not a whole number.
  absl::StatusOr<int64_t> Int(const std::string& name, int64_t fallback) const;
  // Flags not in `known` (typos): INVALID_ARGUMENT naming the first.
  absl::Status OnlyKnown(const std::vector<std::string>& known) const;
};

// Endpoints and token: --feedback / CX_FEEDBACK_ENDPOINT / config
// "feedback" (default 127.0.0.1:50051), likewise journey (50052) and
// metrics (50053); --token / CX_TOKEN / config "token", or --token-file /
// CX_TOKEN_FILE / config "token_file". The config file is --config,
// CXCTL_CONFIG or ~/.config/cxctl/config: "key = value" lines, '#' comments.
struct Settings {
  std::string feedback, journey, metrics, token;
  static absl::StatusOr<Settings> Resolve(const Args& args);
};

class Clients {
 public:
  explicit Clients(Settings settings);
  const Settings& settings() const { return settings_; }

  feedback::v1::FeedbackService::Stub& feedback() { return *feedback_; }
  journey::v1::JourneyService::Stub& journey() { return *journey_; }
  metrics::v1::MetricsService::Stub& metrics() { return *metrics_; }

  // A context with the token and a deadline. Calls are retried only by the
  // callers that hold an idempotency key.
  std::unique_ptr<grpc::ClientContext> Context(absl::Duration deadline = absl::Seconds(30)) const;

  template <class Stub, class Req, class Resp>
  absl::StatusOr<Resp> Call(Stub& stub, grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                            const Req& request, absl::Duration deadline = absl::Seconds(30)) const {
    auto ctx = Context(deadline);
    Resp resp;
    grpc::Status s = (stub.*method)(ctx.get(), request, &resp);
    if (!s.ok()) return FromGrpc(s);
    return resp;
  }

  static absl::Status FromGrpc(const grpc::Status& s);

 private:
  Settings settings_;
  std::unique_ptr<feedback::v1::FeedbackService::Stub> feedback_;
  std::unique_ptr<journey::v1::JourneyService::Stub> journey_;
  std::unique_ptr<metrics::v1::MetricsService::Stub> metrics_;
};

// The gRPC channel arguments every cxctl channel uses: retries of
// UNAVAILABLE only (writes carry their request or event id).
std::shared_ptr<grpc::Channel> Channel(const std::string& target);

// "nps" / "NPS" / "FEEDBACK_KIND_NPS" -> the value of `E` named prefix + upper(text).
absl::StatusOr<int> ParseEnum(const google::protobuf::EnumDescriptor* type, const std::string& prefix,
                              const std::string& text, const std::string& field);
// The value's name without the prefix, lower case ("FEEDBACK_KIND_NPS" -> "nps").
std::string EnumLabel(const google::protobuf::EnumDescriptor* type, const std::string& prefix, int value);
// RFC 3339 ("2026-11-01T10:00:00Z", offsets allowed) or a date ("2026-11-01", UTC midnight).
absl::StatusOr<absl::Time> ParseTime(const std::string& text, const std::string& field);
// "7d", "12h", "30m", "45s" or plain seconds.
absl::StatusOr<absl::Duration> ParseDuration(const std::string& text, const std::string& field);
std::string FormatTime(const google::protobuf::Timestamp& t);

// Aligned text table: numbers right-aligned, the rest left.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print(std::ostream& out) const;
  size_t size() const { return rows_.size(); }

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// The message as JSON (proto3 JSON mapping), one object per line.
std::string Json(const google::protobuf::Message& message);

// Prints `status` as "cxctl: <code>: <message>" plus field violations; returns 1.
int Fail(const absl::Status& status);

}  // namespace cx::cxctl

#endif  // CX_TOOLS_CXCTL_CLI_H_
