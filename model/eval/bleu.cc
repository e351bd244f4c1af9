#include "model/eval/bleu.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace ccs::model::eval {
namespace {

// The code point at text[at] and its length in bytes; an invalid or
// truncated sequence is one byte with code point -1.
std::pair<int32_t, size_t> DecodeAt(absl::string_view text, size_t at) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(at);
  if (lead < 0x80) return {lead, 1};
  size_t length = lead >= 0xF0 && lead < 0xF5 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC2 ? 2 : 0;
  if (lead >= 0xF5) length = 0;
  if (length == 0 || at + length > text.size()) return {-1, 1};
  int32_t code = lead & (0x7F >> length);
  for (size_t i = 1; i < length; ++i) {
    if ((byte(at + i) & 0xC0) != 0x80) return {-1, 1};
    code = (code << 6) | (byte(at + i) & 0x3F);
  }
  return {code, length};
}

// What Python's str.isspace() accepts, i.e. what str.split() splits on.
bool IsPythonSpace(int32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

// Python's str.split() with no arguments.
std::vector<std::string> SplitOnWhitespace(absl::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (size_t at = 0; at < text.size();) {
    const auto [code, length] = DecodeAt(text, at);
    if (IsPythonSpace(code)) {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else {
      word.append(text.data() + at, length);
    }
    at += length;
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

// Python's str.rstrip() with no arguments.
absl::string_view RightStrip(absl::string_view text) {
  size_t end = 0;
  for (size_t at = 0; at < text.size();) {
    const auto [code, length] = DecodeAt(text, at);
    at += length;
    if (!IsPythonSpace(code)) end = at;
  }
  return text.substr(0, end);
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The first rule's class [\{-\~\[-\` -\&\(-\+\:-\@\/].
bool IsSplitSymbol(char c) {
  return (c >= '{' && c <= '~') || (c >= '[' && c <= '`') || (c >= ' ' && c <= '&') ||
         (c >= '(' && c <= '+') || (c >= ':' && c <= '@') || c == '/';
}

bool IsPeriodOrComma(char c) { return c == '.' || c == ','; }

// One of the two-character rules of TokenizerRegexp, applied as Python's
// re.sub does: leftmost matches, never overlapping. `matches(a, b)` tests a
// pair, `emit` writes its replacement.
template <typename Matches, typename Emit>
std::string ApplyPairRule(const std::string& in, Matches matches, Emit emit) {
  std::string out;
  out.reserve(in.size() + in.size() / 4);
  size_t i = 0;
  while (i < in.size()) {
    if (i + 1 < in.size() && matches(in[i], in[i + 1])) {
      emit(in[i], in[i + 1], &out);
      i += 2;
    } else {
      out.push_back(in[i]);
      ++i;
    }
  }
  return out;
}

// The n-grams of 1..4 words of a tokenized segment, counted.
using NgramCounts = std::map<std::vector<std::string>, int64_t>;

NgramCounts CountNgrams(const std::vector<std::string>& words) {
  NgramCounts counts;
  for (size_t n = 1; n <= kBleuOrder; ++n) {
    for (size_t i = 0; i + n <= words.size(); ++i) {
      ++counts[std::vector<std::string>(words.begin() + i, words.begin() + i + n)];
    }
  }
  return counts;
}

// sacrebleu's my_log: log, with log(0) floored.
double FlooredLog(double x) { return x == 0 ? -9999999999.0 : std::log(x); }

}  // namespace

std::string Tokenize13a(absl::string_view segment) {
  std::string line = absl::StrReplaceAll(RightStrip(segment), {{"<skipped>", ""}});
  line = absl::StrReplaceAll(line, {{"-\n", ""}});
  line = absl::StrReplaceAll(line, {{"\n", " "}});
  if (line.find('&') != std::string::npos) {
    // In sacrebleu's order, each over the result of the one before.
    for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
             {"&quot;", "\""}, {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}}) {
      line = absl::StrReplaceAll(line, {{from, to}});
    }
  }
  line = " " + line + " ";
  std::string spaced;
  for (char c : line) {
    if (IsSplitSymbol(c)) {
      spaced += ' ';
      spaced += c;
      spaced += ' ';
    } else {
      spaced += c;
    }
  }
  // Period and comma unless preceded by a digit: ([^0-9])([\.,]) -> \1 \2 .
  spaced = ApplyPairRule(
      spaced, [](char a, char b) { return !IsDigit(a) && IsPeriodOrComma(b); },
      [](char a, char b, std::string* out) { *out += std::string{a, ' ', b, ' '}; });
  // ... unless followed by a digit: ([\.,])([^0-9]) -> " \1 \2".
  spaced = ApplyPairRule(
      spaced, [](char a, char b) { return IsPeriodOrComma(a) && !IsDigit(b); },
      [](char a, char b, std::string* out) { *out += std::string{' ', a, ' ', b}; });
  // Dash after a digit: ([0-9])(-) -> \1 \2 .
  spaced = ApplyPairRule(
      spaced, [](char a, char b) { return IsDigit(a) && b == '-'; },
      [](char a, char b, std::string* out) { *out += std::string{a, ' ', b, ' '}; });
  return absl::StrJoin(SplitOnWhitespace(spaced), " ");
}

BleuScore CorpusBleu(const std::vector<std::string>& hypotheses,
                     const std::vector<std::string>& references) {
  BleuScore s;
  const size_t n = std::min(hypotheses.size(), references.size());
  for (size_t i = 0; i < n; ++i) {
    const std::vector<std::string> hyp = SplitOnWhitespace(Tokenize13a(hypotheses[i]));
    const std::vector<std::string> ref = SplitOnWhitespace(Tokenize13a(references[i]));
    s.hypothesis_length += static_cast<int64_t>(hyp.size());
    s.reference_length += static_cast<int64_t>(ref.size());
    const NgramCounts ref_counts = CountNgrams(ref);
    for (const auto& [ngram, count] : CountNgrams(hyp)) {
      const size_t order = ngram.size() - 1;
      s.total[order] += count;
      const auto found = ref_counts.find(ngram);
      if (found != ref_counts.end()) s.matched[order] += std::min(count, found->second);
    }
  }
  s.brevity_penalty = 1.0;
  if (s.hypothesis_length < s.reference_length) {
    s.brevity_penalty =
        s.hypothesis_length > 0
            ? std::exp(1.0 - static_cast<double>(s.reference_length) /
                                 static_cast<double>(s.hypothesis_length))
            : 0.0;
  }
  if (std::all_of(s.matched.begin(), s.matched.end(), [](int64_t m) { return m == 0; })) {
    return s;  // score 0, precisions 0 (sacrebleu's early stop)
  }
  double smooth = 1.0;
  for (int k = 0; k < kBleuOrder; ++k) {
    if (s.total[k] == 0) break;  // the remaining precisions stay 0
    if (s.matched[k] == 0) {
      smooth *= 2;
      s.precisions[k] = 1.0 / (smooth * static_cast<double>(s.total[k]));
    } else {
      s.precisions[k] = static_cast<double>(s.matched[k]) / static_cast<double>(s.total[k]);
    }
  }
  // sacrebleu works in percent: log(100 p), then / 100 at the end.
  double log_sum = 0;
  for (double p : s.precisions) log_sum += FlooredLog(100.0 * p);
  s.score = s.brevity_penalty * std::exp(log_sum / kBleuOrder) / 100.0;
  return s;
}

}  // namespace ccs::model::eval
