#include "shared/rate_limit.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace cx::shared {

TenantRateLimiter::TenantRateLimiter(RateLimitOptions options, Clock clock)
    : options_(options), clock_(std::move(clock)) {
  options_.burst = std::max(options_.burst, 1.0);
}

absl::Status TenantRateLimiter::Admit(const std::string& tenant) {
  if (!enabled()) return absl::OkStatus();
  const absl::Time now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = buckets_.try_emplace(tenant, Bucket{options_.burst, now});
  Bucket& b = it->second;
  if (!inserted && now > b.refilled) {
    b.tokens = std::min(options_.burst, b.tokens + absl::ToDoubleSeconds(now - b.refilled) * options_.per_second);
    b.refilled = now;
  }
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return absl::OkStatus();
  }
  const double wait_ms = std::ceil((1 - b.tokens) / options_.per_second * 1000);
  return absl::ResourceExhaustedError(absl::StrCat("the tenant's request rate is over its limit of ",
                                                   options_.per_second, " calls/s; retry in ", wait_ms, " ms"));
}

}  // namespace cx::shared
