// What the request fuzzers share: the first input byte picks the RPC and the
// principal, the rest is the request's wire bytes, parsed the way the gRPC
// edge parses them (shared::ParseRequest) and handed to the service's own
// manager over an in-memory SQLite store, as the adapter would.
#ifndef CX_FUZZ_FUZZ_UTIL_H_
#define CX_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <future>
#include <string>

#include "absl/status/statusor.h"
#include "shared/auth.h"
#include "shared/request_parser.h"

namespace cx::fuzz {

struct Input {
  int method;             // which RPC
  shared::Principal who;  // a tenant admin, or the service identity
  std::string wire;       // the request bytes
};

inline bool Split(const uint8_t* data, size_t size, int methods, Input* in) {
  if (size == 0) return false;
  in->method = (data[0] & 0x7f) % methods;
  if (data[0] & 0x80) {
    in->who = {"*", shared::kRoleService, "token:fuzz"};
  } else {
    in->who = {"acme", shared::kRoleAdmin | shared::kRoleIngest | shared::kRoleRead, "token:fuzz"};
  }
  in->wire.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  return true;
}

// Parses the request; on success calls `call(request)` and checks that an
// error names what was wrong (a status without a message is a bug).
template <class Req, class Call>
void Serve(const std::string& wire, Call&& call) {
  Req request;
  if (!shared::ParseRequest(wire, &request).ok()) return;
  auto result = call(request);
  if (!result.ok() && result.status().message().empty()) __builtin_trap();
}

// For the managers that answer through a callback (after a group commit).
template <class Resp, class Start>
absl::StatusOr<Resp> Wait(Start&& start) {
  std::promise<absl::StatusOr<Resp>> promise;
  auto future = promise.get_future();
  start([&promise](absl::StatusOr<Resp> r) { promise.set_value(std::move(r)); });
  return future.get();
}

// An import stream of one chunk: the item parsed, processed, the summary
// taken.
template <class Item, class StartImport>
void ImportOne(const std::string& wire, StartImport&& start_import) {
  Item item;
  if (!shared::ParseRequest(wire, &item).ok()) return;
  auto session = start_import();
  std::promise<absl::Status> processed;
  session->Process({item}, 0, [&](absl::Status s) { processed.set_value(s); });
  (void)processed.get_future().get();
  (void)session->Finish();
}

}  // namespace cx::fuzz

#endif  // CX_FUZZ_FUZZ_UTIL_H_
