// Per-tenant request-rate limit: one token bucket per tenant (the tenant of
// the call's token; the service identity is a tenant of its own). A call
// over the limit gets RESOURCE_EXHAUSTED before any work is done.
#ifndef CX_SHARED_RATE_LIMIT_H_
#define CX_SHARED_RATE_LIMIT_H_

#include <functional>
#include <mutex>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace cx::shared {

struct RateLimitOptions {
  double per_second = 0;  // 0: no limit
  double burst = 0;       // bucket size; at least 1 when limited
};

class TenantRateLimiter {
 public:
  using Clock = std::function<absl::Time()>;
  explicit TenantRateLimiter(RateLimitOptions options, Clock clock = [] { return absl::Now(); });

  bool enabled() const { return options_.per_second > 0; }
  // Takes one token of `tenant`'s bucket, or says when to retry.
  absl::Status Admit(const std::string& tenant);

 private:
  struct Bucket {
    double tokens;
    absl::Time refilled;
  };
  RateLimitOptions options_;
  Clock clock_;
  std::mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_;  // bounded: tenants come from the tokens file
};

}  // namespace cx::shared

#endif  // CX_SHARED_RATE_LIMIT_H_
