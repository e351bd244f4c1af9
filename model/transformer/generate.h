// Generate: batched autoregressive generation with a KV cache. Prompts of
// different lengths are left-padded into one prefill pass; then every
// unfinished sequence advances one token per step, each with its own
// sampling parameters and seed. Torch-facing.
//
//   std::vector<GenerationRequest> requests(2);
//   requests[0].prompt_ids = {12, 7, 99};
//   requests[1].prompt_embeds = digests_and_prompt;  // [T, C], e.g. IC-Former
//   requests[1].sampling.temperature = 0.8;
//   GenerateOptions options;
//   options.on_token = [&](size_t seq, int64_t token) {
//     Stream(seq, token);
//     return !Cancelled(seq);                  // false stops that sequence
//   };
//   absl::StatusOr<std::vector<GenerationResult>> results =
//       Generate(decoder, requests, options);
//
// The prefill pass can carry a LayerHook (RCC's memory injection). Prompts
// are left-padded to the longest, T: the hook sees hidden [B, T, C] in which
// request b's prompt occupies columns [T - len_b, T). Decoding steps never
// call the hook. Generate runs under torch::InferenceMode.
//
// Generate is a DecodeBatch (decode_batch.h) whose requests all join at
// once; the server's continuous batching uses the same class.
//
// Thread-safety: Generate may run on several threads at once over the same
// Decoder; the callbacks are called on the calling thread.
#ifndef CCS_MODEL_TRANSFORMER_GENERATE_H_
#define CCS_MODEL_TRANSFORMER_GENERATE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "model/transformer/decoder.h"
#include "model/transformer/sampling.h"

namespace ccs::model::transformer {

struct GenerationRequest {
  // The prompt's token ids. When prompt_embeds is set they are only the
  // history the repetition penalty looks at (and may be empty).
  std::vector<int64_t> prompt_ids;
  // [T, C] input embeddings to start from instead of prompt_ids (RCC's
  // prefix, IC-Former's digests): converted to the decoder's dtype.
  torch::Tensor prompt_embeds;
  // A batch-1 cache this request continues from, e.g. the keys and values of
  // an RCC memory prefix computed once per session: the prompt is prefilled
  // after it (positions continuing its count of real tokens) and the cache
  // itself is left untouched. Either every request of a call has one or none.
  std::shared_ptr<const KvCache> prefix;
  SamplingParams sampling;
};

enum class FinishReason {
  kStop,       // produced an eos_token_id or one of stop_token_ids (kept in tokens)
  kLength,     // reached max_new_tokens
  kCancelled,  // on_token returned false
};

struct GenerationResult {
  std::vector<int64_t> tokens;  // generated ids, the stop token included
  FinishReason finish_reason = FinishReason::kLength;
  int64_t prompt_tokens = 0;    // length of the prompt as fed to the model
};

// TokenCallback is called for every generated token, in order within each
// sequence (sequence = index into the requests), the stop token included.
// Returning false stops that sequence (FinishReason::kCancelled); the
// others go on.
using TokenCallback = std::function<bool(size_t sequence, int64_t token)>;

struct GenerateOptions {
  LayerHook prefill_hook;  // empty: none
  TokenCallback on_token;  // empty: none
};

// Generate runs `requests` as one batch. Errors: INVALID_ARGUMENT for an
// empty request list, a request without a prompt, prompt ids outside the
// vocabulary, prompt_embeds of the wrong shape, or invalid SamplingParams
// (naming the request); the decoder's errors otherwise.
absl::StatusOr<std::vector<GenerationResult>> Generate(
    const Decoder& decoder, const std::vector<GenerationRequest>& requests,
    const GenerateOptions& options = {});

}  // namespace ccs::model::transformer

#endif  // CCS_MODEL_TRANSFORMER_GENERATE_H_
