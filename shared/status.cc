#include "shared/status.h"

#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace cx::shared {
namespace {

constexpr absl::string_view kBadRequestType = "type.googleapis.com/google.rpc.BadRequest";
constexpr size_t kMaxMessageBytes = 1024;

std::string JoinViolations(const std::vector<FieldViolation>& violations) {
  return absl::StrJoin(violations, "; ", [](std::string* out, const FieldViolation& v) {
    absl::StrAppend(out, v.field, ": ", v.description);
  });
}

}  // namespace

absl::Status InvalidField(absl::string_view field, absl::string_view description) {
  return WithViolations(absl::StatusCode::kInvalidArgument,
                        {{std::string(field), std::string(description)}});
}

absl::Status WithViolations(absl::StatusCode code, const std::vector<FieldViolation>& violations) {
  absl::Status status(code, JoinViolations(violations));
  google::rpc::BadRequest bad_request;
  for (const auto& v : violations) {
    auto* fv = bad_request.add_field_violations();
    fv->set_field(v.field);
    fv->set_description(v.description);
  }
  status.SetPayload(kBadRequestType, absl::Cord(bad_request.SerializeAsString()));
  return status;
}

std::vector<FieldViolation> FieldViolations(const absl::Status& status) {
  std::vector<FieldViolation> out;
  auto payload = status.GetPayload(kBadRequestType);
  if (!payload) return out;
  google::rpc::BadRequest bad_request;
  if (!bad_request.ParseFromString(std::string(*payload))) return out;
  for (const auto& fv : bad_request.field_violations()) {
    out.push_back({fv.field(), fv.description()});
  }
  return out;
}

absl::Status PrefixFields(const absl::Status& status, absl::string_view prefix) {
  auto violations = FieldViolations(status);
  if (violations.empty()) return status;
  for (auto& v : violations) v.field = absl::StrCat(prefix, v.field);
  return WithViolations(status.code(), violations);
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  std::string message(status.message());
  if (message.size() > kMaxMessageBytes) {
    message.resize(kMaxMessageBytes);
    message += "...";
  }
  auto code = static_cast<grpc::StatusCode>(status.code());
  auto violations = FieldViolations(status);
  if (violations.empty()) return grpc::Status(code, message);
  google::rpc::Status rich;
  rich.set_code(static_cast<int>(code));
  rich.set_message(message);
  google::rpc::BadRequest bad_request;
  for (const auto& v : violations) {
    auto* fv = bad_request.add_field_violations();
    fv->set_field(v.field);
    fv->set_description(v.description);
  }
  auto* any = rich.add_details();
  any->set_type_url(std::string(kBadRequestType));
  any->set_value(bad_request.SerializeAsString());
  return grpc::Status(code, message, rich.SerializeAsString());
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  auto code = static_cast<absl::StatusCode>(status.error_code());
  google::rpc::Status rich;
  if (!status.error_details().empty() && rich.ParseFromString(status.error_details())) {
    std::vector<FieldViolation> violations;
    for (const auto& any : rich.details()) {
      google::rpc::BadRequest bad_request;
      if (any.type_url() == kBadRequestType && bad_request.ParseFromString(any.value())) {
        for (const auto& fv : bad_request.field_violations()) {
          violations.push_back({fv.field(), fv.description()});
        }
      }
    }
    if (!violations.empty()) return WithViolations(code, violations);
  }
  return absl::Status(code, status.error_message());
}

}  // namespace cx::shared
