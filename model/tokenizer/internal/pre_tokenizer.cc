#include "model/tokenizer/internal/pre_tokenizer.h"

#include <utility>

#include "model/tokenizer/internal/unicode_classes.h"

namespace ccs {
namespace tokenizer_internal {
namespace {

// Length of the GPT-2 contraction ('s 't 're 've 'm 'll 'd) at text[i], or 0.
size_t ContractionLength(absl::string_view text, size_t i) {
  if (text[i] != '\'' || i + 1 >= text.size()) return 0;
  const char a = text[i + 1];
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (i + 2 >= text.size()) return 0;
  const char b = text[i + 2];
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) {
    return 3;
  }
  return 0;
}

// A cursor over the code points of valid UTF-8 text.
class Chars {
 public:
  explicit Chars(absl::string_view text) : text_(text) {}
  bool AtEnd(size_t i) const { return i >= text_.size(); }
  // The class of the character at byte i; sets *next to the byte after it.
  CharClass ClassAt(size_t i, size_t* next) const {
    const unsigned char lead = static_cast<unsigned char>(text_[i]);
    if (lead < 0x80) {  // fast path: no decoding, no search
      *next = i + 1;
      return ClassOf(lead);
    }
    size_t length;
    const char32_t c = DecodeUtf8(text_, i, &length);
    *next = i + length;
    return ClassOf(c);
  }
  // The end of the run of characters of class `c` that starts at byte i.
  size_t RunEnd(size_t i, CharClass c) const {
    size_t next;
    while (!AtEnd(i) && ClassAt(i, &next) == c) i = next;
    return i;
  }

 private:
  absl::string_view text_;
};

// Length of the regex match that starts at byte i of `text`.
size_t MatchLength(const Chars& chars, absl::string_view text, size_t i) {
  if (const size_t n = ContractionLength(text, i)) return n;
  size_t next;
  const CharClass first = chars.ClassAt(i, &next);
  if (first != CharClass::kSpace) {  // \p{L}+, \p{N}+ or [^\s\p{L}\p{N}]+
    return chars.RunEnd(next, first) - i;
  }
  if (text[i] == ' ' && !chars.AtEnd(next)) {  // " ?" before a run
    size_t after;
    const CharClass second = chars.ClassAt(next, &after);
    if (second != CharClass::kSpace) return chars.RunEnd(after, second) - i;
  }
  // \s+(?!\S): the white space run, less its last character if a non-space
  // follows; \s+ takes a lone white space character before a non-space.
  size_t last = i;  // start of the run's last character
  size_t end = next;
  while (!chars.AtEnd(end)) {
    size_t after;
    if (chars.ClassAt(end, &after) != CharClass::kSpace) break;
    last = end;
    end = after;
  }
  if (chars.AtEnd(end) || last == i) return end - i;
  return last - i;
}

void EmitIsolated(absl::string_view text, size_t* done, size_t start, size_t end,
                  std::vector<absl::string_view>* pieces) {
  if (*done < start) pieces->push_back(text.substr(*done, start - *done));
  pieces->push_back(text.substr(start, end - start));
  *done = end;
}

}  // namespace

void SplitGpt2(absl::string_view text, std::vector<absl::string_view>* pieces) {
  const Chars chars(text);
  size_t i = 0;
  while (i < text.size()) {
    const size_t n = MatchLength(chars, text, i);
    pieces->push_back(text.substr(i, n));
    i += n;
  }
}

void SplitDigits(absl::string_view text, bool individual,
                 std::vector<absl::string_view>* pieces) {
  const Chars chars(text);
  size_t done = 0, i = 0;
  while (i < text.size()) {
    size_t next;
    if (chars.ClassAt(i, &next) != CharClass::kNumber) {
      i = next;
      continue;
    }
    const size_t end = individual ? next : chars.RunEnd(next, CharClass::kNumber);
    EmitIsolated(text, &done, i, end, pieces);
    i = end;
  }
  if (done < text.size()) pieces->push_back(text.substr(done));
}

void PreTokenizer::RunStep(const Step& step, absl::string_view piece,
                           Buffer* buffer, std::vector<absl::string_view>* out) const {
  if (step.kind == Kind::kDigits) {
    SplitDigits(piece, step.individual_digits, out);
    return;
  }
  if (step.add_prefix_space && piece[0] != ' ') {
    buffer->push_back(std::string(" ").append(piece.data(), piece.size()));
    piece = buffer->back();
  }
  if (step.use_regex) {
    SplitGpt2(piece, out);
  } else {
    out->push_back(piece);
  }
}

void PreTokenizer::Split(absl::string_view text, Buffer* buffer,
                         std::vector<absl::string_view>* pieces) const {
  if (text.empty()) return;
  if (steps_.size() == 1) {
    RunStep(steps_[0], text, buffer, pieces);
    return;
  }
  std::vector<absl::string_view> current = {text}, next;
  for (const Step& step : steps_) {
    next.clear();
    for (const absl::string_view piece : current) RunStep(step, piece, buffer, &next);
    std::swap(current, next);
  }
  pieces->insert(pieces->end(), current.begin(), current.end());
}

}  // namespace tokenizer_internal
}  // namespace ccs
