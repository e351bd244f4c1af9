// SamplingParams: how one sequence chooses its next tokens. Torch-free, so
// that the server can fill it from a request without seeing libtorch.
//
//   SamplingParams params;
//   params.max_new_tokens = 64;
//   params.temperature = 0.7;
//   params.top_p = 0.9;
//   params.seed = 42;
//   if (absl::Status s = ValidateSamplingParams(params); !s.ok()) return s;
//
// The order is Hugging Face's: repetition penalty on the raw logits, then
// temperature, top-k, top-p, and a draw from the softmax. temperature 0 is
// greedy: the arg max of the penalised logits (top-k/top-p/seed unused).
//
// Thread-safety: a plain value.
#ifndef CCS_MODEL_TRANSFORMER_SAMPLING_H_
#define CCS_MODEL_TRANSFORMER_SAMPLING_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"

namespace ccs::model::transformer {

struct SamplingParams {
  // Tokens to generate at most (>= 1).
  int64_t max_new_tokens = 128;
  // Tokens to generate before a stop token (stop_token_ids or the model's
  // EOS) may be chosen: until then their logits are -inf (Hugging Face's
  // min_new_tokens). 0 <= min_new_tokens <= max_new_tokens; 0: off.
  int64_t min_new_tokens = 0;
  // 0: greedy. > 0: logits are divided by it before sampling.
  double temperature = 0.0;
  // Keep only the k most likely tokens (ties at the k-th kept). 0: off.
  int64_t top_k = 0;
  // Keep the smallest set of most likely tokens whose probability reaches
  // top_p, in (0, 1]. 1: off.
  double top_p = 1.0;
  // > 0. Logits of tokens already in the prompt or the output are divided by
  // it when positive and multiplied when negative (CTRL's rule, as Hugging
  // Face). 1: off.
  double repetition_penalty = 1.0;
  // Seeds this sequence's own random generator: equal seeds, equal draws.
  uint64_t seed = 0;
  // Token ids that end the sequence besides the model's eos_token_id(s).
  std::vector<int64_t> stop_token_ids;
  // Do not stop at the model's eos_token_id(s) (stop_token_ids still stop).
  bool ignore_eos = false;
};

// ValidateSamplingParams returns INVALID_ARGUMENT naming the first field out
// of range and the range allowed.
absl::Status ValidateSamplingParams(const SamplingParams& params);

}  // namespace ccs::model::transformer

#endif  // CCS_MODEL_TRANSFORMER_SAMPLING_H_
