#include "model/utf8.h"

#include <cstdint>

namespace ccs {
namespace {

constexpr int kInvalid = -1;
constexpr int kTruncated = 0;

// Scans the sequence starting at text[i]: its length if well-formed,
// kTruncated if `text` ends inside a sequence whose bytes so far are valid,
// kInvalid otherwise.
int ScanSequence(absl::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  const uint8_t lead = byte(i);
  if (lead < 0x80) return 1;
  int length;
  uint8_t low = 0x80, high = 0xBF;  // allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // no overlong forms
    if (lead == 0xED) high = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // no overlong forms
    if (lead == 0xF4) high = 0x8F;  // nothing above U+10FFFF
  } else {
    return kInvalid;
  }
  for (int k = 1; k < length; ++k) {
    if (i + k >= text.size()) return kTruncated;
    const uint8_t b = byte(i + k);
    const bool ok = k == 1 ? (b >= low && b <= high) : (b & 0xC0) == 0x80;
    if (!ok) return kInvalid;
  }
  return length;
}

}  // namespace

size_t FindInvalidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const int length = ScanSequence(text, i);
    if (length <= 0) return i;
    i += length;
  }
  return absl::string_view::npos;
}

size_t Utf8CompletePrefix(absl::string_view bytes) {
  // A sequence is at most 4 bytes, so only the last 3 can start a cut one.
  const size_t n = bytes.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const uint8_t b = static_cast<uint8_t>(bytes[n - back]);
    if ((b & 0xC0) == 0x80) continue;  // a continuation byte: look further
    return ScanSequence(bytes, n - back) == kTruncated ? n - back : n;
  }
  return n;
}

}  // namespace ccs
