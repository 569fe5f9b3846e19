#include "shared/csv.h"

#include "absl/strings/str_cat.h"

namespace cx::shared {

int CsvReader::Get() {
  const int c = in_.get();
  if (c != std::char_traits<char>::eof()) ++bytes_;
  return c;
}

absl::StatusOr<bool> CsvReader::Next(std::vector<std::string>* fields) {
  constexpr int kEof = std::char_traits<char>::eof();
  fields->clear();
  if (!started_) {
    started_ = true;
    if (in_.peek() == 0xEF) {  // UTF-8 byte-order mark
      char bom[3];
      in_.read(bom, 3);
      if (in_.gcount() == 3 && static_cast<unsigned char>(bom[1]) == 0xBB &&
          static_cast<unsigned char>(bom[2]) == 0xBF) {
        bytes_ += 3;
      } else {
        in_.clear();
        in_.seekg(0);
      }
    }
  }
  int c = Get();
  if (c == kEof) return false;
  record_line_ = line_;
  std::string field;
  size_t record_bytes = 0;
  bool quoted = false, after_quote = false;
  auto too_long = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("line ", record_line_, ": a record longer than ", kMaxRecordBytes, " bytes"));
  };
  for (;; c = Get()) {
    if (++record_bytes > kMaxRecordBytes) return too_long();
    if (quoted) {
      if (c == kEof) return absl::InvalidArgumentError(absl::StrCat("line ", record_line_, ": unterminated quoted field"));
      if (c == '"') {
        if (in_.peek() == '"') {
          Get();
          field.push_back('"');
        } else {
          quoted = false;
          after_quote = true;
        }
        continue;
      }
      if (c == '\n') ++line_;
      field.push_back(static_cast<char>(c));
      continue;
    }
    if (c == kEof || c == '\n' || (c == '\r' && in_.peek() == '\n')) {
      if (c == '\r') Get();
      if (c != kEof) ++line_;
      fields->push_back(std::move(field));
      return true;
    }
    if (c == ',') {
      fields->push_back(std::move(field));
      field.clear();
      after_quote = false;
      continue;
    }
    if (c == '"') {
      if (!field.empty() || after_quote) {
        return absl::InvalidArgumentError(absl::StrCat("line ", line_, ": a quote inside an unquoted field"));
      }
      quoted = true;
      continue;
    }
    if (after_quote) {
      return absl::InvalidArgumentError(absl::StrCat("line ", line_, ": characters after a closing quote"));
    }
    field.push_back(static_cast<char>(c));
  }
}

std::string CsvField(absl::string_view value) {
  const bool quote = value.find_first_of(",\"\r\n") != absl::string_view::npos ||
                     (!value.empty() && (value.front() == ' ' || value.back() == ' '));
  if (!quote) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string CsvLine(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) out.push_back(',');
    out += CsvField(fields[i]);
  }
  out += "\r\n";
  return out;
}

}  // namespace cx::shared
