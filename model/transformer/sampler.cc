#include "model/transformer/sampler.h"

#include <algorithm>
#include <limits>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

namespace ccs::model::transformer {
namespace {

constexpr double kMinusInf = -std::numeric_limits<double>::infinity();

// Hugging Face's RepetitionPenaltyLogitsProcessor. logits [V] float32.
// Ids outside the vocabulary are ignored.
void PenalizeRepeats(torch::Tensor& logits, double penalty, std::vector<int64_t> history) {
  if (penalty == 1.0) return;
  const int64_t V = logits.size(0);
  history.erase(std::remove_if(history.begin(), history.end(),
                               [V](int64_t id) { return id < 0 || id >= V; }),
                history.end());
  if (history.empty()) return;
  std::sort(history.begin(), history.end());
  history.erase(std::unique(history.begin(), history.end()), history.end());
  torch::Tensor ids = torch::tensor(history, torch::kLong);             // [N]
  torch::Tensor seen = logits.index_select(0, ids);                     // [N]
  seen = torch::where(seen < 0, seen * penalty, seen / penalty);        // [N]
  logits.index_copy_(0, ids, seen);                                     // [V]
}

// Hugging Face's TopKLogitsWarper: drop tokens below the k-th largest.
void KeepTopK(torch::Tensor& logits, int64_t top_k) {
  const int64_t k = std::min<int64_t>(top_k, logits.size(0));
  if (top_k <= 0 || k == logits.size(0)) return;
  torch::Tensor kth = std::get<0>(logits.topk(k)).narrow(0, k - 1, 1);  // [1]
  logits.masked_fill_(logits < kth, kMinusInf);                         // [V]
}

// Hugging Face's TopPLogitsWarper: drop the least likely tokens whose total
// probability stays within 1 - top_p, always keeping the most likely one.
void KeepTopP(torch::Tensor& logits, double top_p) {
  if (top_p >= 1.0) return;
  auto [sorted, order] = logits.sort(/*dim=*/0, /*descending=*/false);  // [V], [V]
  torch::Tensor cumulative = sorted.softmax(0).cumsum(0);               // [V]
  torch::Tensor remove_sorted = cumulative <= (1.0 - top_p);            // [V]
  remove_sorted[-1] = false;
  torch::Tensor remove = remove_sorted.scatter(0, order, remove_sorted);  // [V]
  logits.masked_fill_(remove, kMinusInf);                               // [V]
}

}  // namespace

TokenSampler::TokenSampler(const SamplingParams& params)
    : params_(params), generator_(at::detail::createCPUGenerator(params.seed)) {}

torch::Tensor TokenSampler::ProcessLogits(const torch::Tensor& logits,
                                          const SamplingParams& params,
                                          const std::vector<int64_t>& history) {
  torch::Tensor out = logits.to(torch::kCPU, torch::kFloat).clone();  // [V]
  PenalizeRepeats(out, params.repetition_penalty, history);
  if (params.temperature == 0.0) return out;
  if (params.temperature != 1.0) out.div_(params.temperature);
  KeepTopK(out, params.top_k);
  KeepTopP(out, params.top_p);
  return out;
}

int64_t TokenSampler::Next(const torch::Tensor& logits, const std::vector<int64_t>& history) {
  torch::Tensor processed = ProcessLogits(logits, params_, history);  // [V]
  if (params_.temperature == 0.0) return processed.argmax().item<int64_t>();
  torch::Tensor probs = processed.softmax(0);  // [V]
  return torch::multinomial(probs, 1, /*replacement=*/false, generator_).item<int64_t>();
}

}  // namespace ccs::model::transformer
