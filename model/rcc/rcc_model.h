// RccModel: RCC's encoder and its projections into a decoder (DESIGN.md
// 3.1), in the released checkpoint's schema. Torch-facing: include only from
// model/ .cc files.
//
// Shape legend: P memory slots, Le / Ld encoder / decoder layers, De / Dd
// their widths, T tokens.
//
//   memory = model->Compress({context_ids})[0];        // [P, Le+1, De]
//   prefix = model->BuildPrefix(memory);               // decoder KV of P slots
//   request.prefix = prefix; request.prompt_ids = prompt;
//   Generate(model->decoder(), {request});             // answers from memory
//
// The decoder reads memory on its prefill pass only: its input is P
// placeholder positions then the prompt; at the P positions the layer-0
// input is rcc_encoder2gpt_embed(enc_h[0]), and after decoder layer i,
// rcc_encoder2gpt_A_matrix[i](enc_h(i)) is added, where enc_h(i) is the
// encoder state i+1 when both have the same depth, the mean of states
// k*i+1 .. k*i+k when the encoder is k times deeper (the released code's
// layers_Equal path, k = 2), and state i/k + 1 when the decoder is k times
// deeper (duplicated). Causal attention means the P prefix positions never
// see the prompt, so their KV is computed once (BuildPrefix) and every
// Generate on the same memory only prefills its prompt.
//
// Tensor names (base = "gpt_neox." for the released Pythia model, "model."
// for the Llama family):
//   <base>rcc_encoder.<a whole causal LM: gpt_neox.* / model.*, and its head>
//   <base>rcc_encoder2gpt_embed.weight        [Dd, De]
//   <base>rcc_encoder2gpt_A_matrix.<i>.weight [Dd, De], i < Ld
//
// Thread-safety: immutable after Create; all methods are const and may run
// concurrently.
#ifndef CCS_MODEL_RCC_RCC_MODEL_H_
#define CCS_MODEL_RCC_RCC_MODEL_H_

#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "model/rcc/rcc_config.h"
#include "model/transformer/config.h"
#include "model/transformer/decoder.h"
#include "model/transformer/kv_cache.h"

namespace ccs::model::rcc {

struct RccOptions {
  // Segments encoded in one encoder pass at most (bounds activation memory).
  int max_batch_segments = 8;
};

class RccModel {
 public:
  // Create takes the encoder and projection tensors out of `weights` (the
  // rest, e.g. the decoder's own tensors, stay there) and checks them
  // against the configs: ONE INVALID_ARGUMENT lists every missing or
  // mis-shaped tensor. An encoder whose depth is neither a multiple nor a
  // divisor of the decoder's is INVALID_ARGUMENT. The encoder runs with the
  // decoder's device and dtype.
  static absl::StatusOr<std::unique_ptr<RccModel>> Create(
      const RccConfig& config, const transformer::DecoderConfig& encoder_config,
      transformer::WeightMap* weights, std::shared_ptr<const transformer::Decoder> decoder,
      const RccOptions& options = {});

  // Compress encodes each context (token ids of the encoder's vocabulary,
  // non-empty) into its memory [P, Le+1, De] in the storage dtype, on the
  // CPU. Segments of all contexts share encoder passes.
  absl::StatusOr<std::vector<torch::Tensor>> Compress(
      const std::vector<std::vector<int64_t>>& contexts) const;

  // BuildPrefix computes the decoder's KV of the P memory positions (batch
  // 1), for GenerationRequest::prefix. INVALID_ARGUMENT for a memory of the
  // wrong shape.
  absl::StatusOr<std::shared_ptr<const transformer::KvCache>> BuildPrefix(
      const torch::Tensor& memory) const;

  // InjectedLogits is the one-pass form, exactly as the released code runs:
  // logits [1, P + T, V] of [placeholder x P, prompt] with the memory
  // injected. For tests and evaluation; serving uses BuildPrefix.
  absl::StatusOr<torch::Tensor> InjectedLogits(const torch::Tensor& memory,
                                               const std::vector<int64_t>& prompt) const;

  const RccConfig& config() const { return config_; }
  const transformer::Decoder& encoder() const { return *encoder_; }
  const transformer::Decoder& decoder() const { return *decoder_; }
  // Encoder states (indices into the Le+1) that decoder layer i reads.
  const std::vector<int64_t>& sources(int decoder_layer) const {
    return sources_[decoder_layer];
  }

 private:
  RccModel(RccConfig config, RccOptions options, std::unique_ptr<transformer::Decoder> encoder,
           std::shared_ptr<const transformer::Decoder> decoder, torch::Tensor embed_proj,
           std::vector<torch::Tensor> layer_proj, std::vector<std::vector<int64_t>> sources);

  // Checks `memory` and moves it to the decoder's device and dtype.
  absl::StatusOr<torch::Tensor> PrepareMemory(const torch::Tensor& memory) const;
  // The vectors added after decoder layer i at the P prefix positions: [P, Dd].
  torch::Tensor LayerInjection(const torch::Tensor& memory, int layer) const;

  const RccConfig config_;
  const RccOptions options_;
  const std::unique_ptr<transformer::Decoder> encoder_;
  const std::shared_ptr<const transformer::Decoder> decoder_;
  const torch::Tensor embed_proj_;               // [Dd, De]
  const std::vector<torch::Tensor> layer_proj_;  // Ld x [Dd, De]
  const std::vector<std::vector<int64_t>> sources_;
  const torch::ScalarType storage_dtype_;
};

// TakeRccWeights moves the encoder's and the projections' tensors
// (<base>rcc_encoder.* and <base>rcc_encoder2gpt_*) out of a whole released
// checkpoint, leaving the decoder's; it also drops the released decoder's
// unused inner head, gpt_neox.embed_out.weight.
transformer::WeightMap TakeRccWeights(transformer::WeightMap* all, const std::string& base);

// RccBasePrefix is config.base_prefix, or the decoder architecture's own
// ("gpt_neox." / "model.").
std::string RccBasePrefix(const RccConfig& config, const transformer::DecoderConfig& decoder);

}  // namespace ccs::model::rcc

#endif  // CCS_MODEL_RCC_RCC_MODEL_H_
