// The building blocks of the decoder, exactly as Hugging Face computes them,
// for other Llama/NeoX-style modules to reuse (IC-Former's cross-attention
// layers use the same RMSNorm, RoPE and SwiGLU). Torch-facing.
//
//   torch::Tensor inv_freq = RopeInverseFrequencies(10000.0, 128, device);
//   auto [cos, sin] = RopeTables(positions, inv_freq, torch::kBFloat16);
//   q = ApplyRotary(q, cos, sin);               // q [B, H, T, D]
//   h = RmsNorm(h, weight, 1e-6);
//
// Shapes: B batch, T tokens, S attended slots, C width, H heads, D head
// width, R rotary dims (<= D). Thread-safety: pure functions.
#ifndef CCS_MODEL_TRANSFORMER_OPS_H_
#define CCS_MODEL_TRANSFORMER_OPS_H_

#include <cstdint>
#include <utility>

#include <torch/types.h>

#include "model/transformer/config.h"

namespace ccs::model::transformer {

// RmsNorm is Llama's RMSNorm: statistics in float32, the result cast back to
// x's dtype before the weight multiplies it. x [.., C], weight [C].
torch::Tensor RmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// RopeInverseFrequencies is 1 / theta^(arange(0, R, 2) / R): [R/2] float32.
torch::Tensor RopeInverseFrequencies(double theta, int64_t rotary_dims,
                                     const torch::Device& device);

// RopeTables turns positions [B, T] (integer) into cos and sin [B, T, R],
// angles computed in float32, then cast to `dtype`.
std::pair<torch::Tensor, torch::Tensor> RopeTables(const torch::Tensor& positions,
                                                   const torch::Tensor& inv_freq,
                                                   torch::ScalarType dtype);

// ApplyRotary rotates the first R dims of each head in rotate-half form and
// passes the rest through (GPT-NeoX's partial rotary; R = D for Llama).
// x [B, heads, T, D]; cos, sin [B, T, R].
torch::Tensor ApplyRotary(const torch::Tensor& x, const torch::Tensor& cos,
                          const torch::Tensor& sin);

// Activate applies the MLP non-linearity.
torch::Tensor Activate(Activation act, const torch::Tensor& x);

// AdditiveMask turns `allowed` [B, T, S] bool into the [B, 1, T, S] mask that
// scaled_dot_product_attention adds to the scores: 0 where allowed, the
// dtype's lowest finite value elsewhere (as Hugging Face: a fully masked row
// stays finite).
torch::Tensor AdditiveMask(const torch::Tensor& allowed, torch::ScalarType dtype);

}  // namespace ccs::model::transformer

#endif  // CCS_MODEL_TRANSFORMER_OPS_H_
