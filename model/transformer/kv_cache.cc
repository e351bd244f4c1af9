#include "model/transformer/kv_cache.h"

#include <algorithm>
#include <string>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/transformer/internal/torch_errors.h"

namespace ccs::model::transformer {
namespace {

// Capacities grow in steps of this many slots, and by half at least.
constexpr int64_t kSlotGranule = 64;

int64_t RoundUp(int64_t n) { return (n + kSlotGranule - 1) / kSlotGranule * kSlotGranule; }

std::string ShapeString(const torch::Tensor& t) {
  return absl::StrCat("[", absl::StrJoin(t.sizes(), ", "), "]");
}

}  // namespace

int64_t KvCache::batch_size() const { return keys_.empty() ? 0 : keys_[0].size(0); }

torch::Tensor KvCache::token_counts() const {
  if (!mask_.defined()) return torch::Tensor();
  return mask_.sum(1, /*keepdim=*/false, torch::kLong);  // [B]
}

torch::Tensor KvCache::keys(int layer) const { return keys_.at(layer).narrow(2, 0, length_); }

torch::Tensor KvCache::values(int layer) const {
  return values_.at(layer).narrow(2, 0, length_);
}

int64_t KvCache::bytes() const {
  int64_t total = 0;
  for (size_t i = 0; i < keys_.size(); ++i) {
    total += keys_[i].nbytes() + values_[i].nbytes();
  }
  return total;
}

void KvCache::Clear() { *this = KvCache(); }

absl::Status KvCache::Reserve(int64_t slots) {
  if (slots < 0) return absl::InvalidArgumentError("KvCache::Reserve: negative slots");
  if (keys_.empty()) {
    reserved_ = std::max(reserved_, slots);
    return absl::OkStatus();
  }
  return internal::GuardTorch("KvCache::Reserve", [&]() -> absl::Status {
    if (slots > capacity_) Grow(slots);
    return absl::OkStatus();
  });
}

void KvCache::Grow(int64_t capacity) {
  for (size_t i = 0; i < keys_.size(); ++i) {
    for (torch::Tensor* buffer : {&keys_[i], &values_[i]}) {
      std::vector<int64_t> shape = buffer->sizes().vec();
      shape[2] = capacity;
      torch::Tensor grown = torch::zeros(shape, buffer->options());  // [B, KVH, cap, D]
      grown.narrow(2, 0, length_).copy_(buffer->narrow(2, 0, length_));
      *buffer = grown;
    }
  }
  capacity_ = capacity;
}

absl::Status KvCache::PrepareAppend(int num_layers, int64_t batch, int64_t kv_heads,
                                    int64_t head_dim, const torch::TensorOptions& options,
                                    int64_t new_slots) {
  pending_ = 0;
  if (keys_.empty()) {
    capacity_ = RoundUp(std::max(reserved_, new_slots));
    for (int i = 0; i < num_layers; ++i) {
      keys_.push_back(torch::zeros({batch, kv_heads, capacity_, head_dim}, options));
      values_.push_back(torch::zeros({batch, kv_heads, capacity_, head_dim}, options));
    }
    return absl::OkStatus();
  }
  const torch::Tensor& k = keys_[0];
  if (num_layers != this->num_layers() || k.size(0) != batch || k.size(1) != kv_heads ||
      k.size(3) != head_dim || k.scalar_type() != options.dtype().toScalarType() ||
      k.device() != options.device()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the KV cache holds ", this->num_layers(), " layers of ", ShapeString(k), " ",
        c10::toString(k.scalar_type()), " on ", k.device().str(), "; this step needs ",
        num_layers, " layers of [", batch, ", ", kv_heads, ", *, ", head_dim, "] ",
        c10::toString(options.dtype().toScalarType()), " on ", options.device().str(),
        " (a cache belongs to one model and one batch: Select rows to shrink it)"));
  }
  if (length_ + new_slots > capacity_) {
    Grow(RoundUp(std::max(length_ + new_slots, capacity_ + capacity_ / 2)));
  }
  return absl::OkStatus();
}

