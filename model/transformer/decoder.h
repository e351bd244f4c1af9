// Decoder: a decoder-only transformer, GPT-NeoX (Pythia) or Llama, computed
// as Hugging Face transformers computes GPTNeoXForCausalLM and
// LlamaForCausalLM. Torch-facing: include only from model/ .cc files.
//
//   absl::StatusOr<std::unique_ptr<Decoder>> decoder = Decoder::Create(
//       config, std::move(weights), {torch::kCPU, torch::kBFloat16});
//   if (!decoder.ok()) return decoder.status();
//   torch::InferenceMode guard;            // callers choose: see below
//   KvCache cache;
//   DecoderInput input;
//   input.input_ids = ids;                 // [B, T] (or inputs_embeds [B, T, C])
//   input.attention_mask = mask;           // [B, T]: 0 at padding
//   input.cache = &cache;
//   input.logits = LogitsMode::kLast;
//   absl::StatusOr<DecoderOutput> out = (*decoder)->Forward(input);
//
// What the compression methods build on (DESIGN.md 3.1, 3.2):
//   - input embeddings instead of ids (IC-Former digests; RCC's prefix);
//   - output_hidden_states: the L+1 hidden states of Hugging Face's
//     output_hidden_states=True (embedding output, input of each later layer,
//     last the final output AFTER the final norm), as RCC's encoder keeps;
//   - layer_hook: after decoder layer i, replaces the hidden states the next
//     layer reads (RCC adds A_i(enc_h[i+1]) at its prefix on prefill);
//   - embedding_table() and Embed() (IC-Former reads word embeddings).
//
// Forward records no autograd-disabling guard of its own: inference callers
// (generation, compression) open torch::InferenceMode; training may run it
// with autograd to get gradients into inputs_embeds or hook outputs. The
// weights themselves are plain tensors that do not require grad.
//
// Thread-safety: a Decoder is immutable after Create. Forward is const and
// may run on several threads at once, each with its own KvCache.
#ifndef CCS_MODEL_TRANSFORMER_DECODER_H_
#define CCS_MODEL_TRANSFORMER_DECODER_H_

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <torch/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/transformer/config.h"
#include "model/transformer/internal/weights.h"
#include "model/transformer/kv_cache.h"

namespace ccs::model::transformer {

// Tensors by Hugging Face name ("gpt_neox.layers.0.attention.dense.weight").
using WeightMap = std::unordered_map<std::string, torch::Tensor>;
// A tensor's Hugging Face name and shape.
using WeightSpec = internal::WeightSpec;

struct DecoderOptions {
  // Where the weights live and the forward pass runs.
  torch::Device device = torch::kCPU;
  // Weight and activation dtype: kFloat32 or kBFloat16 (kFloat16 works too).
  // Norm statistics, softmax and RoPE angles are computed in float32 as
  // Hugging Face does, whatever this is.
  torch::ScalarType dtype = torch::kFloat32;
  // Llama: store q/k/v and gate/up each as one matrix, so that a layer runs
  // two matrix products fewer (a decode step is bound by per-call overhead
  // and memory traffic, not arithmetic). weights() then holds views into the
  // fused matrices. Turn it off to train the weights themselves.
  bool fuse_projections = true;
};

// LayerHook is called after decoder layer `layer` (0-based) with its output
// hidden [B, T, C] and returns the hidden states that continue (same shape,
// dtype and device): the next layer's input, or for the last layer the final
// norm's input.
using LayerHook = std::function<torch::Tensor(int layer, const torch::Tensor& hidden)>;

// LogitsMode says which positions get logits (the [V x C] product is the
// costliest single op for small models with big vocabularies).
enum class LogitsMode {
  kAll,   // [B, T, V]
  kLast,  // [B, 1, V]: the last column (left-padded prompts end there)
  kNone,  // no logits: an encoder that only wants hidden states
};

struct DecoderInput {
  // Exactly one of input_ids ([B, T] integer) and inputs_embeds ([B, T, C],
  // converted to the decoder's dtype and device).
  torch::Tensor input_ids;
  torch::Tensor inputs_embeds;
  // [B, T] for these T tokens (bool or integer, nonzero = real token,
  // 0 = padding). Undefined: all real. The cache keeps it for later steps.
  torch::Tensor attention_mask;
  // [B, T] integer RoPE positions. Undefined: as Hugging Face's generate
  // makes them, each real token's count of real tokens before it in its row
  // (in the cache and in this input); padding gets 0.
  torch::Tensor position_ids;
  // Appended to when not null (and read: these tokens attend to it).
  KvCache* cache = nullptr;
  bool output_hidden_states = false;
  LayerHook layer_hook;  // empty: none
  LogitsMode logits = LogitsMode::kAll;
};

struct DecoderOutput {
  torch::Tensor logits;                      // see LogitsMode; the decoder's dtype
  torch::Tensor last_hidden_state;           // [B, T, C] after the final norm
  // L+1 of [B, T, C] when asked: the embedding output, the input of each
  // later layer (after the layer_hook, if any), the final norm's output.
  std::vector<torch::Tensor> hidden_states;
};

class Decoder {
 public:
  // Create checks `weights` against `config` (names exactly as Hugging Face
  // writes them; see ExpectedWeights) and moves them to options' device and
  // dtype, consuming the map. Errors: INVALID_ARGUMENT from an invalid config,
  // or ONE INVALID_ARGUMENT listing every missing, unexpected and mis-shaped
  // tensor; RESOURCE_EXHAUSTED when the device runs out of memory.
  // Tolerated and dropped: an output head in a tied checkpoint, and the
  // buffers Hugging Face skips (*.attention.bias, *.attention.masked_bias,
  // *.rotary_emb.inv_freq).
  static absl::StatusOr<std::unique_ptr<Decoder>> Create(const DecoderConfig& config,
                                                         WeightMap weights,
                                                         const DecoderOptions& options = {});

  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Forward runs the model. INVALID_ARGUMENT for inputs of the wrong shape or
  // type, token ids outside the vocabulary, or a cache of another model or
  // batch size; INTERNAL / RESOURCE_EXHAUSTED for libtorch failures. On error
  // the cache is left as it was.
  absl::StatusOr<DecoderOutput> Forward(const DecoderInput& input) const;

