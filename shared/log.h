// Structured JSON logging to stdout, one object per line. Callers pass only
// non-personal fields: no tokens, PII or SQL text.
#ifndef CX_SHARED_LOG_H_
#define CX_SHARED_LOG_H_

#include <initializer_list>
#include <string>
#include "absl/strings/string_view.h"
#include <utility>

namespace cx::shared {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

using LogField = std::pair<absl::string_view, std::string>;

// Sets the service name written in every line and the minimum level.
void InitLogging(absl::string_view service, LogLevel min_level);
bool ParseLogLevel(absl::string_view text, LogLevel* level);

void Log(LogLevel level, absl::string_view message, std::initializer_list<LogField> fields = {});

inline void LogInfo(absl::string_view m, std::initializer_list<LogField> f = {}) { Log(LogLevel::kInfo, m, f); }
inline void LogWarning(absl::string_view m, std::initializer_list<LogField> f = {}) { Log(LogLevel::kWarning, m, f); }
inline void LogError(absl::string_view m, std::initializer_list<LogField> f = {}) { Log(LogLevel::kError, m, f); }

// JSON string escaping, exposed for tests.
std::string JsonEscape(absl::string_view text);

}  // namespace cx::shared

#endif  // CX_SHARED_LOG_H_
