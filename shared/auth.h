// Bearer-token authentication and role checks. The tokens file holds one
// line per token: "<sha256-hex-of-token> <tenant> <role>[,<role>...]";
// blank lines and lines starting with '#' are ignored. Tokens are never
// stored or logged in clear. The tenant of a call always comes from its token.
#ifndef CX_SHARED_AUTH_H_
#define CX_SHARED_AUTH_H_

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "absl/status/statusor.h"

namespace cx::shared {

enum Role : unsigned {
  kRoleIngest = 1u << 0,
  kRoleRead = 1u << 1,
  kRoleAdmin = 1u << 2,
  // Reads the change feeds of every tenant, and nothing else.
  kRoleService = 1u << 3,
};

struct Principal {
  std::string tenant;  // "*" for the service identity
  unsigned roles = 0;
  // Who acted, for audit records: "token:" and the first 12 hex digits of
  // the token's hash (names the token without revealing it).
  std::string actor;
  bool Has(unsigned role) const { return (roles & role) != 0; }
  bool IsService() const { return Has(kRoleService); }
};

std::string Sha256Hex(absl::string_view data);

// Tenant names: 1 to 64 characters of [A-Za-z0-9_.-] (every table is keyed by them).
bool IsTenantName(absl::string_view tenant);

class TokenStore {
 public:
  // Parses the contents of a tokens file.
  static absl::StatusOr<std::shared_ptr<TokenStore>> FromText(absl::string_view text);
  static absl::StatusOr<std::shared_ptr<TokenStore>> FromFile(const std::string& path);

  // From the value of the "authorization" metadata ("Bearer <token>").
  // Missing or unknown token -> UNAUTHENTICATED.
  absl::StatusOr<Principal> Authenticate(absl::string_view authorization) const;

  // Authenticates and checks that the principal holds one of `any_of_roles`
  // (admin holds ingest and read) -> PERMISSION_DENIED otherwise.
  absl::StatusOr<Principal> Authorize(absl::string_view authorization, unsigned any_of_roles) const;

 private:
  std::map<std::string, Principal> by_hash_;
};

// The tokens in force, replaced without a restart when the tokens file
// changes (polled) or on SIGHUP (see RunReloadHooks), so tokens rotate: a
// removed token stops working at the next call. A file that does not parse
// keeps the tokens in force and logs why (never a token or a hash).
class TokenSource {
 public:
  // Fixed tokens, never reloaded (tests, benchmarks).
  explicit TokenSource(std::shared_ptr<const TokenStore> fixed);
  // Reloads from `path` every `poll` (zero: never) when its size, time or
  // inode changed, and on SIGHUP.
  TokenSource(std::shared_ptr<const TokenStore> initial, std::string path, absl::Duration poll);
  ~TokenSource();
  TokenSource(const TokenSource&) = delete;
  TokenSource& operator=(const TokenSource&) = delete;

  std::shared_ptr<const TokenStore> Current() const;
  // Reads the file now; on error the tokens in force stay.
  absl::Status Reload();
  // How many reloads have replaced the tokens (for tests and logs).
  int64_t generation() const { return generation_.load(); }

 private:
  void Watch(absl::Duration poll);
  std::string FileStamp() const;

  const std::string path_;
  mutable std::mutex mu_;
  std::shared_ptr<const TokenStore> current_;
  std::string stamp_;
  std::atomic<int64_t> generation_{0};
  int reload_hook_ = -1;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread watcher_;
};

}  // namespace cx::shared

#endif  // CX_SHARED_AUTH_H_
