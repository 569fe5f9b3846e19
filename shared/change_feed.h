// The reading side of a change feed, the same in every service: request
// checks, the tenant scope of the reader (the service identity reads every
// tenant), and the ListChanges response.
#ifndef CX_SHARED_CHANGE_FEED_H_
#define CX_SHARED_CHANGE_FEED_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "shared/auth.h"
#include "shared/status.h"

namespace cx::shared {

inline constexpr int kMaxChangesLimit = 1000;
inline constexpr int kDefaultChangesLimit = 100;

// Every tenant for the service identity, else the caller's own.
inline std::optional<std::string> FeedScope(const Principal& principal) {
  if (principal.IsService()) return std::nullopt;
  return principal.tenant;
}

// Reads one ListChanges page: checks the request, fetches with
// `fetch(scope, after, limit)` and fills the response.
template <class Request, class Response, class Fetch>
absl::StatusOr<Response> ListChangesPage(const Principal& principal, const Request& request, Fetch&& fetch) {
  std::vector<FieldViolation> v;
  if (request.after_sequence() < 0) v.push_back({"after_sequence", "must not be negative"});
  if (request.limit() < 0 || request.limit() > kMaxChangesLimit) {
    v.push_back({"limit", absl::StrCat("must be between 0 and ", kMaxChangesLimit)});
  }
  if (!v.empty()) return WithViolations(absl::StatusCode::kInvalidArgument, v);
  auto changes = fetch(FeedScope(principal), request.after_sequence(),
                       request.limit() == 0 ? kDefaultChangesLimit : request.limit());
  if (!changes.ok()) return changes.status();
  Response response;
  response.set_next_after_sequence(changes->empty() ? request.after_sequence() : changes->back().sequence());
  for (auto& c : *changes) *response.add_changes() = std::move(c);
  return response;
}

// Checks a WatchChanges request and returns the reader's scope.
template <class Request>
absl::StatusOr<std::optional<std::string>> WatchScope(const Principal& principal, const Request& request) {
  if (request.after_sequence() < 0) return InvalidField("after_sequence", "must not be negative");
  return FeedScope(principal);
}

}  // namespace cx::shared

#endif  // CX_SHARED_CHANGE_FEED_H_
