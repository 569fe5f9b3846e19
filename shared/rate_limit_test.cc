#include "shared/rate_limit.h"

#include <gtest/gtest.h>

namespace cx::shared {
namespace {

TEST(RateLimitTest, BurstThenRefillAtTheRatePerTenant) {
  absl::Time now = absl::FromUnixSeconds(1000);
  TenantRateLimiter limiter({/*per_second=*/10, /*burst=*/3}, [&] { return now; });
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Admit("acme").ok()) << i;
  absl::Status over = limiter.Admit("acme");
  EXPECT_EQ(over.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(over.message().find("retry in 100 ms"), std::string::npos) << over;
  EXPECT_TRUE(limiter.Admit("globex").ok()) << "each tenant has its own bucket";
  now += absl::Milliseconds(100);
  EXPECT_TRUE(limiter.Admit("acme").ok());
  EXPECT_FALSE(limiter.Admit("acme").ok());
  now += absl::Seconds(60);  // refill stops at the burst
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Admit("acme").ok()) << i;
  EXPECT_FALSE(limiter.Admit("acme").ok());
}

TEST(RateLimitTest, ZeroRateMeansNoLimit) {
  TenantRateLimiter limiter({0, 0});
  EXPECT_FALSE(limiter.enabled());
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(limiter.Admit("acme").ok());
}

}  // namespace
}  // namespace cx::shared
