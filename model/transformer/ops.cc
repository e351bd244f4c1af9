#include "model/transformer/ops.h"

#include <limits>

#include <torch/torch.h>

namespace ccs::model::transformer {
namespace {

// The most negative finite value of `dtype`: Hugging Face's masked score.
double Lowest(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kBFloat16:
      return static_cast<double>(std::numeric_limits<c10::BFloat16>::lowest());
    case torch::kHalf:
      return static_cast<double>(std::numeric_limits<c10::Half>::lowest());
    case torch::kDouble:
      return std::numeric_limits<double>::lowest();
    default:
      return std::numeric_limits<float>::lowest();
  }
}

// rotate_half: [.., R] -> [.., R], (x1, x2) -> (-x2, x1).
torch::Tensor RotateHalf(const torch::Tensor& x) {
  auto halves = x.chunk(2, -1);                    // 2 x [.., R/2]
  return torch::cat({-halves[1], halves[0]}, -1);  // [.., R]
}

}  // namespace

torch::Tensor RmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  torch::Tensor x32 = x.to(torch::kFloat);                         // [.., C]
  torch::Tensor variance = x32.pow(2).mean(-1, /*keepdim=*/true);  // [.., 1]
  x32 = x32 * torch::rsqrt(variance + eps);                        // [.., C]
  return weight * x32.to(x.scalar_type());                         // [.., C]
}

torch::Tensor RopeInverseFrequencies(double theta, int64_t rotary_dims,
                                     const torch::Device& device) {
  torch::Tensor exponent =
      torch::arange(0, rotary_dims, 2, torch::kLong).to(device, torch::kFloat) /
      rotary_dims;                                            // [R/2]
  return torch::reciprocal(torch::pow(theta, exponent));     // [R/2]
}

std::pair<torch::Tensor, torch::Tensor> RopeTables(const torch::Tensor& positions,
                                                   const torch::Tensor& inv_freq,
                                                   torch::ScalarType dtype) {
  torch::Tensor freqs = positions.to(torch::kFloat).unsqueeze(-1) * inv_freq;  // [B, T, R/2]
  torch::Tensor angles = torch::cat({freqs, freqs}, -1);                      // [B, T, R]
  return {angles.cos().to(dtype), angles.sin().to(dtype)};                    // [B, T, R] x2
}

torch::Tensor ApplyRotary(const torch::Tensor& x, const torch::Tensor& cos,
                          const torch::Tensor& sin) {
  const int64_t R = cos.size(-1), D = x.size(-1);
  torch::Tensor c = cos.unsqueeze(1), s = sin.unsqueeze(1);  // [B, 1, T, R]
  if (R == D) return x * c + RotateHalf(x) * s;              // [B, heads, T, D]
  torch::Tensor rot = x.narrow(-1, 0, R);                    // [B, heads, T, R]
  torch::Tensor pass = x.narrow(-1, R, D - R);               // [B, heads, T, D-R]
  return torch::cat({rot * c + RotateHalf(rot) * s, pass}, -1);  // [B, heads, T, D]
}

torch::Tensor Activate(Activation act, const torch::Tensor& x) {
  switch (act) {
    case Activation::kGelu:
      return torch::gelu(x);  // exact: 0.5 x (1 + erf(x / sqrt 2))
    case Activation::kGeluTanh:
      return torch::gelu(x, "tanh");
    case Activation::kSilu:
      return torch::silu(x);
    case Activation::kRelu:
      return torch::relu(x);
  }
  return x;
}

torch::Tensor AdditiveMask(const torch::Tensor& allowed, torch::ScalarType dtype) {
  torch::Tensor mask = torch::zeros({allowed.size(0), 1, allowed.size(1), allowed.size(2)},
                                    torch::TensorOptions(dtype).device(allowed.device()));
  mask.masked_fill_(allowed.logical_not().unsqueeze(1), Lowest(dtype));  // [B, 1, T, S]
  return mask;
}

}  // namespace ccs::model::transformer
