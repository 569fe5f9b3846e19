#include "shared/text.h"

#include "absl/strings/ascii.h"

namespace cx::shared {

bool IsValidUtf8(absl::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) { ++i; continue; }
    size_t len;
    unsigned min;
    unsigned cp;
    if ((c & 0xE0) == 0xC0) { len = 2; min = 0x80; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; min = 0x800; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; min = 0x10000; cp = c & 0x07; }
    else return false;
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

size_t Utf8Length(absl::string_view text) {
  size_t count = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++count;
  }
  return count;
}

bool IsIdentifier(absl::string_view text, size_t max_length) {
  if (text.empty() || text.size() > max_length) return false;
  for (unsigned char c : text) {
    if (c <= 0x20 || c >= 0x7F) return false;
  }
  return true;
}

bool IsEventType(absl::string_view type) {
  if (type.empty() || type.size() > 64 || !absl::ascii_islower(static_cast<unsigned char>(type[0]))) return false;
  for (unsigned char c : type) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_' || c == '.')) return false;
  }
  return true;
}

bool IsLabel(absl::string_view label) {
  if (label.empty() || label.size() > 64) return false;
  for (unsigned char c : label) {
    if (!(absl::ascii_isalnum(c) || c == '_' || c == '.' || c == ':' || c == '/' || c == '-')) return false;
  }
  return true;
}

}  // namespace cx::shared
