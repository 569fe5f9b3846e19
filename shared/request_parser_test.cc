#include "shared/request_parser.h"

#include "cx/feedback/v1/feedback_service.pb.h"
#include "shared/testing/test_util.h"

namespace cx::shared {
namespace {

using testing::StatusIsField;

// Serializes with a placeholder, then swaps in bytes that are not UTF-8.
std::string WithInvalidUtf8(const google::protobuf::Message& message, const std::string& placeholder) {
  std::string wire = message.SerializeAsString();
  auto at = wire.find(placeholder);
  EXPECT_NE(at, std::string::npos);
  wire[at] = '\xff';
  wire[at + 1] = '\xfe';
  return wire;
}

TEST(RequestParserTest, ParsesValidMessages) {
  cx::feedback::v1::SubmitFeedbackRequest in;
  in.set_request_id("r1");
  in.mutable_feedback()->set_comment("très bien");
  cx::feedback::v1::SubmitFeedbackRequest out;
  ASSERT_TRUE(ParseRequest(in.SerializeAsString(), &out).ok());
  EXPECT_EQ(out.feedback().comment(), "très bien");
}

TEST(RequestParserTest, NamesTheFieldHoldingInvalidUtf8) {
  cx::feedback::v1::SubmitFeedbackRequest in;
  in.set_request_id("r1");
  in.mutable_feedback()->set_comment("PLACEHOLDER");
  cx::feedback::v1::SubmitFeedbackRequest out;
  EXPECT_THAT(ParseRequest(WithInvalidUtf8(in, "PLACEHOLDER"), &out),
              StatusIsField(absl::StatusCode::kInvalidArgument, "feedback.comment"));
}

TEST(RequestParserTest, NamesRepeatedAndNestedPositions) {
  cx::feedback::v1::BatchSubmitFeedbackRequest in;
  in.add_requests()->set_request_id("a");
  auto* second = in.add_requests();
  second->mutable_feedback()->add_tags("ok");
  second->mutable_feedback()->add_tags("PLACEHOLDER");
  cx::feedback::v1::BatchSubmitFeedbackRequest out;
  EXPECT_THAT(ParseRequest(WithInvalidUtf8(in, "PLACEHOLDER"), &out),
              StatusIsField(absl::StatusCode::kInvalidArgument, "requests[1].feedback.tags[1]"));
}

TEST(RequestParserTest, MalformedBytesAreInvalidArgument) {
  cx::feedback::v1::SubmitFeedbackRequest out;
  EXPECT_EQ(ParseRequest(std::string("\xff\xff\xff", 3), &out).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cx::shared
