#include "shared/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace cx::shared {
namespace {

std::mutex& LogMutex() {
  static auto* m = new std::mutex;
  return *m;
}
std::string& ServiceName() {
  static auto* s = new std::string("cx");
  return *s;
}
// CX_LOG_COPY_FILE: every line is also appended there (the test command
// collects the whole suite's log lines this way and searches them).
std::FILE* CopyFile() {
  static std::FILE* file = [] {
    const char* path = std::getenv("CX_LOG_COPY_FILE");
    return path != nullptr && *path != '\0' ? std::fopen(path, "a") : nullptr;
  }();
  return file;
}
std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "info";
}

}  // namespace

void InitLogging(absl::string_view service, LogLevel min_level) {
  std::lock_guard<std::mutex> lock(LogMutex());
  ServiceName() = std::string(service);
  g_min_level = static_cast<int>(min_level);
}

bool ParseLogLevel(absl::string_view text, LogLevel* level) {
  if (text == "debug") *level = LogLevel::kDebug;
  else if (text == "info") *level = LogLevel::kInfo;
  else if (text == "warning") *level = LogLevel::kWarning;
  else if (text == "error") *level = LogLevel::kError;
  else return false;
  return true;
}

std::string JsonEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

void Log(LogLevel level, absl::string_view message, std::initializer_list<LogField> fields) {
  if (static_cast<int>(level) < g_min_level.load(std::memory_order_relaxed)) return;
  std::string line = absl::StrCat(
      "{\"ts\":\"", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
      "\",\"level\":\"", LevelName(level), "\",\"service\":\"");
  std::lock_guard<std::mutex> lock(LogMutex());
  absl::StrAppend(&line, JsonEscape(ServiceName()), "\",\"msg\":\"", JsonEscape(message), "\"");
  for (const auto& [key, value] : fields) {
    absl::StrAppend(&line, ",\"", JsonEscape(key), "\":\"", JsonEscape(value), "\"");
  }
  line += "}\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
  if (std::FILE* copy = CopyFile(); copy != nullptr) {
    std::fwrite(line.data(), 1, line.size(), copy);
    std::fflush(copy);
  }
}

}  // namespace cx::shared
