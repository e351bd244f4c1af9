// TokenSampler: picks one sequence's next token from its logits, following
// its SamplingParams, with its own seeded random generator. Torch-facing.
//
//   TokenSampler sampler(params);             // params already validated
//   int64_t next = sampler.Next(logits_row, history);  // logits [V]
//
// Draws happen on the CPU in float32 (the logits row is copied there), so a
// seed gives the same tokens whatever device the model runs on.
//
// Thread-safety: not thread-safe (the generator has state); one per sequence.
#ifndef CCS_MODEL_TRANSFORMER_SAMPLER_H_
#define CCS_MODEL_TRANSFORMER_SAMPLER_H_

#include <cstdint>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include "model/transformer/sampling.h"

namespace ccs::model::transformer {

class TokenSampler {
 public:
  explicit TokenSampler(const SamplingParams& params);

  // Next returns the token chosen from `logits` [V] given `history`, the ids
  // already in the sequence (prompt and output) for the repetition penalty
  // (ids outside [0, V) are ignored). Throws only what libtorch throws on
  // allocation failure: callers run it inside their GuardTorch.
  int64_t Next(const torch::Tensor& logits, const std::vector<int64_t>& history);

  // ProcessLogits applies repetition penalty and, unless greedy, temperature,
  // top-k and top-p to `logits` [V]: a new CPU float32 [V] tensor, -inf at
  // removed tokens. What Next samples from (or takes the arg max of).
  static torch::Tensor ProcessLogits(const torch::Tensor& logits, const SamplingParams& params,
                                     const std::vector<int64_t>& history);

 private:
  const SamplingParams params_;
  at::Generator generator_;
};

}  // namespace ccs::model::transformer

#endif  // CCS_MODEL_TRANSFORMER_SAMPLER_H_
