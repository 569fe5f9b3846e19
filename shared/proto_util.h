// Protobuf helpers every service's domain layer needs: timestamps, the
// deterministic bytes that payload hashes are taken of, the per-item error
// of batch results, and checks of the shared contract types.
#ifndef CX_SHARED_PROTO_UTIL_H_
#define CX_SHARED_PROTO_UTIL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cx/common/v1/common.pb.h"
#include "shared/status.h"

namespace cx::shared {

// Inside protobuf's Timestamp range with valid nanos.
bool IsValidTimestamp(const google::protobuf::Timestamp& t);
absl::Time ToTime(const google::protobuf::Timestamp& t);
google::protobuf::Timestamp ToProtoTime(absl::Time t);  // microsecond precision

// Checks an event time: valid, not before 2000-01-01, at most `future_skew`
// after `now`. Appends a violation of `field` otherwise.
void CheckEventTime(const google::protobuf::Timestamp& t, absl::Time now, absl::Duration future_skew,
                    const std::string& field, std::vector<FieldViolation>* violations);

// A filter range whose bounds are both optional: checks each bound set and
// their order (violations named `field` + ".start_time" / ".end_time" /
// `field`), and returns them in microseconds.
struct OptionalRange {
  std::optional<int64_t> from_us;  // inclusive
  std::optional<int64_t> to_us;    // exclusive
};
OptionalRange CheckOptionalRange(const cx::common::v1::TimeRange& range, const std::string& field,
                                 std::vector<FieldViolation>* violations);

// Serialization with map entries in key order, so equal messages hash equally.
std::string DeterministicBytes(const google::protobuf::Message& message);

// The first 32 hex digits of SHA-256 of the deterministic bytes.
std::string PayloadHash(const google::protobuf::Message& message);

// Appends to the serialized message `out` a field `field_number` holding
// the already serialized submessage `serialized`: what setting that field
// and serializing again gives, without parsing or serializing the
// submessage a second time. The field must not be set in `out` already.
void AppendMessageField(int field_number, absl::string_view serialized, std::string* out);

// The per-item error of a batch or import result.
cx::common::v1::ItemError ToItemError(const absl::Status& status);

// ALREADY_EXISTS naming the idempotency key that was reused with another payload.
absl::Status KeyReusedStatus(absl::string_view field);

// CRM system names: 1 to 32 characters of [a-z0-9_-].
bool IsCrmSystem(absl::string_view system);

// Checks a CRM reference; violations are named `prefix` + "system" / "id".
void CheckCrmReference(const cx::common::v1::CrmReference& ref, const std::string& prefix,
                       std::vector<FieldViolation>* violations);

// Parses a record the service stored itself: DATA_LOSS when it does not.
template <class Message>
absl::StatusOr<Message> ParseStored(const std::string& bytes) {
  Message m;
  if (!m.ParseFromString(bytes)) return absl::DataLossError("a stored record does not parse");
  return m;
}

// The description used for every id-like field.
inline constexpr char kIdentifierRule[] = "must be 1 to 128 printable ASCII characters without spaces";

}  // namespace cx::shared

#endif  // CX_SHARED_PROTO_UTIL_H_
