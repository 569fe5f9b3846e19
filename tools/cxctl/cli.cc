#include "tools/cxctl/cli.h"

#include <cstdlib>
#include <fstream>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "shared/client.h"
#include "shared/proto_util.h"
#include "shared/status.h"

namespace cx::cxctl {

Args Args::Parse(int argc, char** argv) {
  Args out;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      for (++i; i < argc; ++i) out.words.push_back(argv[i]);
      break;
    }
    if (!absl::StartsWith(a, "--") || a.size() == 2) {
      out.words.push_back(a);
      continue;
    }
    a = a.substr(2);
    const size_t eq = a.find('=');
    if (eq != std::string::npos) {
      out.flags[a.substr(0, eq)] = a.substr(eq + 1);
    } else if (i + 1 < argc && !absl::StartsWith(argv[i + 1], "--")) {
      out.flags[a] = argv[++i];
    } else {
      out.flags[a] = "true";
    }
  }
  return out;
}

std::string Args::Get(const std::string& name, const std::string& fallback) const {
  auto it = flags.find(name);
  return it == flags.end() ? fallback : it->second;
}

absl::StatusOr<int64_t> Args::Int(const std::string& name, int64_t fallback) const {
  auto it = flags.find(name);
  if (it == flags.end()) return fallback;
  int64_t v = 0;
  if (!absl::SimpleAtoi(it->second, &v)) return shared::InvalidField(name, "must be a whole number");
  return v;
}

absl::Status Args::OnlyKnown(const std::vector<std::string>& known) const {
  static const std::vector<std::string> common = {"feedback", "journey", "metrics", "token", "token-file", "config",
                                                  "json", "help"};
  for (const auto& [name, value] : flags) {
    bool ok = false;
    for (const auto& k : known) ok = ok || k == name;
    for (const auto& k : common) ok = ok || k == name;
    if (!ok) return shared::InvalidField(name, "is not an option of this command (see cxctl help)");
  }
  return absl::OkStatus();
}

namespace {

std::map<std::string, std::string> ReadConfigFile(const std::string& path, bool required, absl::Status* error) {
  std::map<std::string, std::string> out;
  std::ifstream in(path);
  if (!in) {
    if (required) *error = absl::NotFoundError(absl::StrCat("cannot read the config file ", path));
    return out;
  }
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    absl::string_view l = absl::StripAsciiWhitespace(line);
    if (l.empty() || l[0] == '#') continue;
    const size_t eq = l.find('=');
    if (eq == absl::string_view::npos) {
      *error = absl::InvalidArgumentError(absl::StrCat(path, ":", n, ": expected key = value"));
      return out;
    }
    out[std::string(absl::StripAsciiWhitespace(l.substr(0, eq)))] =
        std::string(absl::StripAsciiWhitespace(l.substr(eq + 1)));
  }
  return out;
}

}  // namespace

absl::StatusOr<Settings> Settings::Resolve(const Args& args) {
  absl::Status error;
  std::string path = args.Get("config");
  bool required = !path.empty();
  if (path.empty() && std::getenv("CXCTL_CONFIG")) {
    path = std::getenv("CXCTL_CONFIG");
    required = true;
  }
  if (path.empty() && std::getenv("HOME")) path = absl::StrCat(std::getenv("HOME"), "/.config/cxctl/config");
  const auto file = ReadConfigFile(path, required, &error);
  if (!error.ok()) return error;
  auto pick = [&](const std::string& flag, const char* env, const std::string& key, const std::string& fallback) {
    if (args.Has(flag)) return args.Get(flag);
    if (const char* v = std::getenv(env); v != nullptr && *v) return std::string(v);
    if (auto it = file.find(key); it != file.end()) return it->second;
    return fallback;
  };
  Settings s;
  s.feedback = pick("feedback", "CX_FEEDBACK_ENDPOINT", "feedback", "127.0.0.1:50051");
  s.journey = pick("journey", "CX_JOURNEY_ENDPOINT", "journey", "127.0.0.1:50052");
  s.metrics = pick("metrics", "CX_METRICS_ENDPOINT", "metrics", "127.0.0.1:50053");
  s.token = pick("token", "CX_TOKEN", "token", "");
  if (s.token.empty()) {
    const std::string token_file = pick("token-file", "CX_TOKEN_FILE", "token_file", "");
    if (!token_file.empty()) {
      std::ifstream in(token_file);
      if (!in) return absl::NotFoundError(absl::StrCat("cannot read the token file ", token_file));
      std::getline(in, s.token);
      s.token = std::string(absl::StripAsciiWhitespace(s.token));
    }
  }
  if (s.token.empty()) {
    return absl::InvalidArgumentError("no token: give --token, CX_TOKEN, --token-file or token in the config file");
  }
  return s;
}

