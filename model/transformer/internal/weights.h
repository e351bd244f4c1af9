// Internal to model/transformer: the tensors of a Decoder under their Hugging
// Face names, checked and bound to the slots the forward pass reads.
// Torch-facing.
//
//   absl::StatusOr<internal::DecoderWeights> bound =
//       internal::BindWeights(config, std::move(weights), device, dtype);
//
// Thread-safety: plain values.
#ifndef CCS_MODEL_TRANSFORMER_INTERNAL_WEIGHTS_H_
#define CCS_MODEL_TRANSFORMER_INTERNAL_WEIGHTS_H_

#include <string>
#include <unordered_map>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "model/transformer/config.h"

namespace ccs::model::transformer::internal {

// One decoder layer. Unused slots stay undefined: GPT-NeoX fills qkv_* (the
// fused projection), Llama q_*, k_*, v_* and gate_*; biases are undefined
// where the config has none, and norm_*_b for Llama's RMSNorm.
struct LayerWeights {
  torch::Tensor norm1_w, norm1_b;  // input_layernorm        [C]
  torch::Tensor norm2_w, norm2_b;  // post_attention_layernorm [C]
  torch::Tensor qkv_w, qkv_b;      // GPT-NeoX [3C, C], [3C]
  torch::Tensor q_w, q_b;          // Llama [H*D, C], [H*D]
  torch::Tensor k_w, k_b;          // Llama [KVH*D, C], [KVH*D]
  torch::Tensor v_w, v_b;          // Llama [KVH*D, C], [KVH*D]
  torch::Tensor o_w, o_b;          // dense / o_proj [C, H*D], [C]
  torch::Tensor up_w, up_b;        // dense_h_to_4h / up_proj [I, C], [I]
  torch::Tensor gate_w, gate_b;    // Llama gate_proj [I, C], [I]
  torch::Tensor down_w, down_b;    // dense_4h_to_h / down_proj [C, I], [C]
  // Llama with fused projections: q, k, v stacked by rows
  // [(H + 2 KVH) * D, C], and gate, up [2I, C]; q_w ... up_w are then views.
  torch::Tensor qkv_rows_w, qkv_rows_b;
  torch::Tensor gate_up_w, gate_up_b;
};

struct DecoderWeights {
  torch::Tensor embed;                 // [V, C]
  std::vector<LayerWeights> layers;    // L
  torch::Tensor final_norm_w, final_norm_b;  // [C]
  torch::Tensor lm_head;               // [V, C]; the embedding table when tied
  torch::Tensor inv_freq;              // [rotary_ndims / 2] float32 RoPE frequencies
  // Every bound tensor under its Hugging Face name (shares storage).
  std::unordered_map<std::string, torch::Tensor> named;
};

// One expected tensor: its Hugging Face name and shape.
struct WeightSpec {
  std::string name;
  std::vector<int64_t> shape;
};

// ExpectedWeights lists the tensors a checkpoint of `config` holds, in
// Hugging Face's names (the output head only when it is not tied).
std::vector<WeightSpec> ExpectedWeights(const DecoderConfig& config);

// BindWeights checks `weights` against ExpectedWeights (all problems in one
// INVALID_ARGUMENT) and converts them to `device` and `dtype`, consuming the
// map as it goes.
absl::StatusOr<DecoderWeights> BindWeights(
    const DecoderConfig& config, std::unordered_map<std::string, torch::Tensor> weights,
    const torch::Device& device, torch::ScalarType dtype, bool fuse_projections);

}  // namespace ccs::model::transformer::internal

#endif  // CCS_MODEL_TRANSFORMER_INTERNAL_WEIGHTS_H_