  // Embed looks token ids [B, T] up in the embedding table: [B, T, C], the
  // same as Forward's first step. INVALID_ARGUMENT for ids out of range.
  absl::StatusOr<torch::Tensor> Embed(const torch::Tensor& input_ids) const;

  // embedding_table is the input embedding matrix [V, C]
  // (gpt_neox.embed_in.weight / model.embed_tokens.weight).
  const torch::Tensor& embedding_table() const { return weights_.embed; }
  // weights holds every tensor under its Hugging Face name, as used.
  const WeightMap& weights() const { return weights_.named; }
  const DecoderConfig& config() const { return config_; }
  const DecoderOptions& options() const { return options_; }

 private:
  Decoder(DecoderConfig config, DecoderOptions options, internal::DecoderWeights weights);

  struct Step;  // what every layer of one call shares (decoder.cc)

  absl::Status CheckInput(const DecoderInput& input) const;
  absl::StatusOr<DecoderOutput> ForwardImpl(const DecoderInput& input) const;
  Step PrepareStep(const DecoderInput& input, int64_t B, int64_t T) const;
  // One decoder layer, its attention and its MLP: [B, T, C] -> [B, T, C].
  torch::Tensor Layer(int i, const torch::Tensor& x, const Step& step) const;
  torch::Tensor Attention(int i, const torch::Tensor& x, const Step& step) const;
  torch::Tensor Mlp(int i, const torch::Tensor& x) const;
  torch::Tensor Norm(const torch::Tensor& x, const torch::Tensor& w,
                     const torch::Tensor& b) const;

  const DecoderConfig config_;
  const DecoderOptions options_;
  const internal::DecoderWeights weights_;
};

// ExpectedWeights lists the names and shapes of the tensors Create wants for
// `config` (the output head only when untied).
std::vector<WeightSpec> ExpectedWeights(const DecoderConfig& config);

// RandomWeights makes a full set of weights for `config` on the CPU in
// float32: normal(0, 1/sqrt(fan_in)) matrices, normal(0, 0.5) embeddings,
// norms near 1 and small biases; deterministic in `seed`. For tests of code
// built on a Decoder.
WeightMap RandomWeights(const DecoderConfig& config, uint64_t seed);

// TakeWeightsWithPrefix moves the tensors whose names start with `prefix`
// out of `weights` into the result, with the prefix removed: RCC's encoder is
// TakeWeightsWithPrefix(&all, "gpt_neox.rcc_encoder.").
WeightMap TakeWeightsWithPrefix(WeightMap* weights, absl::string_view prefix);

}  // namespace ccs::model::transformer

#endif  // CCS_MODEL_TRANSFORMER_DECODER_H_
