// The decoder-only transformer, both families in one file, in the order the
// computation runs. Hugging Face's modeling_gpt_neox.py and modeling_llama.py
// (transformers 4.57) are the reference; the golden test holds us to them.
//
// Shape legend:
//   B  batch (sequences)             T  new tokens this call
//   P  slots already in the KV cache S  slots attended: P + T
//   C  hidden_size                   V  vocab_size
//   H  query heads                   KVH  key/value heads (H for GPT-NeoX)
//   D  head_dim                      R  rotary dims of a head (D * rotary_pct)
//   I  intermediate_size             L  layers
//
// One layer, GPT-NeoX (Pythia):
//   parallel:  x = x + attn(ln1(x)) + mlp(ln2(x))       (use_parallel_residual)
//   serial:    x = x + attn(ln1(x)); x = x + mlp(ln2(x))
//   LayerNorm with bias; fused query_key_value laid out per head as
//   [q | k | v] (view [B, T, H, 3D]); RoPE on the first R dims of q and k;
//   mlp = dense_4h_to_h(act(dense_h_to_4h(x))) with exact (erf) GELU.
// One layer, Llama:
//   x = x + attn(rms1(x)); x = x + mlp(rms2(x))
//   RMSNorm in float32; separate q/k/v/o; KVH <= H heads (GQA); RoPE on all
//   D dims (rotate-half form); mlp = down(silu(gate(x)) * up(x)).
// Then the final norm and the output head (embed_out / lm_head, or the
// embedding table when tied). RMSNorm, RoPE and the activations live in
// ops.cc, shared with other modules.
#include "model/transformer/decoder.h"

#include <cmath>
#include <tuple>
#include <utility>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/transformer/internal/torch_errors.h"
#include "model/transformer/ops.h"

namespace ccs::model::transformer {
namespace {

std::string ShapeString(const torch::Tensor& t) {
  return absl::StrCat("[", absl::StrJoin(t.sizes(), ", "), "]");
}

bool IsIntegral(const torch::Tensor& t) {
  return c10::isIntegralType(t.scalar_type(), /*includeBool=*/false);
}

// The attention pattern of one call: either no mask at all (`causal` says
// whether sdpa should apply its own, top-left aligned, causal mask), or an
// additive [B, 1, T, S] mask: 0 where query t may read slot s (a real token
// at or before t), the dtype's lowest value elsewhere, as Hugging Face does.
struct AttentionPattern {
  torch::Tensor additive;
  bool causal = false;
};

// key_mask [B, S] bool: real slots (cache then new tokens). P = S - T.
AttentionPattern MakeAttentionPattern(const torch::Tensor& key_mask, int64_t T,
                                      torch::ScalarType dtype) {
  const int64_t S = key_mask.size(1), P = S - T;
  const bool no_padding = key_mask.all().item<bool>();
  if (no_padding && P == 0) return {torch::Tensor(), T > 1};
  if (no_padding && T == 1) return {torch::Tensor(), false};
  auto device = key_mask.device();
  torch::Tensor slot = torch::arange(S, torch::TensorOptions(torch::kLong).device(device));
  torch::Tensor query_slot = slot.narrow(0, P, T);                  // [T]
  torch::Tensor causal = slot.unsqueeze(0) <= query_slot.unsqueeze(1);  // [T, S]
  torch::Tensor allowed = causal.unsqueeze(0) & key_mask.unsqueeze(1);  // [B, T, S]
  return {AdditiveMask(allowed, dtype), false};  // [B, 1, T, S]
}

// Runs the caller's hook after layer `layer`, insisting on a tensor like x.
absl::StatusOr<torch::Tensor> ApplyHook(const LayerHook& hook, int layer,
                                        const torch::Tensor& x) {
  torch::Tensor hooked = hook(layer, x);  // [B, T, C]
  if (!hooked.defined() || hooked.sizes() != x.sizes() ||
      hooked.scalar_type() != x.scalar_type() || hooked.device() != x.device()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "layer_hook for layer ", layer, " returned ",
        hooked.defined() ? ShapeString(hooked) : "an undefined tensor", "; it must return the ",
        ShapeString(x), " ", c10::toString(x.scalar_type()), " tensor on ", x.device().str(),
        " it was given, modified"));
  }
  return hooked;
}

}  // namespace