std::pair<torch::Tensor, torch::Tensor> KvCache::Append(int layer, const torch::Tensor& k,
                                                        const torch::Tensor& v) {
  const int64_t new_slots = k.size(2);
  keys_[layer].narrow(2, length_, new_slots).copy_(k);    // [B, KVH, T, D]
  values_[layer].narrow(2, length_, new_slots).copy_(v);  // [B, KVH, T, D]
  pending_ = new_slots;
  return {keys_[layer].narrow(2, 0, length_ + new_slots),     // [B, KVH, S+T, D]
          values_[layer].narrow(2, 0, length_ + new_slots)};  // [B, KVH, S+T, D]
}

void KvCache::Commit(const torch::Tensor& new_mask) {
  mask_ = mask_.defined() ? torch::cat({mask_, new_mask}, 1) : new_mask;  // [B, S+T]
  length_ += new_mask.size(1);
  pending_ = 0;
}

absl::Status KvCache::Select(const std::vector<int64_t>& rows) {
  if (empty()) return absl::FailedPreconditionError("KvCache::Select on an empty cache");
  if (rows.empty()) {
    return absl::InvalidArgumentError("KvCache::Select: keep at least one row (or Clear)");
  }
  for (int64_t row : rows) {
    if (row < 0 || row >= batch_size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "KvCache::Select: row ", row, " is outside the batch [0, ", batch_size(), ")"));
    }
  }
  return internal::GuardTorch("KvCache::Select", [&]() -> absl::Status {
    torch::Tensor index = torch::tensor(rows, torch::kLong).to(mask_.device());
    for (size_t i = 0; i < keys_.size(); ++i) {
      keys_[i] = keys_[i].index_select(0, index);      // [B', KVH, cap, D]
      values_[i] = values_[i].index_select(0, index);  // [B', KVH, cap, D]
    }
    mask_ = mask_.index_select(0, index);  // [B', S]
    return absl::OkStatus();
  });
}

absl::StatusOr<KvCache> KvCache::Concat(std::vector<KvCache> caches) {
  std::vector<const KvCache*> pointers;
  for (const KvCache& c : caches) pointers.push_back(&c);
  return Concat(pointers);
}

absl::StatusOr<KvCache> KvCache::Concat(const std::vector<const KvCache*>& caches) {
  if (caches.empty()) return absl::InvalidArgumentError("KvCache::Concat: no caches");
  int64_t longest = 0;
  for (size_t i = 0; i < caches.size(); ++i) {
    const KvCache& c = *caches[i];
    if (c.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("KvCache::Concat: cache ", i, " is empty"));
    }
    const torch::Tensor& a = caches[0]->keys_[0];
    const torch::Tensor& b = c.keys_[0];
    if (c.num_layers() != caches[0]->num_layers() || a.size(1) != b.size(1) ||
        a.size(3) != b.size(3) || a.scalar_type() != b.scalar_type() ||
        a.device() != b.device()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "KvCache::Concat: cache ", i, " (", c.num_layers(), " layers of ", ShapeString(b),
          ") does not match cache 0 (", caches[0]->num_layers(), " layers of ",
          ShapeString(a), ")"));
    }
    longest = std::max(longest, c.length_);
  }
  return internal::GuardTorch("KvCache::Concat", [&]() -> absl::StatusOr<KvCache> {
    KvCache out;
    // Left-pads a [B, KVH, S, D] view (or a [B, S] mask) to `longest` slots.
    auto left_pad = [longest](const torch::Tensor& t, int64_t dim) {
      std::vector<int64_t> shape = t.sizes().vec();
      shape[dim] = longest - t.size(dim);
      return torch::cat({torch::zeros(shape, t.options()), t}, dim);
    };
    for (int layer = 0; layer < caches[0]->num_layers(); ++layer) {
      std::vector<torch::Tensor> keys, values;
      for (const KvCache* c : caches) {
        keys.push_back(left_pad(c->keys(layer), 2));      // [B_i, KVH, S, D]
        values.push_back(left_pad(c->values(layer), 2));  // [B_i, KVH, S, D]
      }
      out.keys_.push_back(torch::cat(keys, 0));      // [sum B_i, KVH, S, D]
      out.values_.push_back(torch::cat(values, 0));  // [sum B_i, KVH, S, D]
    }
    std::vector<torch::Tensor> masks;
    for (const KvCache* c : caches) masks.push_back(left_pad(c->mask_, 1));  // [B_i, S]
    out.mask_ = torch::cat(masks, 0);  // [sum B_i, S]
    out.length_ = longest;
    out.capacity_ = longest;
    return out;
  });
}

}  // namespace ccs::model::transformer
