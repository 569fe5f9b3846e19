#include "shared/child_process.h"

#include <csignal>
#include <string>

#include <gtest/gtest.h>

#include "absl/time/clock.h"

namespace cx::shared {
namespace {

// A child that prints more than a pipe holds (64 KiB) without anyone asking
// for a line still runs to its end: the output is read as it comes.
TEST(ChildProcessTest, AChildThatPrintsMoreThanAPipeHoldsIsNotBlocked) {
  ChildProcess child("/bin/sh", {"-c", "head -c 1000000 /dev/zero | tr '\\0' x; echo; echo last line"});
  ASSERT_TRUE(child.Start());
  EXPECT_EQ(child.Wait(absl::Seconds(20)), 0);
  const std::string out = child.output();
  EXPECT_EQ(out.size(), 1000000u + 1 + 10);
  EXPECT_EQ(out.substr(out.size() - 10), "last line\n");
}

TEST(ChildProcessTest, WaitForLineReturnsEachMatchingLineOnceInOrder) {
  ChildProcess child("/bin/sh", {"-c", "echo '{\"msg\":\"a\",\"port\":\"1\"}'; echo other; "
                                       "echo '{\"msg\":\"a\",\"port\":\"2\"}'; sleep 30"});
  ASSERT_TRUE(child.Start());
  EXPECT_EQ(child.WaitForLoggedPort("\"msg\":\"a\"", absl::Seconds(10)), 1);
  EXPECT_EQ(child.WaitForLoggedPort("\"msg\":\"a\"", absl::Seconds(10)), 2);
  // No third: the wait ends at its timeout, the child still running.
  EXPECT_FALSE(child.WaitForLine("\"msg\":\"a\"", absl::Milliseconds(200)).has_value());
  child.Signal(SIGKILL);
  EXPECT_EQ(child.Wait(absl::Seconds(10)), 128 + SIGKILL);
}

TEST(ChildProcessTest, WaitForLineEndsWhenTheChildClosesItsOutput) {
  ChildProcess child("/bin/sh", {"-c", "echo only"});
  ASSERT_TRUE(child.Start());
  const absl::Time start = absl::Now();
  EXPECT_FALSE(child.WaitForLine("never", absl::Seconds(20)).has_value());
  EXPECT_LT(absl::Now() - start, absl::Seconds(15));  // not the timeout
  EXPECT_EQ(child.Wait(absl::Seconds(10)), 0);
  EXPECT_EQ(child.output(), "only\n");
}

}  // namespace
}  // namespace cx::shared