Decoder::Decoder(DecoderConfig config, DecoderOptions options, internal::DecoderWeights weights)
    : config_(std::move(config)), options_(options), weights_(std::move(weights)) {}

absl::StatusOr<std::unique_ptr<Decoder>> Decoder::Create(const DecoderConfig& config,
                                                         WeightMap weights,
                                                         const DecoderOptions& options) {
  if (absl::Status status = ValidateDecoderConfig(config); !status.ok()) return status;
  if (!c10::isFloatingType(options.dtype)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "decoder dtype ", c10::toString(options.dtype),
        " is not a floating-point type: use Float or BFloat16"));
  }
  if (options.device.is_cuda() && !torch::cuda::is_available()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "decoder device ", options.device.str(), " asked for, but no CUDA device is usable"));
  }
  absl::StatusOr<internal::DecoderWeights> bound = internal::GuardTorch(
      "loading decoder weights", [&] {
        return internal::BindWeights(config, std::move(weights), options.device, options.dtype,
                                     options.fuse_projections);
      });
  if (!bound.ok()) return bound.status();
  return std::unique_ptr<Decoder>(new Decoder(config, options, *std::move(bound)));
}

absl::StatusOr<torch::Tensor> Decoder::Embed(const torch::Tensor& input_ids) const {
  return internal::GuardTorch("Decoder::Embed", [&]() -> absl::StatusOr<torch::Tensor> {
    if (!input_ids.defined() || !IsIntegral(input_ids) || input_ids.numel() == 0) {
      return absl::InvalidArgumentError("Embed: input_ids must be a non-empty integer tensor");
    }
    const int64_t lo = input_ids.min().item<int64_t>(), hi = input_ids.max().item<int64_t>();
    if (lo < 0 || hi >= config_.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "token id ", lo < 0 ? lo : hi, " is outside the vocabulary [0, ",
          config_.vocab_size, ")"));
    }
    return torch::embedding(weights_.embed,
                            input_ids.to(options_.device, torch::kLong));  // [.., C]
  });
}

// Shapes, types, ranges and cache compatibility; no computation.
absl::Status Decoder::CheckInput(const DecoderInput& in) const {
  if (in.input_ids.defined() == in.inputs_embeds.defined()) {
    return absl::InvalidArgumentError("give exactly one of input_ids and inputs_embeds");
  }
  const torch::Tensor& lead = in.input_ids.defined() ? in.input_ids : in.inputs_embeds;
  if (in.input_ids.defined()) {
    if (in.input_ids.dim() != 2 || !IsIntegral(in.input_ids)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input_ids must be an integer [B, T] tensor, not ", ShapeString(in.input_ids), " ",
          c10::toString(in.input_ids.scalar_type())));
    }
  } else if (in.inputs_embeds.dim() != 3 || in.inputs_embeds.size(2) != config_.hidden_size ||
             !in.inputs_embeds.is_floating_point()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inputs_embeds must be a floating-point [B, T, ", config_.hidden_size, "] tensor, not ",
        ShapeString(in.inputs_embeds), " ", c10::toString(in.inputs_embeds.scalar_type())));
  }
  const int64_t B = lead.size(0), T = lead.size(1);
  if (B == 0 || T == 0) return absl::InvalidArgumentError("empty input: B and T must be > 0");
  if (in.input_ids.defined()) {
    const int64_t lo = in.input_ids.min().item<int64_t>();
    const int64_t hi = in.input_ids.max().item<int64_t>();
    if (lo < 0 || hi >= config_.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "token id ", lo < 0 ? lo : hi, " is outside the vocabulary [0, ",
          config_.vocab_size, ")"));
    }
  }
  for (const auto& [name, t] : {std::pair<const char*, const torch::Tensor&>{
                                    "attention_mask", in.attention_mask},
                                {"position_ids", in.position_ids}}) {
    if (t.defined() && (t.dim() != 2 || t.size(0) != B || t.size(1) != T ||
                        !c10::isIntegralType(t.scalar_type(), /*includeBool=*/true))) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, " must be an integer or bool [", B, ", ", T, "] tensor, not ", ShapeString(t),
          " ", c10::toString(t.scalar_type())));
    }
  }
  if (in.cache != nullptr && !in.cache->empty() && in.cache->batch_size() != B) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the KV cache holds ", in.cache->batch_size(), " sequences but the input has ", B));
  }
  return absl::OkStatus();
}

