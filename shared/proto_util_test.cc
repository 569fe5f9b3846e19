#include "shared/proto_util.h"

#include <google/protobuf/util/message_differencer.h>

#include "gtest/gtest.h"

namespace cx::shared {
namespace {

// A message serialized without a submessage field, with that field appended
// as bytes, parses as the message with the field set.
TEST(ProtoUtilTest, AnAppendedMessageFieldParsesAsTheFieldSet) {
  cx::common::v1::TimeRange expected;
  expected.mutable_start_time()->set_seconds(1'700'000'000);
  expected.mutable_end_time()->set_seconds(1'700'000'600);
  expected.mutable_end_time()->set_nanos(5000);

  cx::common::v1::TimeRange without = expected;
  without.clear_end_time();
  std::string bytes = without.SerializeAsString();
  AppendMessageField(cx::common::v1::TimeRange::kEndTimeFieldNumber, expected.end_time().SerializeAsString(), &bytes);

  cx::common::v1::TimeRange parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(parsed, expected)) << parsed.DebugString();
  EXPECT_EQ(bytes.size(), expected.ByteSizeLong());

  // A submessage longer than 127 bytes takes a two-byte length.
  std::string big(300, '\0');
  std::string framed;
  AppendMessageField(1, big, &framed);
  EXPECT_EQ(framed.size(), 1 + 2 + big.size());
  EXPECT_EQ(static_cast<unsigned char>(framed[1]), 0x80 | (300 & 0x7f));
  EXPECT_EQ(static_cast<unsigned char>(framed[2]), 300 >> 7);
}

}  // namespace
}  // namespace cx::shared
