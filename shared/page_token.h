// Opaque, signed page tokens. A token binds the tenant, a fingerprint of the
// query's filters and the position after the last returned row, under an
// HMAC-SHA256 with a server secret, so a caller can neither forge a position
// nor reuse a token with other filters or another tenant's credentials.
#ifndef CX_SHARED_PAGE_TOKEN_H_
#define CX_SHARED_PAGE_TOKEN_H_

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "shared/auth.h"
#include "shared/proto_util.h"

namespace cx::shared {

// Where the next page starts: sort-key numbers and, when a sort key is a
// string, that string.
struct PagePosition {
  std::vector<int64_t> numbers;
  std::string key;
};

class PageTokenCodec {
 public:
  // An empty secret picks a random one (tokens then do not survive restarts
  // nor cross replicas; set --page-token-key in production).
  explicit PageTokenCodec(std::string secret);

  // `position` is a list of integers describing where the next page starts.
  std::string Encode(absl::string_view tenant, absl::string_view filter_fingerprint,
                     const std::vector<int64_t>& position) const;

  // INVALID_ARGUMENT naming `page_token` when it was not issued for this
  // tenant and these filters, or was altered.
  absl::StatusOr<std::vector<int64_t>> Decode(absl::string_view token, absl::string_view tenant,
                                              absl::string_view filter_fingerprint) const;

  // A token that holds one number (a sequence): 0 for an empty token.
  absl::StatusOr<int64_t> DecodeAfter(absl::string_view token, absl::string_view tenant,
                                      absl::string_view filter_fingerprint) const;

  std::string EncodePosition(absl::string_view tenant, absl::string_view filter_fingerprint,
                             const PagePosition& position) const;
  absl::StatusOr<PagePosition> DecodePosition(absl::string_view token, absl::string_view tenant,
                                              absl::string_view filter_fingerprint) const;

 private:
  std::string Mac(absl::string_view tenant, absl::string_view fingerprint, absl::string_view body) const;
  std::string secret_;
};

// The fingerprint of a list request's filters: the request without its
// page_token and page_size, hashed.
template <class ListRequest>
std::string FilterFingerprint(ListRequest request) {
  request.clear_page_token();
  request.clear_page_size();
  return Sha256Hex(DeterministicBytes(request));
}

}  // namespace cx::shared

#endif  // CX_SHARED_PAGE_TOKEN_H_
