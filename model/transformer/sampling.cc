#include "model/transformer/sampling.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace ccs::model::transformer {

absl::Status ValidateSamplingParams(const SamplingParams& p) {
  if (p.max_new_tokens < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_new_tokens is ", p.max_new_tokens, ": must be >= 1"));
  }
  if (p.min_new_tokens < 0 || p.min_new_tokens > p.max_new_tokens) {
    return absl::InvalidArgumentError(absl::StrCat("min_new_tokens is ", p.min_new_tokens,
                                                   ": must be in [0, max_new_tokens = ",
                                                   p.max_new_tokens, "]"));
  }
  if (!std::isfinite(p.temperature) || p.temperature < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "temperature is ", p.temperature, ": must be >= 0 (0 = greedy)"));
  }
  if (p.top_k < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("top_k is ", p.top_k, ": must be >= 0 (0 = off)"));
  }
  if (!(p.top_p > 0 && p.top_p <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("top_p is ", p.top_p, ": must be in (0, 1] (1 = off)"));
  }
  if (!std::isfinite(p.repetition_penalty) || p.repetition_penalty <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "repetition_penalty is ", p.repetition_penalty, ": must be > 0 (1 = off)"));
  }
  return absl::OkStatus();
}

}  // namespace ccs::model::transformer
