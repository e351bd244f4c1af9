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
//                                             absent when the config says
//                                             encoder_shares_decoder_weights
//   <base>rcc_encoder2gpt_embed.weight        [Dd, De]
//   <base>rcc_encoder2gpt_A_matrix.<i>.weight [Dd, De], i < Ld
//
// Training (model/train/train_rcc.cc) uses Initialize, Parameters,
// TrainingCompress and BatchLogits. The encoder is either the frozen decoder
// itself (only the projections learn) or, with
// encoder_shares_decoder_embedding, a copy of the decoder's first layers
// that learns beside the projections; memory is made as Compress makes it.
//
// Thread-safety: immutable after Create (the projections' values change
// only when a trainer updates the tensors Parameters names, in place); all
// methods are const and may run concurrently.
#ifndef CCS_MODEL_RCC_RCC_MODEL_H_
#define CCS_MODEL_RCC_RCC_MODEL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
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
  // Training: keep an encoder of its own unfused (Decoder's
  // fuse_projections off), so that Parameters are leaves a trainer can
  // update in place.
  bool unfused_encoder = false;
};

class RccModel {
 public:
  // Create takes the encoder and projection tensors out of `weights` (the
  // rest, e.g. the decoder's own tensors, stay there) and checks them
  // against the configs: ONE INVALID_ARGUMENT lists every missing or
  // mis-shaped tensor. An encoder whose depth is neither a multiple nor a
  // divisor of the decoder's is INVALID_ARGUMENT. The encoder runs with the
  // decoder's device and dtype. When config.encoder_shares_decoder_weights,
  // the encoder is `decoder` itself: `encoder_config` is not read, and an
  // <base>rcc_encoder.* tensor in `weights` is INVALID_ARGUMENT (the
  // checkpoint would contradict its config). With
  // config.encoder_shares_decoder_embedding the encoder has
  // config.encoder_layers layers of the decoder's shape and reads the
  // decoder's embedding (`encoder_config` is not read either), and a
  // <base>rcc_encoder.<embedding> tensor in `weights` is INVALID_ARGUMENT.
  static absl::StatusOr<std::unique_ptr<RccModel>> Create(
      const RccConfig& config, const transformer::DecoderConfig& encoder_config,
      transformer::WeightMap* weights, std::shared_ptr<const transformer::Decoder> decoder,
      const RccOptions& options = {});

  // --- Training (model/train); serving never calls these. ---

  // Initialize makes fresh projections over `decoder`, which is also the
  // encoder (config.encoder_shares_decoder_weights must be true, else
  // INVALID_ARGUMENT): rcc_encoder2gpt_embed = identity, so that the decoder
  // starts by reading each slot's own token embedding (the encoder's state
  // 0), and every A matrix ~ N(0, layer_projection_std^2) drawn from `seed`
  // (0: zero matrices). Zero A with the identity embedding is a sane start:
  // the decoder then sees the slot tokens as ordinary tokens, and the
  // gradient of A_i, (upstream gradient) x enc_h(i), is not zero, so every
  // A learns from the first step. Errors as Create.
  static absl::StatusOr<std::unique_ptr<RccModel>> Initialize(
      const RccConfig& config, std::shared_ptr<const transformer::Decoder> decoder,
      uint64_t seed, double layer_projection_std = 0.0, const RccOptions& options = {});

  // With config.encoder_shares_decoder_embedding instead, the encoder is a
  // copy of the decoder's first config.encoder_layers layers and its final
  // norm (so its states start equal to the decoder's), reading the decoder's
  // embedding; it has its own tensors, which Parameters lists.

  // Parameters names what the checkpoint holds, as it names it: the
  // projections (embed, then A_0 .. A_{Ld-1}), then, unless the encoder is
  // the decoder, the encoder's own tensors as <base>rcc_encoder.<name>
  // sorted by name (never the decoder's embedding it shares). The tensors
  // share storage with the model: an optimiser that updates them in place
  // (under no-grad) updates the model. A trainer needs
  // RccOptions::unfused_encoder for the encoder's tensors to be leaves.
  std::vector<std::pair<std::string, torch::Tensor>> Parameters() const;

  // TrainingCompress is Compress recorded by autograd (no inference guard),
  // so that a loss on BatchLogits of its memories reaches the encoder's own
  // tensors. The same values as Compress.
  absl::StatusOr<std::vector<torch::Tensor>> TrainingCompress(
      const std::vector<std::vector<int64_t>>& contexts) const;

  // BatchLogits is InjectedLogits for B memories of the same P, recording
  // autograd (no inference guard), for training: memory [B, P, Le+1, De]
  // (any dtype and device, as Compress makes it; converted to the decoder's),
  // ids [B, T] (T >= 0, on any device) -> logits [B, P + T, V] in the
  // decoder's dtype. Row b is exactly InjectedLogits(memory[b], ids[b]).
  // Padding a row on the right changes none of its earlier logits (causal
  // attention). INVALID_ARGUMENT for other shapes or ids outside the
  // vocabulary.
  absl::StatusOr<torch::Tensor> BatchLogits(const torch::Tensor& memory,
                                            const torch::Tensor& ids) const;

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
  RccModel(RccConfig config, RccOptions options,
           std::shared_ptr<const transformer::Decoder> encoder,
           std::shared_ptr<const transformer::Decoder> decoder, torch::Tensor embed_proj,
           std::vector<torch::Tensor> layer_proj, std::vector<std::vector<int64_t>> sources);

  // Compress, under an inference guard when `inference`.
  absl::StatusOr<std::vector<torch::Tensor>> CompressImpl(
      const std::vector<std::vector<int64_t>>& contexts, bool inference) const;
  // Checks `memory` ([P, Le+1, De], or [B, P, Le+1, De] when `batched`) and
  // moves it to the decoder's device and dtype.
  absl::StatusOr<torch::Tensor> PrepareMemory(const torch::Tensor& memory,
                                              bool batched = false) const;
  // The decoder's layer-0 input at the P prefix positions: [..., P, Dd] of
  // memory [..., P, Le+1, De].
  torch::Tensor EmbedInjection(const torch::Tensor& memory) const;
  // The vectors added after decoder layer i at the P prefix positions:
  // [..., P, Dd].
  torch::Tensor LayerInjection(const torch::Tensor& memory, int layer) const;

  const RccConfig config_;
  const RccOptions options_;
  // The decoder itself when config_.encoder_shares_decoder_weights.
  const std::shared_ptr<const transformer::Decoder> encoder_;
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
