// KvCache: the keys and values a Decoder has computed for a batch of
// sequences, so that later tokens attend to earlier ones without recomputing
// them. Torch-facing: include only from model/ .cc files.
//
//   KvCache cache;                       // empty: the first Forward fills it
//   cache.Reserve(prompt_len + 64);      // optional: avoids regrowth
//   input.cache = &cache;                // prefill [B, T] ...
//   decoder.Forward(input);
//   step.cache = &cache;                 // ... then one token at a time
//   decoder.Forward(step);
//   cache.Select({0, 2});                // drop finished row 1
//   cache.DropLeadingPadding();          // and slots only row 1 used
//
// A batch that sequences join and leave one by one (continuous batching)
// uses AppendRows and RemoveRows instead of Concat and Select: they work in
// place, copying only the rows that join or move, not the whole batch.
//
// Layout. Every layer holds K and V as [B, KVH, S, D] (S slots, the same for
// all rows). Sequences of different lengths share the slots through a mask
// [B, S]: slot s of row b holds a real token when mask[b][s] is true, padding
// otherwise. Padding may sit anywhere (left-padded prompts, holes from right
// padding); attention never reads it. Slots only grow, in order: a new token
// attends to every real slot before it. A row's next position id is its count
// of real tokens (token_counts()).
//
// Memory is held in buffers of capacity >= S slots and >= B rows that grow
// geometrically; use Reserve to size them once. A cache made under torch::InferenceMode holds
// inference tensors: keep using it under InferenceMode.
//
// Thread-safety: not thread-safe; one cache belongs to one batch at a time.
#ifndef CCS_MODEL_TRANSFORMER_KV_CACHE_H_
#define CCS_MODEL_TRANSFORMER_KV_CACHE_H_

#include <cstdint>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ccs::model::transformer {

class Decoder;

class KvCache {
 public:
  KvCache() = default;
  KvCache(KvCache&&) = default;
  KvCache& operator=(KvCache&&) = default;
  // Copies would share buffers that Forward writes into: not allowed.
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  // empty is true until the first Forward (and after Clear).
  bool empty() const { return length_ == 0; }
  // batch_size is B, or 0 while empty.
  int64_t batch_size() const;
  // length is S, the slots filled (padding included).
  int64_t length() const { return length_; }
  int num_layers() const { return static_cast<int>(keys_.size()); }
  // mask is [B, S] bool: true where a slot holds a real token.
  const torch::Tensor& mask() const { return mask_; }
  // token_counts is [B] int64: real tokens per row, i.e. the position id the
  // row's next token takes.
  torch::Tensor token_counts() const;
  // keys / values of `layer`: [B, KVH, S, D] views into the buffers.
  torch::Tensor keys(int layer) const;
  torch::Tensor values(int layer) const;
  // bytes held by the K/V buffers (capacity, not just S).
  int64_t bytes() const;

  // Reserve grows the buffers to hold `slots` slots. Before the first
  // Forward it only records the wish; the first Forward allocates.
  absl::Status Reserve(int64_t slots);
  // Select keeps batch rows `rows` (indices into the current batch, in the
  // new order; repeats allowed), e.g. to drop finished sequences.
  // INVALID_ARGUMENT for an index out of range or an empty list.
  absl::Status Select(const std::vector<int64_t>& rows);
  // RemoveRows drops batch rows `rows` (distinct indices into the current
  // batch, not all of them) in place: rows from the end of the batch move
  // into the gaps. Returns the new order: new row i was row order[i].
  // INVALID_ARGUMENT for an index out of range, a repeat, or every row.
  absl::StatusOr<std::vector<int64_t>> RemoveRows(const std::vector<int64_t>& rows);
  // AppendRows adds `other`'s rows after this batch's (left-padded to the
  // longer of the two), in place when this cache has room for them and is
  // at least as long as `other`; otherwise into new, larger buffers (then
  // left-padded by some slots more than needed, so that the next slightly
  // longer rows fit in place). `other` is untouched. An empty cache becomes
  // a copy of `other`. INVALID_ARGUMENT as for Concat.
  absl::Status AppendRows(const KvCache& other);
  // DropLeadingPadding forgets the leading slots that are padding in every
  // row, e.g. once Select has dropped the long rows that needed them, so
  // that a batch that rows keep joining and leaving does not grow without
  // bound; only when there are at least `at_least` of them (dropping a few
  // would make the next longer row that joins copy the batch). Positions are
  // unchanged (they count real tokens only).
  absl::Status DropLeadingPadding(int64_t at_least = 1);
  // Clear forgets everything (buffers included).
  void Clear();

  // Concat stacks the batches of `caches` into one, left-padding shorter ones
  // to the longest. All must be non-empty with the same layers, heads, head
  // width, dtype and device (INVALID_ARGUMENT naming the mismatch).
  static absl::StatusOr<KvCache> Concat(std::vector<KvCache> caches);
  // The same from caches that stay untouched (the result is a copy): e.g. a
  // session's cached memory prefix, reused by every Generate on it.
  static absl::StatusOr<KvCache> Concat(const std::vector<const KvCache*>& caches);

 private:
  friend class Decoder;

  // Used by Decoder::Forward. Append writes the new [B, KVH, T, D] keys and
  // values of `layer` after the committed slots and returns that layer's
  // [B, KVH, S + T, D] views. Commit then records the T new slots with their
  // [B, T] mask; Rollback forgets uncommitted writes (after an error).
  std::pair<torch::Tensor, torch::Tensor> Append(int layer, const torch::Tensor& k,
                                                 const torch::Tensor& v);
  void Commit(const torch::Tensor& new_mask);
  void Rollback() { pending_ = 0; }
  // PrepareAppend makes room for `new_slots` more slots of a batch of
  // `batch` rows with per-layer [batch, kv_heads, *, head_dim] K/V, checking
  // that a non-empty cache has that shape (INVALID_ARGUMENT otherwise).
  absl::Status PrepareAppend(int num_layers, int64_t batch, int64_t kv_heads,
                             int64_t head_dim, const torch::TensorOptions& options,
                             int64_t new_slots);
  // Grow moves the rows in use into new buffers of `rows` rows and
  // `capacity` slots (no fewer than in use), left-padding them by `shift`
  // slots.
  void Grow(int64_t rows, int64_t capacity, int64_t shift = 0);
  // Points keys_ and values_ at the first `rows` rows of the stores.
  void UseRows(int64_t rows);
  int64_t row_capacity() const { return key_store_.empty() ? 0 : key_store_[0].size(0); }

  // The buffers: per layer [row capacity, KVH, capacity, D]; rows past B
  // are free room for AppendRows.
  std::vector<torch::Tensor> key_store_;
  std::vector<torch::Tensor> value_store_;
  std::vector<torch::Tensor> keys_;    // per layer [B, KVH, capacity, D]: rows in use
  std::vector<torch::Tensor> values_;  // per layer [B, KVH, capacity, D]: rows in use
  torch::Tensor mask_;                 // [B, S] bool
  int64_t length_ = 0;                 // S: committed slots
  int64_t pending_ = 0;                // slots written by Append, not committed
  int64_t capacity_ = 0;
  int64_t reserved_ = 0;               // Reserve before the first Forward
};

}  // namespace ccs::model::transformer

#endif  // CCS_MODEL_TRANSFORMER_KV_CACHE_H_
