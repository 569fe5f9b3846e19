// RFC 4180 CSV: a streaming reader (quoted fields with "" escapes, commas
// and line breaks inside quotes, CRLF or LF line ends, a UTF-8 byte-order
// mark at the start ignored) and the matching field escaping for writers.
#ifndef CX_SHARED_CSV_H_
#define CX_SHARED_CSV_H_

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cx::shared {

class CsvReader {
 public:
  explicit CsvReader(std::istream& in) : in_(in) {}

  // Reads the next record into *fields. false at the end of input; an error
  // (INVALID_ARGUMENT naming the line) for an unterminated quote, a quote
  // inside an unquoted field, or a record longer than `max_record_bytes`.
  absl::StatusOr<bool> Next(std::vector<std::string>* fields);

  // The line the last record returned started on (1-based).
  int64_t line() const { return record_line_; }
  // Bytes consumed so far (for progress).
  int64_t bytes() const { return bytes_; }

  static constexpr size_t kMaxRecordBytes = 1 << 20;

 private:
  int Get();

  std::istream& in_;
  int64_t line_ = 1, record_line_ = 0, bytes_ = 0;
  bool started_ = false;
};

// A field as CSV: quoted when it holds a comma, quote, CR or LF, or starts
// or ends with a space.
std::string CsvField(absl::string_view value);
// A record as a CSV line ending in "\r\n".
std::string CsvLine(const std::vector<std::string>& fields);

}  // namespace cx::shared

#endif  // CX_SHARED_CSV_H_
