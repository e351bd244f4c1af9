// Shape legend: B sequences in the batch, b of them joining, T longest
// joining prompt, C hidden, V vocabulary.
#include "model/transformer/decode_batch.h"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/transformer/internal/torch_errors.h"
#include "model/transformer/sampler.h"

namespace ccs::model::transformer {

// One sequence's live state.
struct DecodeBatch::Sequence {
  Sequence(SequenceId id, const SamplingParams& params) : id(id), sampler(params) {}
  const SequenceId id;
  TokenSampler sampler;
  std::vector<int64_t> history;   // prompt ids, then generated ids
  std::vector<int64_t> stop_ids;  // sorted
  int64_t max_new_tokens = 0;
  int64_t min_new_tokens = 0;
  torch::Tensor held_back;  // stop_ids as a tensor, while min_new_tokens holds them back
  GenerationResult result;
};

namespace {

// Leading padding slots the batch's cache keeps rather than copy itself for
// a slightly longer row that joins (KvCache::DropLeadingPadding).
constexpr int64_t kPaddingToDrop = 64;

int64_t PromptLength(const GenerationRequest& r) {
  return r.prompt_embeds.defined() ? r.prompt_embeds.size(0)
                                   : static_cast<int64_t>(r.prompt_ids.size());
}

// The left-padded prefill batch: ids [b, T] when every request has ids,
// otherwise embeddings [b, T, C]; the mask [b, T] is 0 at the padding.
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
  input.attention_mask = torch::zeros({B, T}, torch::kBool);  // [b, T]
  if (all_ids) {
    input.input_ids = torch::zeros({B, T}, torch::kLong);  // [b, T]
  } else {
    input.inputs_embeds = torch::zeros(
        {B, T, decoder.config().hidden_size},
        torch::TensorOptions(decoder.options().dtype).device(device));  // [b, T, C]
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

}  // namespace

absl::Status ValidateRequest(const DecoderConfig& config, const GenerationRequest& r) {
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

DecodeBatch::DecodeBatch(const Decoder& decoder) : decoder_(decoder) {}

DecodeBatch::~DecodeBatch() {
  // The cache holds inference tensors: release them under InferenceMode too.
  torch::InferenceMode guard;
  Reset();
}

void DecodeBatch::Reset() {
  cache_.Clear();
  logits_ = torch::Tensor();
  rows_.clear();
}

absl::StatusOr<std::vector<DecodeBatch::SequenceId>> DecodeBatch::Add(
    const std::vector<GenerationRequest>& requests, const LayerHook& prefill_hook) {
  if (requests.empty()) return absl::InvalidArgumentError("DecodeBatch::Add: no requests");
  for (size_t i = 0; i < requests.size(); ++i) {
    if (absl::Status status = ValidateRequest(decoder_.config(), requests[i]); !status.ok()) {
      return absl::Status(status.code(), absl::StrCat("request ", i, ": ", status.message()));
    }
  }
  torch::InferenceMode guard;
  return internal::GuardTorch("DecodeBatch::Add", [&] { return AddImpl(requests, prefill_hook); });
}

absl::StatusOr<std::vector<DecodeBatch::SequenceId>> DecodeBatch::AddImpl(
    const std::vector<GenerationRequest>& requests, const LayerHook& prefill_hook) {
  const DecoderConfig& config = decoder_.config();
  std::vector<std::unique_ptr<Sequence>> joining;
  int64_t longest_prompt = 0, most_new = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    const GenerationRequest& r = requests[i];
    auto seq = std::make_unique<Sequence>(next_id_ + i, r.sampling);
    seq->history = r.prompt_ids;
    seq->stop_ids = r.sampling.stop_token_ids;
    if (!r.sampling.ignore_eos) {
      seq->stop_ids.insert(seq->stop_ids.end(), config.eos_token_ids.begin(),
                           config.eos_token_ids.end());
    }
    std::sort(seq->stop_ids.begin(), seq->stop_ids.end());
    seq->max_new_tokens = r.sampling.max_new_tokens;
    seq->min_new_tokens = r.sampling.min_new_tokens;
    if (seq->min_new_tokens > 0) seq->held_back = torch::tensor(seq->stop_ids, torch::kLong);
    seq->result.prompt_tokens = PromptLength(r);
    longest_prompt = std::max(longest_prompt, seq->result.prompt_tokens);
    most_new = std::max(most_new, seq->max_new_tokens);
    joining.push_back(std::move(seq));
  }
  absl::StatusOr<DecoderInput> prefill = BuildPrefill(decoder_, requests);
  if (!prefill.ok()) return prefill.status();
  absl::StatusOr<KvCache> cache = StartCache(requests);
  if (!cache.ok()) return cache.status();
  // A first group decodes in this cache: room for all its tokens. Later
  // ones are copied into the batch's cache, which grows as it must.
  const int64_t room = longest_prompt + (rows_.empty() ? most_new : 0);
  if (absl::Status status = cache->Reserve(cache->length() + room); !status.ok()) {
    return status;
  }
  prefill->cache = &*cache;
  prefill->layer_hook = prefill_hook;
  prefill->logits = LogitsMode::kLast;
  absl::StatusOr<DecoderOutput> out = decoder_.Forward(*prefill);
  if (!out.ok()) return out.status();
  torch::Tensor logits = out->logits.squeeze(1);  // [b, V]
  if (rows_.empty()) {
    cache_ = *std::move(cache);
    logits_ = logits;
  } else {
    // In place: only the joining rows are copied (the batch's cache stays
    // valid if this fails).
    if (absl::Status status = cache_.AppendRows(*cache); !status.ok()) return status;
    logits_ = torch::cat({logits_, logits}, 0);  // [B + b, V]
  }
  std::vector<SequenceId> ids;
  for (std::unique_ptr<Sequence>& seq : joining) {
    ids.push_back(seq->id);
    rows_.push_back(std::move(seq));
  }
  next_id_ += requests.size();
  return ids;
}

absl::StatusOr<std::vector<DecodeBatch::Finished>> DecodeBatch::Step(
    const TokenCallback& on_token) {
  if (rows_.empty()) return std::vector<Finished>();
  torch::InferenceMode guard;
  absl::StatusOr<std::vector<Finished>> finished =
      internal::GuardTorch("DecodeBatch::Step", [&] { return StepImpl(on_token); });
  if (!finished.ok()) Reset();  // tokens were chosen but not all fed back: start over
  return finished;
}

absl::StatusOr<std::vector<DecodeBatch::Finished>> DecodeBatch::StepImpl(
    const TokenCallback& on_token) {
  torch::Tensor logits = logits_.to(torch::kCPU, torch::kFloat);  // [B, V]
  std::vector<Finished> finished;
  std::vector<int64_t> gone_rows;
  for (size_t row = 0; row < rows_.size(); ++row) {
    Sequence& seq = *rows_[row];
    GenerationResult& result = seq.result;
    torch::Tensor row_logits = logits[row];  // [V]
    if (static_cast<int64_t>(result.tokens.size()) < seq.min_new_tokens) {
      row_logits = row_logits.clone().index_fill_(0, seq.held_back,
                                                  -std::numeric_limits<float>::infinity());
    }
    const int64_t token = seq.sampler.Next(row_logits, seq.history);
    seq.history.push_back(token);
    result.tokens.push_back(token);
    const bool go_on = !on_token || on_token(seq.id, token);
    if (std::binary_search(seq.stop_ids.begin(), seq.stop_ids.end(), token)) {
      result.finish_reason = FinishReason::kStop;
    } else if (!go_on) {
      result.finish_reason = FinishReason::kCancelled;
    } else if (static_cast<int64_t>(result.tokens.size()) >= seq.max_new_tokens) {
      result.finish_reason = FinishReason::kLength;
    } else {
      continue;
    }
    gone_rows.push_back(static_cast<int64_t>(row));
    finished.push_back({seq.id, std::move(result)});
  }
  if (gone_rows.size() == rows_.size()) {
    Reset();
    return finished;
  }
  if (!gone_rows.empty()) {
    if (absl::Status status = DropRows(gone_rows); !status.ok()) return status;
  }
  std::vector<int64_t> next_tokens;  // each row's last token, in the rows' new order
  for (const std::unique_ptr<Sequence>& seq : rows_) next_tokens.push_back(seq->history.back());
  DecoderInput step;
  step.input_ids = torch::tensor(next_tokens, torch::kLong)
                       .view({-1, 1})
                       .to(decoder_.options().device);  // [B, 1]
  step.cache = &cache_;
  step.logits = LogitsMode::kLast;
  absl::StatusOr<DecoderOutput> out = decoder_.Forward(step);
  if (!out.ok()) return out.status();
  logits_ = out->logits.squeeze(1);  // [B, V]
  return finished;
}

absl::Status DecodeBatch::DropRows(const std::vector<int64_t>& gone) {
  absl::StatusOr<std::vector<int64_t>> order = cache_.RemoveRows(gone);
  if (!order.ok()) return order.status();
  if (absl::Status status = cache_.DropLeadingPadding(kPaddingToDrop); !status.ok()) {
    return status;
  }
  logits_ = logits_.index_select(
      0, torch::tensor(*order, torch::kLong).to(logits_.device()));  // [B', V]
  std::vector<std::unique_ptr<Sequence>> kept;
  for (int64_t row : *order) kept.push_back(std::move(rows_[row]));
  rows_ = std::move(kept);
  return absl::OkStatus();
}

absl::StatusOr<GenerationResult> DecodeBatch::Remove(SequenceId id) {
  auto it = std::find_if(rows_.begin(), rows_.end(),
                         [id](const std::unique_ptr<Sequence>& s) { return s->id == id; });
  if (it == rows_.end()) {
    return absl::NotFoundError(absl::StrCat("sequence ", id, " is not in the batch"));
  }
  GenerationResult result = std::move((*it)->result);
  result.finish_reason = FinishReason::kCancelled;
  torch::InferenceMode guard;
  if (rows_.size() == 1) {
    Reset();
    return result;
  }
  const int64_t gone = it - rows_.begin();
  absl::Status status =
      internal::GuardTorch("DecodeBatch::Remove", [&] { return DropRows({gone}); });
  if (!status.ok()) {
    Reset();  // the rows may be half-selected: nothing in the batch can be trusted
    return status;
  }
  return result;
}

}  // namespace ccs::model::transformer
