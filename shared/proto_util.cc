#include "shared/proto_util.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/time_util.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "shared/auth.h"
#include "shared/text.h"

namespace cx::shared {

using google::protobuf::util::TimeUtil;

bool IsValidTimestamp(const google::protobuf::Timestamp& t) {
  return t.seconds() >= TimeUtil::kTimestampMinSeconds && t.seconds() <= TimeUtil::kTimestampMaxSeconds &&
         t.nanos() >= 0 && t.nanos() <= 999999999;
}

absl::Time ToTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

google::protobuf::Timestamp ToProtoTime(absl::Time t) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

OptionalRange CheckOptionalRange(const cx::common::v1::TimeRange& range, const std::string& field,
                                 std::vector<FieldViolation>* violations) {
  OptionalRange out;
  if (range.has_start_time()) {
    if (IsValidTimestamp(range.start_time())) out.from_us = absl::ToUnixMicros(ToTime(range.start_time()));
    else violations->push_back({field + ".start_time", "is not a valid timestamp"});
  }
  if (range.has_end_time()) {
    if (IsValidTimestamp(range.end_time())) out.to_us = absl::ToUnixMicros(ToTime(range.end_time()));
    else violations->push_back({field + ".end_time", "is not a valid timestamp"});
  }
  if (out.from_us && out.to_us && *out.from_us >= *out.to_us) {
    violations->push_back({field, "start_time must be before end_time"});
  }
  return out;
}

void CheckEventTime(const google::protobuf::Timestamp& t, absl::Time now, absl::Duration future_skew,
                    const std::string& field, std::vector<FieldViolation>* violations) {
  static const absl::Time kEarliest =
      absl::FromCivil(absl::CivilSecond(2000, 1, 1, 0, 0, 0), absl::UTCTimeZone());
  if (!IsValidTimestamp(t)) {
    violations->push_back({field, "is not a valid timestamp"});
  } else if (ToTime(t) < kEarliest) {
    violations->push_back({field, "is before 2000-01-01"});
  } else if (ToTime(t) > now + future_skew) {
    violations->push_back({field, absl::StrCat("is more than ", absl::FormatDuration(future_skew),
                                               " in the future")});
  }
}

std::string DeterministicBytes(const google::protobuf::Message& message) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream out(&stream);
    out.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&out);
  }
  return bytes;
}

std::string PayloadHash(const google::protobuf::Message& message) {
  return Sha256Hex(DeterministicBytes(message)).substr(0, 32);
}

void AppendMessageField(int field_number, absl::string_view serialized, std::string* out) {
  auto varint = [out](uint64_t v) {
    while (v >= 0x80) {
      out->push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out->push_back(static_cast<char>(v));
  };
  varint((static_cast<uint64_t>(field_number) << 3) | 2);  // wire type 2: length-delimited
  varint(serialized.size());
  out->append(serialized.data(), serialized.size());
}

cx::common::v1::ItemError ToItemError(const absl::Status& status) {
  cx::common::v1::ItemError error;
  error.set_code(static_cast<int>(status.code()));
  error.set_message(std::string(status.message()));
  for (const auto& v : FieldViolations(status)) {
    auto* fv = error.add_field_violations();
    fv->set_field(v.field);
    fv->set_description(v.description);
  }
  return error;
}

absl::Status KeyReusedStatus(absl::string_view field) {
  return WithViolations(absl::StatusCode::kAlreadyExists,
                        {{std::string(field), "was already used with a different payload"}});
}

bool IsCrmSystem(absl::string_view system) {
  if (system.empty() || system.size() > 32) return false;
  for (unsigned char c : system) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_' || c == '-')) return false;
  }
  return true;
}

void CheckCrmReference(const cx::common::v1::CrmReference& ref, const std::string& prefix,
                       std::vector<FieldViolation>* violations) {
  if (!IsCrmSystem(ref.system())) {
    violations->push_back({prefix + "system", "must be 1 to 32 characters of [a-z0-9_-]"});
  }
  if (!IsIdentifier(ref.id(), 128)) violations->push_back({prefix + "id", kIdentifierRule});
}

}  // namespace cx::shared
