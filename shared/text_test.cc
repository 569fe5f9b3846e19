#include "shared/text.h"

#include "shared/testing/test_util.h"

namespace cx::shared {
namespace {

TEST(TextTest, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("héllo — 日本 🎉"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xe6\x97"));          // truncated
  EXPECT_EQ(Utf8Length("héllo 🎉"), 7u);
}

TEST(TextTest, Identifiers) {
  EXPECT_TRUE(IsIdentifier("cust-42:x", 128));
  EXPECT_FALSE(IsIdentifier("", 128));
  EXPECT_FALSE(IsIdentifier("has space", 128));
  EXPECT_FALSE(IsIdentifier("é", 128));
  EXPECT_FALSE(IsIdentifier(std::string(129, 'a'), 128));
}

}  // namespace
}  // namespace cx::shared
