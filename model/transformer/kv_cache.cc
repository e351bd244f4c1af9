// Shape legend: B rows in use, R row capacity, KVH key/value heads, S slots
// filled, cap slot capacity, D head width.
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
// Row capacities grow in steps of this many rows, and by half at least.
constexpr int64_t kRowGranule = 4;

int64_t RoundUp(int64_t n) { return (n + kSlotGranule - 1) / kSlotGranule * kSlotGranule; }
int64_t RoundUpRows(int64_t n) { return (n + kRowGranule - 1) / kRowGranule * kRowGranule; }

std::string ShapeString(const torch::Tensor& t) {
  return absl::StrCat("[", absl::StrJoin(t.sizes(), ", "), "]");
}

// Left-pads a [B, S] mask to `length` slots (false: padding).
torch::Tensor LeftPadMask(const torch::Tensor& mask, int64_t length) {
  if (mask.size(1) == length) return mask;
  return torch::cat({torch::zeros({mask.size(0), length - mask.size(1)}, mask.options()), mask},
                    1);  // [B, length]
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
  for (size_t i = 0; i < key_store_.size(); ++i) {
    total += key_store_[i].nbytes() + value_store_[i].nbytes();
  }
  return total;
}

void KvCache::Clear() { *this = KvCache(); }

void KvCache::UseRows(int64_t rows) {
  keys_.resize(key_store_.size());
  values_.resize(value_store_.size());
  for (size_t i = 0; i < key_store_.size(); ++i) {
    keys_[i] = key_store_[i].narrow(0, 0, rows);      // [B, KVH, cap, D]
    values_[i] = value_store_[i].narrow(0, 0, rows);  // [B, KVH, cap, D]
  }
}

absl::Status KvCache::Reserve(int64_t slots) {
  if (slots < 0) return absl::InvalidArgumentError("KvCache::Reserve: negative slots");
  if (keys_.empty()) {
    reserved_ = std::max(reserved_, slots);
    return absl::OkStatus();
  }
  return internal::GuardTorch("KvCache::Reserve", [&]() -> absl::Status {
    if (slots > capacity_) Grow(row_capacity(), slots);
    return absl::OkStatus();
  });
}

void KvCache::Grow(int64_t rows, int64_t capacity, int64_t shift) {
  const int64_t B = batch_size();
  for (size_t i = 0; i < key_store_.size(); ++i) {
    for (auto [store, in_use] : {std::pair{&key_store_[i], &keys_[i]},
                                 std::pair{&value_store_[i], &values_[i]}}) {
      std::vector<int64_t> shape = store->sizes().vec();
      shape[0] = rows;
      shape[2] = capacity;
      torch::Tensor grown = torch::zeros(shape, store->options());  // [R, KVH, cap, D]
      grown.narrow(0, 0, B).narrow(2, shift, length_).copy_(in_use->narrow(2, 0, length_));
      *store = grown;
    }
  }
  capacity_ = capacity;
  if (shift > 0) {
    mask_ = LeftPadMask(mask_, length_ + shift);
    length_ += shift;
  }
  UseRows(B);
}

