#include "model/transformer/internal/weights.h"

#include <algorithm>
#include <utility>

#include <torch/torch.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/transformer/ops.h"

namespace ccs::model::transformer::internal {
namespace {

// At most this many names are spelled out per kind of problem.
constexpr size_t kMaxListed = 20;

// A slot: the tensor the forward pass reads, with its name and shape.
struct Slot {
  std::string name;
  std::vector<int64_t> shape;
  torch::Tensor* target;
};

class SlotList {
 public:
  void Add(std::string name, std::vector<int64_t> shape, torch::Tensor* target) {
    slots_.push_back({std::move(name), std::move(shape), target});
  }
  std::vector<Slot>& slots() { return slots_; }

 private:
  std::vector<Slot> slots_;
};

// GPT-NeoX names: gpt_neox.layers.N.{input_layernorm, post_attention_layernorm,
// attention.query_key_value, attention.dense, mlp.dense_h_to_4h,
// mlp.dense_4h_to_h}.{weight,bias}.
void AddGptNeoxLayer(const DecoderConfig& c, int i, LayerWeights& l, SlotList& s) {
  const int64_t C = c.hidden_size, I = c.intermediate_size;
  const std::string p = absl::StrCat("gpt_neox.layers.", i, ".");
  s.Add(p + "input_layernorm.weight", {C}, &l.norm1_w);
  s.Add(p + "input_layernorm.bias", {C}, &l.norm1_b);
  s.Add(p + "post_attention_layernorm.weight", {C}, &l.norm2_w);
  s.Add(p + "post_attention_layernorm.bias", {C}, &l.norm2_b);
  s.Add(p + "attention.query_key_value.weight", {3 * C, C}, &l.qkv_w);
  if (c.attention_bias) s.Add(p + "attention.query_key_value.bias", {3 * C}, &l.qkv_b);
  s.Add(p + "attention.dense.weight", {C, C}, &l.o_w);
  if (c.attention_bias) s.Add(p + "attention.dense.bias", {C}, &l.o_b);
  s.Add(p + "mlp.dense_h_to_4h.weight", {I, C}, &l.up_w);
  s.Add(p + "mlp.dense_h_to_4h.bias", {I}, &l.up_b);
  s.Add(p + "mlp.dense_4h_to_h.weight", {C, I}, &l.down_w);
  s.Add(p + "mlp.dense_4h_to_h.bias", {C}, &l.down_b);
}

// Llama names: model.layers.N.{input_layernorm, post_attention_layernorm}.weight,
// self_attn.{q,k,v,o}_proj.{weight,bias}, mlp.{gate,up,down}_proj.{weight,bias}.
void AddLlamaLayer(const DecoderConfig& c, int i, LayerWeights& l, SlotList& s) {
  const int64_t C = c.hidden_size, I = c.intermediate_size;
  const int64_t q_dim = c.num_attention_heads * c.head_dim;
  const int64_t kv_dim = c.num_key_value_heads * c.head_dim;
  const std::string p = absl::StrCat("model.layers.", i, ".");
  s.Add(p + "input_layernorm.weight", {C}, &l.norm1_w);
  s.Add(p + "post_attention_layernorm.weight", {C}, &l.norm2_w);
  const std::pair<const char*, std::pair<torch::Tensor*, torch::Tensor*>> attn[] = {
      {"q_proj", {&l.q_w, &l.q_b}}, {"k_proj", {&l.k_w, &l.k_b}},
      {"v_proj", {&l.v_w, &l.v_b}}, {"o_proj", {&l.o_w, &l.o_b}}};
  for (const auto& [name, slots] : attn) {
    const bool is_o = std::string(name) == "o_proj";
    const bool is_q = std::string(name) == "q_proj";
    const int64_t out = is_o ? C : (is_q ? q_dim : kv_dim);
    const int64_t in = is_o ? q_dim : C;
    s.Add(absl::StrCat(p, "self_attn.", name, ".weight"), {out, in}, slots.first);
    if (c.attention_bias) {
      s.Add(absl::StrCat(p, "self_attn.", name, ".bias"), {out}, slots.second);
    }
  }
  const std::pair<const char*, std::pair<torch::Tensor*, torch::Tensor*>> mlp[] = {
      {"gate_proj", {&l.gate_w, &l.gate_b}}, {"up_proj", {&l.up_w, &l.up_b}},
      {"down_proj", {&l.down_w, &l.down_b}}};
  for (const auto& [name, slots] : mlp) {
    const bool is_down = std::string(name) == "down_proj";
    const std::vector<int64_t> shape = is_down ? std::vector<int64_t>{C, I}
                                               : std::vector<int64_t>{I, C};
    s.Add(absl::StrCat(p, "mlp.", name, ".weight"), shape, slots.first);
    if (c.mlp_bias) s.Add(absl::StrCat(p, "mlp.", name, ".bias"), {shape[0]}, slots.second);
  }
}

// The output head's name: bound when untied, tolerated when tied.
std::string HeadName(const DecoderConfig& c) {
  return c.architecture == Architecture::kGptNeox ? "embed_out.weight" : "lm_head.weight";
}

// All slots of `config`, pointing into `w` (whose layers must be sized).
std::vector<Slot> MakeSlots(const DecoderConfig& c, DecoderWeights& w) {
  SlotList s;
  const bool neox = c.architecture == Architecture::kGptNeox;
  const int64_t C = c.hidden_size, V = c.vocab_size;
  s.Add(neox ? "gpt_neox.embed_in.weight" : "model.embed_tokens.weight", {V, C}, &w.embed);
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    if (neox) {
      AddGptNeoxLayer(c, i, w.layers[i], s);
    } else {
      AddLlamaLayer(c, i, w.layers[i], s);
    }
  }
  s.Add(neox ? "gpt_neox.final_layer_norm.weight" : "model.norm.weight", {C},
        &w.final_norm_w);
  if (neox) s.Add("gpt_neox.final_layer_norm.bias", {C}, &w.final_norm_b);
  if (!c.tie_word_embeddings) s.Add(HeadName(c), {V, C}, &w.lm_head);
  return std::move(s.slots());
}

// Buffers that old checkpoints carry and Hugging Face skips on load.
bool IsIgnoredBuffer(const std::string& name) {
  return absl::EndsWith(name, ".attention.bias") ||
         absl::EndsWith(name, ".attention.masked_bias") ||
         absl::EndsWith(name, ".rotary_emb.inv_freq");
}

std::string Shape(c10::IntArrayRef shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// Appends "N <what>: a, b, c" (at most kMaxListed names) to `parts`.
void AddProblem(std::vector<std::string> items, const char* what,
                std::vector<std::string>& parts) {
  if (items.empty()) return;
  std::sort(items.begin(), items.end());
  const size_t total = items.size();
  if (total > kMaxListed) items.resize(kMaxListed);
  parts.push_back(absl::StrCat(total, " ", what, ": ", absl::StrJoin(items, ", "),
                               total > kMaxListed ? absl::StrCat(", and ", total - kMaxListed,
                                                                 " more")
                                                  : ""));
}

// Checks names, shapes and dtypes without converting anything.
absl::Status CheckWeights(const DecoderConfig& c, const std::vector<Slot>& slots,
                          const std::unordered_map<std::string, torch::Tensor>& weights) {
  std::vector<std::string> missing, unexpected, misshaped;
  std::unordered_map<std::string, const Slot*> by_name;
  for (const Slot& slot : slots) by_name[slot.name] = &slot;
  const WeightSpec tied_head{HeadName(c), {c.vocab_size, c.hidden_size}};
  for (const Slot& slot : slots) {
    if (weights.count(slot.name) == 0) missing.push_back(slot.name);
  }
  for (const auto& [name, tensor] : weights) {
    auto it = by_name.find(name);
    const bool tolerated_head = c.tie_word_embeddings && name == tied_head.name;
    if (it == by_name.end() && !tolerated_head) {
      if (!IsIgnoredBuffer(name)) unexpected.push_back(name);
      continue;
    }
    const std::vector<int64_t>& shape = tolerated_head ? tied_head.shape : it->second->shape;
    if (!tensor.defined() || tensor.sizes() != c10::IntArrayRef(shape)) {
      misshaped.push_back(absl::StrCat(
          name, " is ", tensor.defined() ? Shape(tensor.sizes()) : "undefined",
          ", expected ", Shape(shape)));
    } else if (!tensor.is_floating_point()) {
      misshaped.push_back(absl::StrCat(name, " has dtype ",
                                       c10::toString(tensor.scalar_type()),
                                       ", expected a floating-point type"));
    }
  }
  std::vector<std::string> parts;
  AddProblem(std::move(missing), "missing", parts);
  AddProblem(std::move(unexpected), "unexpected", parts);
  AddProblem(std::move(misshaped), "with the wrong shape or dtype", parts);
  if (parts.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "weights do not match the ", c.model_type, " config (", c.num_hidden_layers,
      " layers, hidden ", c.hidden_size, ", ", c.num_attention_heads, " heads, ",
      c.num_key_value_heads, " K/V heads, vocab ", c.vocab_size, ", tied head ",
      c.tie_word_embeddings ? "yes" : "no", "): ", absl::StrJoin(parts, "; ")));
}

// Stacks `parts` ([rows_i, C] each, or [rows_i] biases) into one tensor and
// re-points each part, and its named entry, at its rows of it.
torch::Tensor Stack(const std::vector<std::pair<std::string, torch::Tensor*>>& parts,
                    std::unordered_map<std::string, torch::Tensor>& named) {
  std::vector<torch::Tensor> tensors;
  for (const auto& part : parts) tensors.push_back(*part.second);
  torch::Tensor stacked = torch::cat(tensors, 0);
  int64_t row = 0;
  for (const auto& [name, tensor] : parts) {
    const int64_t rows = tensor->size(0);
    *tensor = stacked.narrow(0, row, rows);
    named[name] = *tensor;
    row += rows;
  }
  return stacked;
}

void FuseLlamaProjections(const DecoderConfig& config, DecoderWeights& bound) {
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    LayerWeights& l = bound.layers[i];
    const std::string attn = absl::StrCat("model.layers.", i, ".self_attn.");
    const std::string mlp = absl::StrCat("model.layers.", i, ".mlp.");
    l.qkv_rows_w = Stack({{attn + "q_proj.weight", &l.q_w},
                          {attn + "k_proj.weight", &l.k_w},
                          {attn + "v_proj.weight", &l.v_w}}, bound.named);
    if (l.q_b.defined()) {
      l.qkv_rows_b = Stack({{attn + "q_proj.bias", &l.q_b},
                            {attn + "k_proj.bias", &l.k_b},
                            {attn + "v_proj.bias", &l.v_b}}, bound.named);
    }
    l.gate_up_w = Stack({{mlp + "gate_proj.weight", &l.gate_w},
                         {mlp + "up_proj.weight", &l.up_w}}, bound.named);
    if (l.gate_b.defined()) {
      l.gate_up_b = Stack({{mlp + "gate_proj.bias", &l.gate_b},
                           {mlp + "up_proj.bias", &l.up_b}}, bound.named);
    }
  }
}

}  // namespace