absl::StatusOr<DecoderOutput> Decoder::Forward(const DecoderInput& input) const {
  absl::StatusOr<DecoderOutput> out =
      internal::GuardTorch("decoder forward", [&]() -> absl::StatusOr<DecoderOutput> {
        if (absl::Status status = CheckInput(input); !status.ok()) return status;
        return ForwardImpl(input);
      });
  if (!out.ok() && input.cache != nullptr) input.cache->Rollback();
  return out;
}

// What every layer of one Forward call shares.
struct Decoder::Step {
  torch::Tensor new_mask;    // [B, T] bool: real tokens among the new ones
  torch::Tensor cos, sin;    // [B, T, R] RoPE tables in the decoder's dtype
  AttentionPattern pattern;  // mask over [T, S]
  KvCache* cache = nullptr;
};

// Masks, positions and RoPE tables for T new tokens of B sequences.
Decoder::Step Decoder::PrepareStep(const DecoderInput& in, int64_t B, int64_t T) const {
  const torch::TensorOptions on_device = torch::TensorOptions().device(options_.device);
  Step step;
  step.cache = in.cache;
  const bool has_past = in.cache != nullptr && !in.cache->empty();
  step.new_mask = in.attention_mask.defined()
                      ? in.attention_mask.to(options_.device).ne(0)
                      : torch::ones({B, T}, on_device.dtype(torch::kBool));  // [B, T]
  torch::Tensor key_mask = has_past ? torch::cat({in.cache->mask(), step.new_mask}, 1)
                                    : step.new_mask;  // [B, S]
  step.pattern = MakeAttentionPattern(key_mask, T, options_.dtype);
  torch::Tensor positions;  // [B, T]
  if (in.position_ids.defined()) {
    positions = in.position_ids.to(options_.device, torch::kLong);
  } else {  // each real token's count of real tokens before it
    torch::Tensor before = has_past ? in.cache->token_counts()
                                    : torch::zeros({B}, on_device.dtype(torch::kLong));  // [B]
    positions = before.unsqueeze(1) + step.new_mask.to(torch::kLong).cumsum(1) - 1;  // [B, T]
    positions.masked_fill_(step.new_mask.logical_not(), 0);
  }
  // RoPE angles in float32, as Hugging Face's rotary embedding.
  std::tie(step.cos, step.sin) =
      RopeTables(positions, weights_.inv_freq, options_.dtype);  // [B, T, R] x2
  return step;
}

