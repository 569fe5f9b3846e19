#include "shared/page_token.h"

#include <openssl/hmac.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "shared/status.h"

namespace cx::shared {
namespace {
constexpr size_t kMacBytes = 16;
}

PageTokenCodec::PageTokenCodec(std::string secret) : secret_(std::move(secret)) {
  if (secret_.empty()) {
    secret_.resize(32);
    RAND_bytes(reinterpret_cast<unsigned char*>(secret_.data()), static_cast<int>(secret_.size()));
  }
}

std::string PageTokenCodec::Mac(absl::string_view tenant, absl::string_view fingerprint,
                                absl::string_view body) const {
  std::string message = absl::StrCat(tenant.size(), ":", tenant, "|", fingerprint.size(), ":",
                                     fingerprint, "|", body);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length);
  return std::string(reinterpret_cast<char*>(digest), kMacBytes);
}

std::string PageTokenCodec::Encode(absl::string_view tenant, absl::string_view filter_fingerprint,
                                   const std::vector<int64_t>& position) const {
  return EncodePosition(tenant, filter_fingerprint, PagePosition{position, ""});
}

absl::StatusOr<std::vector<int64_t>> PageTokenCodec::Decode(absl::string_view token,
                                                           absl::string_view tenant,
                                                           absl::string_view filter_fingerprint) const {
  auto position = DecodePosition(token, tenant, filter_fingerprint);
  if (!position.ok()) return position.status();
  return position->numbers;
}

std::string PageTokenCodec::EncodePosition(absl::string_view tenant, absl::string_view filter_fingerprint,
                                           const PagePosition& position) const {
  std::string body = absl::StrCat(absl::StrJoin(position.numbers, ","), ";",
                                  absl::WebSafeBase64Escape(position.key));
  return absl::WebSafeBase64Escape(absl::StrCat(body, "|", Mac(tenant, filter_fingerprint, body)));
}

absl::StatusOr<PagePosition> PageTokenCodec::DecodePosition(absl::string_view token, absl::string_view tenant,
                                                            absl::string_view filter_fingerprint) const {
  auto invalid = [] {
    return InvalidField("page_token",
                        "is not a token this server issued for this query and caller");
  };
  std::string raw;
  if (token.size() > 1024 || !absl::WebSafeBase64Unescape(token, &raw)) return invalid();
  if (raw.size() < kMacBytes + 1 || raw[raw.size() - kMacBytes - 1] != '|') return invalid();
  std::string body = raw.substr(0, raw.size() - kMacBytes - 1);
  std::string mac = raw.substr(raw.size() - kMacBytes);
  std::string expected = Mac(tenant, filter_fingerprint, body);
  if (CRYPTO_memcmp(mac.data(), expected.data(), kMacBytes) != 0) return invalid();
  PagePosition position;
  size_t semicolon = body.find(';');
  if (semicolon == std::string::npos) return invalid();
  for (absl::string_view part : absl::StrSplit(body.substr(0, semicolon), ',', absl::SkipEmpty())) {
    int64_t value = 0;
    if (!absl::SimpleAtoi(part, &value)) return invalid();
    position.numbers.push_back(value);
  }
  if (!absl::WebSafeBase64Unescape(body.substr(semicolon + 1), &position.key)) return invalid();
  return position;
}

absl::StatusOr<int64_t> PageTokenCodec::DecodeAfter(absl::string_view token, absl::string_view tenant,
                                                    absl::string_view filter_fingerprint) const {
  if (token.empty()) return 0;
  auto position = Decode(token, tenant, filter_fingerprint);
  if (!position.ok()) return position.status();
  if (position->size() != 1) return InvalidField("page_token", "is not a token this server issued");
  return (*position)[0];
}

}  // namespace cx::shared
