// Character classes of the GPT-2 pre-tokenizer regex, and UTF-8 decoding.
//
//   size_t length;
//   char32_t c = ccs::tokenizer_internal::DecodeUtf8(text, i, &length);
//   if (ccs::tokenizer_internal::ClassOf(c) == CharClass::kLetter) ...
//
// The classes are those of Hugging Face tokenizers (Unicode 16), read off the
// reference by gen_unicode_classes.py. Stateless; thread-safe.
#ifndef CCS_MODEL_TOKENIZER_INTERNAL_UNICODE_CLASSES_H_
#define CCS_MODEL_TOKENIZER_INTERNAL_UNICODE_CLASSES_H_

#include <cstddef>

#include "absl/strings/string_view.h"

namespace ccs {
namespace tokenizer_internal {

// CharClass is what the regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// needs to know of a code point. kNumber is also Rust's char::is_numeric (the
// Digits pre-tokenizer); kSpace is Unicode White_Space (25 code points).
enum class CharClass : unsigned char { kOther, kLetter, kNumber, kSpace };

// ClassOf returns the class of code point `c` (kOther above U+10FFFF).
CharClass ClassOf(char32_t c);

// DecodeUtf8 returns the code point starting at text[i] and sets *length to
// its byte count. `text` must be valid UTF-8 (checked by the caller).
inline char32_t DecodeUtf8(absl::string_view text, size_t i, size_t* length) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) {
    *length = 1;
    return lead;
  }
  if (lead < 0xE0) {
    *length = 2;
    return (char32_t{lead & 0x1Fu} << 6) | (byte(i + 1) & 0x3Fu);
  }
  if (lead < 0xF0) {
    *length = 3;
    return (char32_t{lead & 0x0Fu} << 12) | (char32_t{byte(i + 1) & 0x3Fu} << 6) |
           (byte(i + 2) & 0x3Fu);
  }
  *length = 4;
  return (char32_t{lead & 0x07u} << 18) | (char32_t{byte(i + 1) & 0x3Fu} << 12) |
         (char32_t{byte(i + 2) & 0x3Fu} << 6) | (byte(i + 3) & 0x3Fu);
}

}  // namespace tokenizer_internal
}  // namespace ccs

#endif  // CCS_MODEL_TOKENIZER_INTERNAL_UNICODE_CLASSES_H_
