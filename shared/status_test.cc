#include "shared/status.h"

#include "shared/testing/test_util.h"

namespace cx::shared {
namespace {

TEST(StatusTest, FieldViolationsSurviveTheTripThroughGrpc) {
  absl::Status s = WithViolations(absl::StatusCode::kInvalidArgument,
                                  {{"feedback.score", "must be between 0 and 10"}, {"request_id", "is required"}});
  grpc::Status g = ToGrpcStatus(s);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(g.error_message().find("feedback.score"), std::string::npos);
  absl::Status back = FromGrpcStatus(g);
  EXPECT_EQ(back.code(), absl::StatusCode::kInvalidArgument);
  auto violations = FieldViolations(back);
  ASSERT_EQ(violations.size(), 2u);
  EXPECT_EQ(violations[0].field, "feedback.score");
  EXPECT_EQ(violations[1].field, "request_id");
}

TEST(StatusTest, PrefixAndTruncation) {
  absl::Status s = PrefixFields(InvalidField("score", "bad"), "requests[2].");
  EXPECT_EQ(FieldViolations(s)[0].field, "requests[2].score");
  grpc::Status g = ToGrpcStatus(absl::InternalError(std::string(5000, 'x')));
  EXPECT_LT(g.error_message().size(), 1100u);
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
}

}  // namespace
}  // namespace cx::shared
