#include "shared/page_token.h"

#include "absl/strings/escaping.h"
#include "shared/testing/test_util.h"

namespace cx::shared {
namespace {

using testing::StatusIsField;

TEST(PageTokenTest, RoundTrips) {
  PageTokenCodec codec("secret");
  std::string token = codec.Encode("acme", "f1", {123, -4, 5});
  auto position = codec.Decode(token, "acme", "f1");
  ASSERT_TRUE(position.ok());
  EXPECT_EQ(*position, (std::vector<int64_t>{123, -4, 5}));
}

TEST(PageTokenTest, RefusesOtherTenantOtherFiltersAndTampering) {
  PageTokenCodec codec("secret");
  std::string token = codec.Encode("acme", "f1", {100, 7});
  EXPECT_THAT(codec.Decode(token, "globex", "f1"), StatusIsField(absl::StatusCode::kInvalidArgument, "page_token"));
  EXPECT_THAT(codec.Decode(token, "acme", "f2"), StatusIsField(absl::StatusCode::kInvalidArgument, "page_token"));
  std::string raw;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(token, &raw));
  raw[0] = raw[0] == '9' ? '8' : '9';  // move the position
  EXPECT_THAT(codec.Decode(absl::WebSafeBase64Escape(raw), "acme", "f1"),
              StatusIsField(absl::StatusCode::kInvalidArgument, "page_token"));
  EXPECT_THAT(codec.Decode("garbage!", "acme", "f1"), StatusIsField(absl::StatusCode::kInvalidArgument, "page_token"));
  PageTokenCodec other("another secret");
  EXPECT_THAT(other.Decode(token, "acme", "f1"), StatusIsField(absl::StatusCode::kInvalidArgument, "page_token"));
}

}  // namespace
}  // namespace cx::shared