std::shared_ptr<grpc::Channel> Channel(const std::string& target) {
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), shared::ClientChannelArguments());
}

Clients::Clients(Settings settings) : settings_(std::move(settings)) {
  feedback_ = feedback::v1::FeedbackService::NewStub(Channel(settings_.feedback));
  journey_ = journey::v1::JourneyService::NewStub(Channel(settings_.journey));
  metrics_ = metrics::v1::MetricsService::NewStub(Channel(settings_.metrics));
}

std::unique_ptr<grpc::ClientContext> Clients::Context(absl::Duration deadline) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("authorization", "Bearer " + settings_.token);
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  return ctx;
}

absl::Status Clients::FromGrpc(const grpc::Status& s) { return shared::FromGrpcStatus(s); }

absl::StatusOr<int> ParseEnum(const google::protobuf::EnumDescriptor* type, const std::string& prefix,
                              const std::string& text, const std::string& field) {
  std::string upper = absl::AsciiStrToUpper(text);
  for (char& c : upper) c = c == '-' ? '_' : c;
  const auto* value = type->FindValueByName(absl::StartsWith(upper, prefix) ? upper : prefix + upper);
  if (value == nullptr || value->number() == 0) {
    std::string names;
    for (int i = 1; i < type->value_count(); ++i) {
      absl::StrAppend(&names, i > 1 ? ", " : "", EnumLabel(type, prefix, type->value(i)->number()));
    }
    return shared::InvalidField(field, absl::StrCat("'", text, "' is not one of ", names));
  }
  return value->number();
}

std::string EnumLabel(const google::protobuf::EnumDescriptor* type, const std::string& prefix, int value) {
  const auto* v = type->FindValueByNumber(value);
  if (v == nullptr) return absl::StrCat(value);
  absl::string_view name = v->name();
  absl::ConsumePrefix(&name, prefix);
  return absl::AsciiStrToLower(name);
}

absl::StatusOr<absl::Time> ParseTime(const std::string& text, const std::string& field) {
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &err)) return t;
  if (absl::ParseTime("%Y-%m-%d", text, absl::UTCTimeZone(), &t, &err)) return t;
  return shared::InvalidField(field, absl::StrCat("'", text, "' is not an RFC 3339 time or a YYYY-MM-DD date"));
}

absl::StatusOr<absl::Duration> ParseDuration(const std::string& text, const std::string& field) {
  int64_t n = 0;
  if (absl::SimpleAtoi(text, &n) && n >= 0) return absl::Seconds(n);
  if (text.size() >= 2 && absl::SimpleAtoi(text.substr(0, text.size() - 1), &n) && n >= 0) {
    switch (text.back()) {
      case 'd': return absl::Hours(24 * n);
      case 'h': return absl::Hours(n);
      case 'm': return absl::Minutes(n);
      case 's': return absl::Seconds(n);
      default: break;
    }
  }
  return shared::InvalidField(field, absl::StrCat("'", text, "' is not a duration such as 7d, 12h, 30m or 45s"));
}

std::string FormatTime(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M", shared::ToTime(t), absl::UTCTimeZone());
}

void Table::Print(std::ostream& out) const {
  std::vector<size_t> width(header_.size(), 0);
  std::vector<bool> numeric(header_.size(), true);
  auto cells = [](const std::string& s) {  // display width: count UTF-8 lead bytes
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  };
  for (size_t i = 0; i < header_.size(); ++i) width[i] = cells(header_[i]);
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], cells(row[i]));
      double d;
      const std::string v = absl::StrReplaceAll(row[i], {{"%", ""}, {"±", ""}, {"+", ""}});
      if (!row[i].empty() && row[i] != "-" && !absl::SimpleAtod(v, &d)) numeric[i] = false;
    }
  }
  auto line = [&](const std::vector<std::string>& row) {
    std::string s;
    for (size_t i = 0; i < width.size(); ++i) {
      const std::string v = i < row.size() ? row[i] : "";
      const std::string pad(width[i] - std::min(width[i], cells(v)), ' ');
      absl::StrAppend(&s, i ? "  " : "", numeric[i] ? pad + v : (i + 1 == width.size() ? v : v + pad));
    }
    out << s << "\n";
  };
  line(header_);
  for (const auto& row : rows_) line(row);
}

std::string Json(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

int Fail(const absl::Status& status) {
  std::cerr << "cxctl: " << absl::StatusCodeToString(status.code()) << ": " << status.message() << "\n";
  for (const auto& v : shared::FieldViolations(status)) std::cerr << "  " << v.field << ": " << v.description << "\n";
  return 1;
}

}  // namespace cx::cxctl
