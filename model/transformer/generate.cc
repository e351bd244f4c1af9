// Shape legend: B sequences still generating, T longest prompt, C hidden,
// V vocabulary.
#include "model/transformer/generate.h"

#include <algorithm>
#include <string>
#include <utility>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/transformer/internal/torch_errors.h"
#include "model/transformer/sampler.h"

namespace ccs::model::transformer {
namespace {

// One request's live state.
struct Sequence {
  explicit Sequence(const SamplingParams& params) : sampler(params) {}
  TokenSampler sampler;
  std::vector<int64_t> history;   // prompt ids, then generated ids
  std::vector<int64_t> stop_ids;  // sorted
  int64_t max_new_tokens = 0;
};

int64_t PromptLength(const GenerationRequest& r) {
  return r.prompt_embeds.defined() ? r.prompt_embeds.size(0)
                                   : static_cast<int64_t>(r.prompt_ids.size());
}

absl::Status CheckRequest(const DecoderConfig& config, const GenerationRequest& r) {
  if (r.prompt_embeds.defined()) {
    if (r.prompt_embeds.dim() != 2 || r.prompt_embeds.size(0) == 0 ||
        r.prompt_embeds.size(1) != config.hidden_size || !r.prompt_embeds.is_floating_point()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "prompt_embeds must be a floating-point [T, ", config.hidden_size,
          "] tensor with T > 0, not [", absl::StrJoin(r.prompt_embeds.sizes(), ", "), "]"));
    }
  } else if (r.prompt_ids.empty()) {
    return absl::InvalidArgumentError("empty prompt: give prompt_ids or prompt_embeds");
  }
  for (int64_t id : r.prompt_ids) {
    if (id < 0 || id >= config.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "prompt token id ", id, " is outside the vocabulary [0, ", config.vocab_size, ")"));
    }
  }
  return ValidateSamplingParams(r.sampling);
}

// The left-padded prefill batch: ids [B, T] when every request has ids,
// otherwise embeddings [B, T, C]; the mask [B, T] is 0 at the padding.
absl::StatusOr<DecoderInput> BuildPrefill(const Decoder& decoder,
                                          const std::vector<GenerationRequest>& requests) {
  const int64_t B = static_cast<int64_t>(requests.size());
  int64_t T = 0;
  bool all_ids = true;
  for (const GenerationRequest& r : requests) {
    T = std::max(T, PromptLength(r));
    all_ids = all_ids && !r.prompt_embeds.defined();
  }
  const torch::Device device = decoder.options().device;
  DecoderInput input;
  input.attention_mask = torch::zeros({B, T}, torch::kBool);  // [B, T]
  if (all_ids) {
    input.input_ids = torch::zeros({B, T}, torch::kLong);  // [B, T]
  } else {
    input.inputs_embeds = torch::zeros(
        {B, T, decoder.config().hidden_size},
        torch::TensorOptions(decoder.options().dtype).device(device));  // [B, T, C]
  }
  for (int64_t b = 0; b < B; ++b) {
    const GenerationRequest& r = requests[b];
    const int64_t len = PromptLength(r);
    input.attention_mask[b].narrow(0, T - len, len).fill_(true);
    if (all_ids) {
      input.input_ids[b].narrow(0, T - len, len).copy_(torch::tensor(r.prompt_ids, torch::kLong));
      continue;
    }
    torch::Tensor row = r.prompt_embeds;  // [len, C]
    if (!row.defined()) {
      absl::StatusOr<torch::Tensor> embedded =
          decoder.Embed(torch::tensor(r.prompt_ids, torch::kLong));
      if (!embedded.ok()) return embedded.status();
      row = *embedded;
    }
    input.inputs_embeds[b].narrow(0, T - len, len).copy_(row);
  }
  input.input_ids = input.input_ids.defined() ? input.input_ids.to(device) : torch::Tensor();
  input.attention_mask = input.attention_mask.to(device);
  return input;
}

// The cache the prompts are prefilled into: empty, or a copy of the requests'
// prefixes stacked into one batch (left-padded to the longest).
absl::StatusOr<KvCache> StartCache(const std::vector<GenerationRequest>& requests) {
  std::vector<const KvCache*> prefixes;
  for (const GenerationRequest& r : requests) {
    if (r.prefix != nullptr) prefixes.push_back(r.prefix.get());
  }
  if (prefixes.empty()) return KvCache();
  if (prefixes.size() != requests.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        prefixes.size(), " of ", requests.size(),
        " requests have a prefix cache: either all or none may"));
  }
  for (size_t i = 0; i < prefixes.size(); ++i) {
    if (prefixes[i]->batch_size() != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "request ", i, "'s prefix cache holds ", prefixes[i]->batch_size(),
          " rows; it must hold one"));
    }
  }
  return KvCache::Concat(prefixes);
}

