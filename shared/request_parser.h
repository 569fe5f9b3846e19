// Parses request messages from raw gRPC buffers. When protobuf refuses a
// message because a string field holds invalid UTF-8, the request is parsed
// again leniently (strings read as bytes) to name the offending field, so
// the caller gets INVALID_ARGUMENT with a field violation instead of the
// library's INTERNAL "deserialization failed".
#ifndef CX_SHARED_REQUEST_PARSER_H_
#define CX_SHARED_REQUEST_PARSER_H_

#include <string>

#include <google/protobuf/message.h>
#include <grpcpp/support/byte_buffer.h>

#include "absl/status/status.h"

namespace cx::shared {

absl::Status ParseRequest(const grpc::ByteBuffer& buffer, google::protobuf::Message* message);
absl::Status ParseRequest(const std::string& wire, google::protobuf::Message* message);

// Serializes a response into a raw buffer.
grpc::ByteBuffer SerializeResponse(const google::protobuf::Message& message);

}  // namespace cx::shared

#endif  // CX_SHARED_REQUEST_PARSER_H_