absl::Status KvCache::PrepareAppend(int num_layers, int64_t batch, int64_t kv_heads,
                                    int64_t head_dim, const torch::TensorOptions& options,
                                    int64_t new_slots) {
  pending_ = 0;
  if (keys_.empty()) {
    capacity_ = RoundUp(std::max(reserved_, new_slots));
    for (int i = 0; i < num_layers; ++i) {
      key_store_.push_back(torch::zeros({batch, kv_heads, capacity_, head_dim}, options));
      value_store_.push_back(torch::zeros({batch, kv_heads, capacity_, head_dim}, options));
    }
    UseRows(batch);
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
    Grow(row_capacity(), RoundUp(std::max(length_ + new_slots, capacity_ + capacity_ / 2)));
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
      key_store_[i] = keys_[i].index_select(0, index);      // [B', KVH, cap, D]
      value_store_[i] = values_[i].index_select(0, index);  // [B', KVH, cap, D]
    }
    UseRows(static_cast<int64_t>(rows.size()));
    mask_ = mask_.index_select(0, index);  // [B', S]
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<int64_t>> KvCache::RemoveRows(const std::vector<int64_t>& rows) {
  if (empty()) return absl::FailedPreconditionError("KvCache::RemoveRows on an empty cache");
  const int64_t B = batch_size();
  std::vector<bool> gone(B, false);
  for (int64_t row : rows) {
    if (row < 0 || row >= B || gone[row]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "KvCache::RemoveRows: row ", row, " is outside the batch [0, ", B, ") or repeated"));
    }
    gone[row] = true;
  }
  const int64_t kept = B - static_cast<int64_t>(rows.size());
  if (kept == 0) {
    return absl::InvalidArgumentError("KvCache::RemoveRows: keep at least one row (or Clear)");
  }
  // Survivors past the new end fill the gaps before it, in order.
  std::vector<int64_t> holes, movers, order(kept);
  for (int64_t row = 0; row < kept; ++row) {
    order[row] = row;
    if (gone[row]) holes.push_back(row);
  }
  for (int64_t row = kept; row < B; ++row) {
    if (!gone[row]) movers.push_back(row);
  }
  for (size_t j = 0; j < holes.size(); ++j) order[holes[j]] = movers[j];
  absl::Status status = internal::GuardTorch("KvCache::RemoveRows", [&]() -> absl::Status {
    if (!holes.empty()) {
      const torch::Tensor to = torch::tensor(holes, torch::kLong).to(mask_.device());
      const torch::Tensor from = torch::tensor(movers, torch::kLong).to(mask_.device());
      for (size_t i = 0; i < keys_.size(); ++i) {
        for (torch::Tensor* rows_in_use : {&keys_[i], &values_[i]}) {
          torch::Tensor filled = rows_in_use->narrow(2, 0, length_);  // [B, KVH, S, D]
          filled.index_copy_(0, to, filled.index_select(0, from));
        }
      }
      mask_ = mask_.index_copy(0, to, mask_.index_select(0, from));  // [B, S]
    }
    mask_ = mask_.narrow(0, 0, kept);  // [B', S]
    UseRows(kept);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return order;
}

absl::Status KvCache::AppendRows(const KvCache& other) {
  if (other.empty()) return absl::InvalidArgumentError("KvCache::AppendRows: `other` is empty");
  if (empty()) {
    absl::StatusOr<KvCache> copy = Concat(std::vector<const KvCache*>{&other});
    if (!copy.ok()) return copy.status();
    *this = *std::move(copy);
    return absl::OkStatus();
  }
  const torch::Tensor& a = keys_[0];
  const torch::Tensor& b = other.keys_[0];
  if (other.num_layers() != num_layers() || a.size(1) != b.size(1) || a.size(3) != b.size(3) ||
      a.scalar_type() != b.scalar_type() || a.device() != b.device()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "KvCache::AppendRows: the rows (", other.num_layers(), " layers of ", ShapeString(b),
        ") do not match the cache (", num_layers(), " layers of ", ShapeString(a), ")"));
  }
  return internal::GuardTorch("KvCache::AppendRows", [&]() -> absl::Status {
    const int64_t B = batch_size(), added = other.batch_size();
    if (added > row_capacity() - B || other.length_ > length_) {
      // No room: new buffers with half as many rows again, keeping the slot
      // room there was, and left-padded to fit `other` with a granule to spare.
      const int64_t shift =
          other.length_ > length_ ? other.length_ - length_ + kSlotGranule : 0;
      Grow(RoundUpRows(std::max(B + added, row_capacity() + row_capacity() / 2)),
           RoundUp(capacity_ + shift), shift);
    }
    const int64_t pad = length_ - other.length_;
    for (size_t i = 0; i < key_store_.size(); ++i) {
      for (auto [store, from] : {std::pair{&key_store_[i], other.keys(static_cast<int>(i))},
                                 std::pair{&value_store_[i], other.values(static_cast<int>(i))}}) {
        torch::Tensor rows = store->narrow(0, B, added);  // [b, KVH, cap, D]
        rows.narrow(2, 0, pad).zero_();                   // padding (stale rows' values)
        rows.narrow(2, pad, other.length_).copy_(from);   // [b, KVH, S_other, D]
      }
    }
    mask_ = torch::cat({mask_, LeftPadMask(other.mask_.to(mask_.device()), length_)}, 0);
    UseRows(B + added);
    return absl::OkStatus();
  });
}

absl::Status KvCache::DropLeadingPadding(int64_t at_least) {
  if (empty()) return absl::OkStatus();
  return internal::GuardTorch("KvCache::DropLeadingPadding", [&]() -> absl::Status {
    const torch::Tensor used = mask_.any(0);  // [S]: a real token in some row
    // argmax gives the first maximum: the first slot some row uses.
    const int64_t first = used.to(torch::kInt).argmax().item<int64_t>();
    if (first == 0 || first < at_least || !used[first].item<bool>()) return absl::OkStatus();
    for (size_t i = 0; i < key_store_.size(); ++i) {
      key_store_[i] = key_store_[i].narrow(2, first, capacity_ - first);      // [R, KVH, cap', D]
      value_store_[i] = value_store_[i].narrow(2, first, capacity_ - first);  // [R, KVH, cap', D]
    }
    UseRows(batch_size());
    mask_ = mask_.narrow(1, first, length_ - first);  // [B, S']
    length_ -= first;
    capacity_ -= first;
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
    // Left-pads a [B, KVH, S, D] view to `longest` slots.
    auto left_pad = [longest](const torch::Tensor& t) {
      std::vector<int64_t> shape = t.sizes().vec();
      shape[2] = longest - t.size(2);
      return torch::cat({torch::zeros(shape, t.options()), t}, 2);
    };
    for (int layer = 0; layer < caches[0]->num_layers(); ++layer) {
      std::vector<torch::Tensor> keys, values;
      for (const KvCache* c : caches) {
        keys.push_back(left_pad(c->keys(layer)));      // [B_i, KVH, S, D]
        values.push_back(left_pad(c->values(layer)));  // [B_i, KVH, S, D]
      }
      out.key_store_.push_back(torch::cat(keys, 0));      // [sum B_i, KVH, S, D]
      out.value_store_.push_back(torch::cat(values, 0));  // [sum B_i, KVH, S, D]
    }
    std::vector<torch::Tensor> masks;
    for (const KvCache* c : caches) masks.push_back(LeftPadMask(c->mask_, longest));  // [B_i, S]
    out.mask_ = torch::cat(masks, 0);  // [sum B_i, S]
    out.length_ = longest;
    out.capacity_ = longest;
    out.UseRows(out.key_store_[0].size(0));
    return out;
  });
}

}  // namespace ccs::model::transformer
