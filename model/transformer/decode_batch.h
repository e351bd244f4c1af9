// DecodeBatch: sequences decoded together, continuously. Sequences join
// (Add, which prefills them) and leave (when they finish, or Remove) between
// steps; each Step gives every sequence in the batch its next token and runs
// one decoder pass for those that go on. Generate (generate.h) is a batch
// whose sequences all join at once; a server keeps one batch running and
// lets requests join and leave it. Torch-facing.
//
//   DecodeBatch batch(decoder);
//   absl::StatusOr<std::vector<DecodeBatch::SequenceId>> ids = batch.Add(requests);
//   while (!batch.empty()) {
//     absl::StatusOr<std::vector<DecodeBatch::Finished>> done =
//         batch.Step([&](DecodeBatch::SequenceId id, int64_t token) {
//           return Stream(id, token);             // false stops that sequence
//         });
//     ... batch.Add(more) ...                     // join between steps
//     ... batch.Remove(cancelled_id) ...          // leave between steps
//   }
//
// Layout. The batch holds one KvCache whose row b is sequence b, and the
// logits [B, V] each sequence's next token is chosen from. A sequence that
// joins is prefilled on its own cache (with the others joining with it, as
// one left-padded pass) and then added to the batch's cache
// (KvCache::AppendRows, left-padding the shorter); one that leaves is dropped
// with KvCache::RemoveRows, and slots no remaining row uses are forgotten.
// Both work in place, copying only the rows that join or move. Each
// sequence keeps its own sampling parameters and random generator, so its
// tokens do not depend on which others share the batch (up to the float
// rounding of padded attention, which greedy decoding does not notice).
//
// Thread-safety: not thread-safe; one thread drives a batch. Several batches
// may run at once over the same Decoder. The callbacks run on that thread.
#ifndef CCS_MODEL_TRANSFORMER_DECODE_BATCH_H_
#define CCS_MODEL_TRANSFORMER_DECODE_BATCH_H_

#include <cstddef>
#include <memory>
#include <vector>

#include <torch/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/transformer/decoder.h"
#include "model/transformer/generate.h"
#include "model/transformer/kv_cache.h"

namespace ccs::model::transformer {

// ValidateRequest checks one request against `config`: INVALID_ARGUMENT for
// a request without a prompt, prompt ids outside the vocabulary,
// prompt_embeds of the wrong shape, or invalid SamplingParams.
absl::Status ValidateRequest(const DecoderConfig& config, const GenerationRequest& request);

class DecodeBatch {
 public:
  // Ids are given in order from 0, never reused within one batch.
  using SequenceId = size_t;

  struct Finished {
    SequenceId id;
    GenerationResult result;
  };

  // `decoder` must outlive the batch.
  explicit DecodeBatch(const Decoder& decoder);
  ~DecodeBatch();
  DecodeBatch(const DecodeBatch&) = delete;
  DecodeBatch& operator=(const DecodeBatch&) = delete;

  // Add prefills `requests` as one left-padded pass (the hook sees it; see
  // generate.h) and joins them to the batch: the next Step gives them their
  // first token. Returns their ids, in order. Errors: INVALID_ARGUMENT for
  // an empty list or an invalid request (naming it, see ValidateRequest),
  // for prefix caches given to some requests of the call but not all; the
  // decoder's errors otherwise. On error the batch is as it was.
  absl::StatusOr<std::vector<SequenceId>> Add(const std::vector<GenerationRequest>& requests,
                                              const LayerHook& prefill_hook = {});

  // Step chooses each sequence's next token and calls on_token(id, token)
  // with it (stop tokens included). Sequences that stop (a stop token,
  // max_new_tokens, or on_token returning false: kCancelled) leave the batch
  // and are returned; the others advance by one decoder pass. An empty batch
  // returns at once. On error (the decoder failed) every sequence is dropped,
  // the batch is empty, and the error is returned.
  absl::StatusOr<std::vector<Finished>> Step(const TokenCallback& on_token);

  // Remove drops sequence `id` at once (kCancelled) and returns what it had
  // generated. NOT_FOUND for an id not in the batch; on any other error
  // (libtorch's) every sequence is dropped, as for Step.
  absl::StatusOr<GenerationResult> Remove(SequenceId id);

  // Sequences in the batch.
  size_t size() const { return rows_.size(); }
  bool empty() const { return rows_.empty(); }
  // Slots of the batch's cache (padding included): what a step attends to.
  int64_t cache_length() const { return cache_.length(); }

 private:
  struct Sequence;

  absl::StatusOr<std::vector<SequenceId>> AddImpl(const std::vector<GenerationRequest>& requests,
                                                  const LayerHook& prefill_hook);
  absl::StatusOr<std::vector<Finished>> StepImpl(const TokenCallback& on_token);
  // Drops rows `gone` of the cache, the logits and rows_ (the others may
  // change places).
  absl::Status DropRows(const std::vector<int64_t>& gone);
  void Reset();

  const Decoder& decoder_;
  KvCache cache_;
  torch::Tensor logits_;  // [B, V]: row b's next-token logits
  std::vector<std::unique_ptr<Sequence>> rows_;  // row b of cache_ and logits_
  SequenceId next_id_ = 0;
};

}  // namespace ccs::model::transformer

#endif  // CCS_MODEL_TRANSFORMER_DECODE_BATCH_H_
