#include "model/eval/qa_metrics.h"

#include <algorithm>
#include <map>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace ccs::model::eval {
namespace {

std::vector<std::string> NormalizedWords(absl::string_view text) {
  std::string kept;
  for (char c : text) {
    if (!absl::ascii_ispunct(static_cast<unsigned char>(c))) {
      kept += absl::ascii_tolower(static_cast<unsigned char>(c));
    }
  }
  std::vector<std::string> words;
  for (absl::string_view word : absl::StrSplit(kept, absl::ByAnyChar(" \t\n\r\f\v"),
                                               absl::SkipEmpty())) {
    if (word != "a" && word != "an" && word != "the") words.emplace_back(word);
  }
  return words;
}

}  // namespace

std::string NormalizeAnswer(absl::string_view text) {
  return absl::StrJoin(NormalizedWords(text), " ");
}

double ExactMatch(absl::string_view prediction, absl::string_view reference) {
  return NormalizeAnswer(prediction) == NormalizeAnswer(reference) ? 1.0 : 0.0;
}

double TokenF1(absl::string_view prediction, absl::string_view reference) {
  const std::vector<std::string> p = NormalizedWords(prediction);
  const std::vector<std::string> r = NormalizedWords(reference);
  if (p.empty() || r.empty()) return p.empty() && r.empty() ? 1.0 : 0.0;
  std::map<std::string, int> counts;
  for (const std::string& w : r) ++counts[w];
  int common = 0;
  for (const std::string& w : p) {
    auto found = counts.find(w);
    if (found != counts.end() && found->second > 0) {
      --found->second;
      ++common;
    }
  }
  if (common == 0) return 0.0;
  const double precision = static_cast<double>(common) / static_cast<double>(p.size());
  const double recall = static_cast<double>(common) / static_cast<double>(r.size());
  return 2 * precision * recall / (precision + recall);
}

}  // namespace ccs::model::eval
