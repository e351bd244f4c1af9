// UTF-8 checks shared by request validation and the tokenizers.
//
//   size_t bad = ccs::FindInvalidUtf8(text);
//   if (bad != absl::string_view::npos) { ... byte offset `bad` is invalid ... }
//
// Stateless; thread-safe.
#ifndef CCS_MODEL_UTF8_H_
#define CCS_MODEL_UTF8_H_

#include <cstddef>
#include "absl/strings/string_view.h"

namespace ccs {

// FindInvalidUtf8 returns the byte offset of the first byte that does not
// start or continue a well-formed UTF-8 sequence (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), or npos if `text` is valid.
size_t FindInvalidUtf8(absl::string_view text);

// Utf8CompletePrefix returns the length of the longest prefix of `bytes` that
// does not end inside a multi-byte sequence: what a stream can emit now,
// keeping the rest until more bytes arrive. Invalid bytes count as complete
// (they are never going to become valid).
size_t Utf8CompletePrefix(absl::string_view bytes);

}  // namespace ccs

#endif  // CCS_MODEL_UTF8_H_