absl::StatusOr<DecoderOutput> Decoder::ForwardImpl(const DecoderInput& in) const {
  const int L = static_cast<int>(config_.num_hidden_layers);
  // Token embeddings, or the caller's.
  torch::Tensor x = in.input_ids.defined()
                        ? torch::embedding(weights_.embed,
                                           in.input_ids.to(options_.device, torch::kLong))
                        : in.inputs_embeds.to(options_.device, options_.dtype);  // [B, T, C]
  const int64_t B = x.size(0), T = x.size(1);
  const Step step = PrepareStep(in, B, T);
  if (in.cache != nullptr) {
    absl::Status status = in.cache->PrepareAppend(
        L, B, config_.num_key_value_heads, config_.head_dim,
        torch::TensorOptions(options_.dtype).device(options_.device), T);
    if (!status.ok()) return status;
  }
  DecoderOutput out;
  if (in.output_hidden_states) out.hidden_states.push_back(x);  // embedding output
  for (int i = 0; i < L; ++i) {
    x = Layer(i, x, step);  // [B, T, C]
    if (in.layer_hook) {
      absl::StatusOr<torch::Tensor> hooked = ApplyHook(in.layer_hook, i, x);
      if (!hooked.ok()) return hooked.status();
      x = *std::move(hooked);  // [B, T, C]
    }
    if (in.output_hidden_states && i + 1 < L) out.hidden_states.push_back(x);
  }
  x = Norm(x, weights_.final_norm_w, weights_.final_norm_b);  // [B, T, C]
  if (in.output_hidden_states) out.hidden_states.push_back(x);
  out.last_hidden_state = x;
  if (in.logits == LogitsMode::kAll) {
    out.logits = torch::linear(x, weights_.lm_head);  // [B, T, V]
  } else if (in.logits == LogitsMode::kLast) {
    // A 2-D contiguous input keeps this a plain matrix product: a strided
    // [B, 1, C] view would make matmul broadcast (and copy) the [V, C] head.
    out.logits = torch::linear(x.select(1, T - 1).contiguous(), weights_.lm_head)
                     .unsqueeze(1);  // [B, 1, V]
  }
  if (in.cache != nullptr) in.cache->Commit(step.new_mask);
  return out;
}

// LayerNorm (GPT-NeoX) or RMSNorm in float32 (Llama): [B, T, C] -> [B, T, C].
torch::Tensor Decoder::Norm(const torch::Tensor& x, const torch::Tensor& w,
                            const torch::Tensor& b) const {
  if (config_.architecture == Architecture::kGptNeox) {
    return torch::layer_norm(x, {config_.hidden_size}, w, b, config_.norm_eps);
  }
  return RmsNorm(x, w, config_.norm_eps);  // [B, T, C]
}

torch::Tensor Decoder::Layer(int i, const torch::Tensor& x, const Step& step) const {
  const internal::LayerWeights& w = weights_.layers[i];
  torch::Tensor attn = Attention(i, Norm(x, w.norm1_w, w.norm1_b), step);  // [B, T, C]
  if (config_.architecture == Architecture::kLlama) {
    torch::Tensor h = x + attn;                            // [B, T, C]
    return h + Mlp(i, Norm(h, w.norm2_w, w.norm2_b));      // [B, T, C]
  }
  if (config_.use_parallel_residual) {
    torch::Tensor mlp = Mlp(i, Norm(x, w.norm2_w, w.norm2_b));  // [B, T, C]
    return mlp + attn + x;                                      // [B, T, C]
  }
  torch::Tensor h = attn + x;                          // [B, T, C]
  return Mlp(i, Norm(h, w.norm2_w, w.norm2_b)) + h;    // [B, T, C]
}

torch::Tensor Decoder::Attention(int i, const torch::Tensor& x, const Step& step) const {
  const internal::LayerWeights& w = weights_.layers[i];
  const int64_t B = x.size(0), T = x.size(1);
  const int64_t H = config_.num_attention_heads, KVH = config_.num_key_value_heads;
  const int64_t D = config_.head_dim;
  torch::Tensor q, k, v;
  if (config_.architecture == Architecture::kGptNeox) {
    torch::Tensor qkv = torch::linear(x, w.qkv_w, w.qkv_b);  // [B, T, 3C]
    qkv = qkv.view({B, T, H, 3 * D}).transpose(1, 2);       // [B, H, T, 3D]
    auto parts = qkv.chunk(3, -1);                          // 3 x [B, H, T, D]
    q = parts[0], k = parts[1], v = parts[2];
  } else if (w.qkv_rows_w.defined()) {
    torch::Tensor qkv = torch::linear(x, w.qkv_rows_w, w.qkv_rows_b);  // [B, T, (H+2KVH)*D]
    q = qkv.narrow(2, 0, H * D).view({B, T, H, D}).transpose(1, 2);            // [B, H, T, D]
    k = qkv.narrow(2, H * D, KVH * D).view({B, T, KVH, D}).transpose(1, 2);    // [B, KVH, T, D]
    v = qkv.narrow(2, (H + KVH) * D, KVH * D).view({B, T, KVH, D}).transpose(1, 2);
  } else {
    q = torch::linear(x, w.q_w, w.q_b).view({B, T, H, D}).transpose(1, 2);    // [B, H, T, D]
    k = torch::linear(x, w.k_w, w.k_b).view({B, T, KVH, D}).transpose(1, 2);  // [B, KVH, T, D]
    v = torch::linear(x, w.v_w, w.v_b).view({B, T, KVH, D}).transpose(1, 2);  // [B, KVH, T, D]
  }
  q = ApplyRotary(q, step.cos, step.sin);  // [B, H, T, D]
  k = ApplyRotary(k, step.cos, step.sin);  // [B, KVH, T, D]
  if (step.cache != nullptr) std::tie(k, v) = step.cache->Append(i, k, v);  // [B, KVH, S, D]
  const torch::Tensor& mask = step.pattern.additive;                         // [B, 1, T, S]
  torch::Tensor y = at::scaled_dot_product_attention(
      q, k, v, mask.defined() ? std::optional<torch::Tensor>(mask) : std::nullopt,
      /*dropout_p=*/0.0, step.pattern.causal,
      /*scale=*/1.0 / std::sqrt(static_cast<double>(D)),
      /*enable_gqa=*/KVH != H);                                     // [B, H, T, D]
  y = y.transpose(1, 2).reshape({B, T, H * D});                     // [B, T, H*D]
  return torch::linear(y, w.o_w, w.o_b);                            // [B, T, C]
}