// The decode loop after prefill. `logits` [B, V] are the last positions'.
absl::Status DecodeLoop(const Decoder& decoder, const GenerateOptions& options,
                        KvCache& cache, torch::Tensor logits, std::vector<Sequence>& seqs,
                        std::vector<GenerationResult>& results) {
  std::vector<size_t> active(seqs.size());  // cache row -> request index
  for (size_t i = 0; i < active.size(); ++i) active[i] = i;
  while (true) {
    torch::Tensor rows = logits.to(torch::kCPU, torch::kFloat);  // [B, V]
    std::vector<size_t> still_active;
    std::vector<int64_t> keep_rows, next_tokens;
    for (size_t row = 0; row < active.size(); ++row) {
      const size_t i = active[row];
      Sequence& seq = seqs[i];
      const int64_t token = seq.sampler.Next(rows[row], seq.history);
      seq.history.push_back(token);
      results[i].tokens.push_back(token);
      const bool go_on = !options.on_token || options.on_token(i, token);
      if (std::binary_search(seq.stop_ids.begin(), seq.stop_ids.end(), token)) {
        results[i].finish_reason = FinishReason::kStop;
      } else if (!go_on) {
        results[i].finish_reason = FinishReason::kCancelled;
      } else if (static_cast<int64_t>(results[i].tokens.size()) >= seq.max_new_tokens) {
        results[i].finish_reason = FinishReason::kLength;
      } else {
        still_active.push_back(i);
        keep_rows.push_back(static_cast<int64_t>(row));
        next_tokens.push_back(token);
      }
    }
    if (still_active.empty()) return absl::OkStatus();
    if (still_active.size() < active.size()) {
      if (absl::Status status = cache.Select(keep_rows); !status.ok()) return status;
    }
    active = std::move(still_active);
    DecoderInput step;
    step.input_ids = torch::tensor(next_tokens, torch::kLong)
                         .view({-1, 1})
                         .to(decoder.options().device);  // [B, 1]
    step.cache = &cache;
    step.logits = LogitsMode::kLast;
    absl::StatusOr<DecoderOutput> out = decoder.Forward(step);
    if (!out.ok()) return out.status();
    logits = out->logits.squeeze(1);  // [B, V]
  }
}

absl::StatusOr<std::vector<GenerationResult>> GenerateImpl(
    const Decoder& decoder, const std::vector<GenerationRequest>& requests,
    const GenerateOptions& options) {
  const DecoderConfig& config = decoder.config();
  std::vector<Sequence> seqs;
  seqs.reserve(requests.size());
  std::vector<GenerationResult> results(requests.size());
  int64_t longest_prompt = 0, most_new = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    const GenerationRequest& r = requests[i];
    Sequence& seq = seqs.emplace_back(r.sampling);
    seq.history = r.prompt_ids;
    seq.stop_ids = r.sampling.stop_token_ids;
    if (!r.sampling.ignore_eos) {
      seq.stop_ids.insert(seq.stop_ids.end(), config.eos_token_ids.begin(),
                          config.eos_token_ids.end());
    }
    std::sort(seq.stop_ids.begin(), seq.stop_ids.end());
    seq.max_new_tokens = r.sampling.max_new_tokens;
    results[i].prompt_tokens = PromptLength(r);
    longest_prompt = std::max(longest_prompt, results[i].prompt_tokens);
    most_new = std::max(most_new, seq.max_new_tokens);
  }
  absl::StatusOr<DecoderInput> prefill = BuildPrefill(decoder, requests);
  if (!prefill.ok()) return prefill.status();
  absl::StatusOr<KvCache> cache = StartCache(requests);
  if (!cache.ok()) return cache.status();
  if (absl::Status status = cache->Reserve(cache->length() + longest_prompt + most_new);
      !status.ok()) {
    return status;
  }
  prefill->cache = &*cache;
  prefill->layer_hook = options.prefill_hook;
  prefill->logits = LogitsMode::kLast;
  absl::StatusOr<DecoderOutput> out = decoder.Forward(*prefill);
  if (!out.ok()) return out.status();
  absl::Status status = DecodeLoop(decoder, options, *cache, out->logits.squeeze(1), seqs,
                                   results);  // logits [B, V]
  if (!status.ok()) return status;
  return results;
}

}  // namespace

absl::StatusOr<std::vector<GenerationResult>> Generate(
    const Decoder& decoder, const std::vector<GenerationRequest>& requests,
    const GenerateOptions& options) {
  if (requests.empty()) return absl::InvalidArgumentError("Generate: no requests");
  for (size_t i = 0; i < requests.size(); ++i) {
    if (absl::Status status = CheckRequest(decoder.config(), requests[i]); !status.ok()) {
      return absl::Status(status.code(),
                          absl::StrCat("request ", i, ": ", status.message()));
    }
  }
  torch::InferenceMode guard;
  return internal::GuardTorch("Generate", [&] { return GenerateImpl(decoder, requests, options); });
}

}  // namespace ccs::model::transformer