std::vector<WeightSpec> ExpectedWeights(const DecoderConfig& config) {
  DecoderWeights unused;
  unused.layers.resize(config.num_hidden_layers);
  std::vector<WeightSpec> specs;
  for (Slot& slot : MakeSlots(config, unused)) {
    specs.push_back({std::move(slot.name), std::move(slot.shape)});
  }
  return specs;
}

absl::StatusOr<DecoderWeights> BindWeights(
    const DecoderConfig& config, std::unordered_map<std::string, torch::Tensor> weights,
    const torch::Device& device, torch::ScalarType dtype, bool fuse_projections) {
  DecoderWeights bound;
  bound.layers.resize(config.num_hidden_layers);
  std::vector<Slot> slots = MakeSlots(config, bound);
  if (absl::Status status = CheckWeights(config, slots, weights); !status.ok()) {
    return status;
  }
  for (Slot& slot : slots) {
    auto it = weights.find(slot.name);
    *slot.target = it->second.to(device, dtype).contiguous();
    bound.named[slot.name] = *slot.target;
    weights.erase(it);  // frees the source as we go when we held the last reference
  }
  if (fuse_projections && config.architecture == Architecture::kLlama) {
    FuseLlamaProjections(config, bound);
  }
  if (config.tie_word_embeddings) bound.lm_head = bound.embed;
  bound.inv_freq = RopeInverseFrequencies(config.rope_theta, config.rotary_ndims, device);
  return bound;
}

}  // namespace ccs::model::transformer::internal
