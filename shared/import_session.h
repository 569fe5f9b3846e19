// What a client-streaming import does with its items, chunk by chunk. Kept
// free of gRPC headers so managers can implement it.
#ifndef CX_SHARED_IMPORT_SESSION_H_
#define CX_SHARED_IMPORT_SESSION_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"

namespace cx::shared {

template <class Item, class Summary>
class ImportSession {
 public:
  virtual ~ImportSession() = default;
  // Stores one chunk; `first_index` is the stream position of chunk[0].
  // Calls done once the chunk is committed (or with a call-level error).
  virtual void Process(std::vector<Item> chunk, int64_t first_index,
                       std::function<void(absl::Status)> done) = 0;
  virtual Summary Finish() = 0;
};

}  // namespace cx::shared

#endif  // CX_SHARED_IMPORT_SESSION_H_
