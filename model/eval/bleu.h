// Corpus BLEU-4 exactly as sacrebleu 2.x computes it with its defaults
// (BLEU(): tokenize="13a", smooth_method="exp", lowercase=False,
// effective_order=False): one reference per hypothesis, n-grams of 1 to 4
// words clipped by the reference's counts and summed over the corpus, the
// geometric mean of the four precisions, and the brevity penalty
// exp(1 - ref_len / hyp_len) when the hypotheses are shorter in total. The
// tests check it against sacrebleu itself (bleu_test.cc).
//
//   BleuScore bleu = CorpusBleu({"the cat sat"}, {"the cat sat down"});
//   double score = bleu.score;  // in [0, 1]; sacrebleu prints 100 * score
//
// Text is UTF-8; invalid bytes are ordinary non-space characters.
// Whitespace is what Python's str.split() splits on (ASCII and Unicode
// spaces, line and paragraph separators).
//
// Thread-safety: pure functions.
#ifndef CCS_MODEL_EVAL_BLEU_H_
#define CCS_MODEL_EVAL_BLEU_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace ccs::model::eval {

inline constexpr int kBleuOrder = 4;

struct BleuScore {
  // bp * exp(mean of log precisions): sacrebleu's score / 100.
  double score = 0;
  // Per n-gram order, matched / total n-grams (sacrebleu's precisions / 100),
  // with the "exp" smoothing: an order with no match gets 1 / (2^k total),
  // k counting such orders.
  std::array<double, kBleuOrder> precisions = {};
  double brevity_penalty = 0;
  int64_t hypothesis_length = 0;  // 13a tokens, summed over the corpus
  int64_t reference_length = 0;
  std::array<int64_t, kBleuOrder> matched = {};
  std::array<int64_t, kBleuOrder> total = {};
};

// Tokenize13a is sacrebleu's "13a" tokenizer (mteval-v13a's) applied to one
// segment with its trailing whitespace removed, as BLEU preprocesses it:
// the tokens joined by single spaces.
std::string Tokenize13a(absl::string_view segment);

// CorpusBleu scores hypotheses[i] against references[i] (the same count;
// extra items of the longer list are ignored).
BleuScore CorpusBleu(const std::vector<std::string>& hypotheses,
                     const std::vector<std::string>& references);

}  // namespace ccs::model::eval

#endif  // CCS_MODEL_EVAL_BLEU_H_
