#include "model/tokenizer/internal/unicode_classes.h"

#include <algorithm>
#include <array>
#include <iterator>

namespace ccs {
namespace tokenizer_internal {
namespace {

struct Range {
  char32_t first;
  char32_t last;
  CharClass char_class;
};

constexpr CharClass kLetter = CharClass::kLetter;
constexpr CharClass kNumber = CharClass::kNumber;
constexpr CharClass kSpace = CharClass::kSpace;

// Sorted, disjoint; code points in no range are kOther.
constexpr Range kRanges[] = {
#include "model/tokenizer/internal/unicode_classes_table.inc"
};

// The ASCII classes, looked up without a search.
constexpr std::array<CharClass, 128> MakeAsciiTable() {
  std::array<CharClass, 128> table{};
  for (const Range& r : kRanges) {
    for (char32_t c = r.first; c <= r.last && c < 128; ++c) table[c] = r.char_class;
  }
  return table;
}
constexpr std::array<CharClass, 128> kAscii = MakeAsciiTable();

}  // namespace

CharClass ClassOf(char32_t c) {
  if (c < 128) return kAscii[c];
  // The first range whose last code point is >= c.
  const Range* it = std::lower_bound(
      std::begin(kRanges), std::end(kRanges), c,
      [](const Range& r, char32_t value) { return r.last < value; });
  if (it == std::end(kRanges) || it->first > c) return CharClass::kOther;
  return it->char_class;
}

}  // namespace tokenizer_internal
}  // namespace ccs
