// Answer scores for question answering, as SQuAD's official evaluation
// computes them: both texts normalised (lower case, ASCII punctuation
// removed, the articles "a", "an", "the" removed, whitespace collapsed),
// then exact match and the F1 of their bags of words.
//
//   double em = ExactMatch("The Pass key.", "pass key");   // 1
//   double f1 = TokenF1("a red fox", "the quick red fox");  // 0.8
//
// Thread-safety: pure functions.
#ifndef CCS_MODEL_EVAL_QA_METRICS_H_
#define CCS_MODEL_EVAL_QA_METRICS_H_

#include <string>

#include "absl/strings/string_view.h"

namespace ccs::model::eval {

// NormalizeAnswer is the normalised text, words joined by single spaces.
std::string NormalizeAnswer(absl::string_view text);

// ExactMatch is 1 when the normalised texts are equal, else 0.
double ExactMatch(absl::string_view prediction, absl::string_view reference);

// TokenF1 is 2PR / (P + R) over the normalised words (counted with
// multiplicity); 1 when both are empty, 0 when only one is.
double TokenF1(absl::string_view prediction, absl::string_view reference);

}  // namespace ccs::model::eval

#endif  // CCS_MODEL_EVAL_QA_METRICS_H_
