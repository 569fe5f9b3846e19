// libFuzzer target: the CSV reader of cxctl's imports. Every input either
// reads to the end or stops with an error naming its line; a record never
// holds more bytes than the input.
#include <sstream>

#include "shared/csv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  cx::shared::CsvReader reader(in);
  std::vector<std::string> fields;
  for (size_t records = 0; records <= size + 1; ++records) {
    auto more = reader.Next(&fields);
    if (!more.ok()) {
      if (more.status().message().find("line") == std::string::npos) __builtin_trap();
      return 0;
    }
    if (!*more) return 0;
    size_t bytes = 0;
    for (const auto& field : fields) bytes += field.size();
    if (bytes > size) __builtin_trap();
    if (reader.bytes() > static_cast<int64_t>(size)) __builtin_trap();
  }
  __builtin_trap();  // more records than bytes: the reader does not advance
}
