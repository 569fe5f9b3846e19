// Text checks used by request validation in every service.
#ifndef CX_SHARED_TEXT_H_
#define CX_SHARED_TEXT_H_

#include <cstddef>
#include "absl/strings/string_view.h"

namespace cx::shared {

// Strict UTF-8: no overlongs, no surrogates, nothing above U+10FFFF.
bool IsValidUtf8(absl::string_view text);

// Code points in valid UTF-8 text.
size_t Utf8Length(absl::string_view text);

// 1..max_length printable ASCII characters without spaces (ids, keys).
bool IsIdentifier(absl::string_view text, size_t max_length);

// Event types: [a-z][a-z0-9_.]*, at most 64 characters.
bool IsEventType(absl::string_view type);

// Labels such as segments, plans and tags: [A-Za-z0-9_.:/-], 1 to 64
// characters.
bool IsLabel(absl::string_view label);

}  // namespace cx::shared

#endif  // CX_SHARED_TEXT_H_