torch::Tensor Decoder::Mlp(int i, const torch::Tensor& x) const {
  const internal::LayerWeights& w = weights_.layers[i];
  if (w.gate_up_w.defined()) {
    torch::Tensor gate_up = torch::linear(x, w.gate_up_w, w.gate_up_b);  // [B, T, 2I]
    const int64_t I = gate_up.size(2) / 2;
    torch::Tensor up = Activate(config_.hidden_act, gate_up.narrow(2, 0, I)) *
                       gate_up.narrow(2, I, I);  // [B, T, I]
    return torch::linear(up, w.down_w, w.down_b);  // [B, T, C]
  }
  torch::Tensor up = torch::linear(x, w.up_w, w.up_b);  // [B, T, I]
  if (config_.architecture == Architecture::kLlama) {
    torch::Tensor gate = torch::linear(x, w.gate_w, w.gate_b);     // [B, T, I]
    up = Activate(config_.hidden_act, gate) * up;                  // [B, T, I]
  } else {
    up = Activate(config_.hidden_act, up);                         // [B, T, I]
  }
  return torch::linear(up, w.down_w, w.down_b);  // [B, T, C]
}

std::vector<WeightSpec> ExpectedWeights(const DecoderConfig& config) {
  return internal::ExpectedWeights(config);
}

WeightMap RandomWeights(const DecoderConfig& config, uint64_t seed) {
  torch::NoGradGuard no_grad;
  at::Generator gen = at::detail::createCPUGenerator(seed);
  WeightMap weights;
  for (const internal::WeightSpec& spec : internal::ExpectedWeights(config)) {
    torch::Tensor noise = at::randn(spec.shape, gen, torch::kFloat);
    if (absl::EndsWith(spec.name, ".bias")) {
      noise = 0.1 * noise;
    } else if (spec.shape.size() == 1) {  // norm weights
      noise = 1.0 + 0.1 * noise;
    } else if (absl::StrContains(spec.name, "embed_in") ||
               absl::StrContains(spec.name, "embed_tokens")) {
      noise = 0.5 * noise;
    } else {
      noise = noise / std::sqrt(static_cast<double>(spec.shape[1]));
    }
    weights[spec.name] = noise;
  }
  return weights;
}

WeightMap TakeWeightsWithPrefix(WeightMap* weights, absl::string_view prefix) {
  WeightMap taken;
  for (auto it = weights->begin(); it != weights->end();) {
    if (absl::StartsWith(it->first, prefix)) {
      taken[it->first.substr(prefix.size())] = std::move(it->second);
      it = weights->erase(it);
    } else {
      ++it;
    }
  }
  return taken;
}

}  // namespace ccs::model::transformer
