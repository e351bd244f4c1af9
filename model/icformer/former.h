// IcFormer: the In-Context Former (arXiv 2406.13618, DESIGN.md 3.2), which
// distils a context's word embeddings into digest vectors by cross-attention
// only, and the decoder inputs that read them. Torch-facing: include only
// from model/ .cc files.
//
// Shape legend: n context tokens, m tokens of one chunk, k digests per chunk
// (num_query_tokens), S = m + k attended positions, P digests of a context
// (chunks * k), C width (the former's = the decoder's), T decoder inputs.
//
//   std::vector<torch::Tensor> digests = *former->Compress({context_ids});  // [P, C]
//   GenerationRequest request;
//   request.prompt_embeds = *former->AnswerEmbeds(digests[0], prompt_ids,
//                                                 prefix_ids, suffix_ids);  // [T, C]
//   Generate(former->decoder(), {request});
//
// The former (released icformer/modeling_icformer.py, modules.py). For each
// chunk of m tokens, ctx = concat(the chunk's word embeddings from the
// frozen decoder's table, the k learned digest embeddings): [S, C], the same
// for every layer. The queries h start as the digest embeddings [k, C]; each
// layer (all cross-attention) computes
//   h = h + o(attn(q = RmsNorm_cross_input(h), kv = RmsNorm_context(ctx)))
//   h = h + down(silu(gate(x)) * up(x)),  x = RmsNorm_post(h)
// and the last is followed by RmsNorm (encoder.norm): h is the chunk's k
// digests. RoPE positions are 0..S-1 over ctx (keys), and the queries take
// the last k (m..S-1). Digest i attends to every context token, itself and
// the digests before it. The context never attends to itself: the cost is
// linear in n (see CompressionFlops). A context's digests are its chunks'
// in order.
//
// Decoder inputs (modules.py): reconstruction feeds [digests, AE] and the
// decoder regenerates the context; answering feeds
// [emb(answer_prefix), digests, FT, emb(prompt), emb(answer_suffix)] (the
// template strings are in IcFormerConfig; their ids, and the prompt's, are
// tokenized without BOS).
//
// Tensor names (Hugging Face save_pretrained of ICFormerModel), i < layers:
//   encoder.layers.<i>.cross_attn.{q,o}_proj.weight  [H*D, C], [C, H*D]
//   encoder.layers.<i>.cross_attn.{k,v}_proj.weight  [KV*D, C]
//   encoder.layers.<i>.{cross_input_layernorm,context_layernorm,
//                       post_attention_layernorm}.weight  [C]
//   encoder.layers.<i>.mlp.{gate,up}_proj.weight     [I, C]
//   encoder.layers.<i>.mlp.down_proj.weight          [C, I]
//   encoder.norm.weight                              [C]
// and, in param.pt, digest_embeddings [1, k, C], AE [1, 1, C] and FT
// [1, 1, C] (absent before question-answering fine-tuning).
//
// Thread-safety: immutable after Create; all methods are const and may run
// concurrently.
#ifndef CCS_MODEL_ICFORMER_FORMER_H_
#define CCS_MODEL_ICFORMER_FORMER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "model/icformer/icformer_config.h"
#include "model/transformer/decoder.h"

namespace ccs::model::icformer {

// The learned embeddings of param.pt.
struct IcFormerParams {
  torch::Tensor digest_embeddings;  // [1, k, C]: the queries' start, ctx's tail
  torch::Tensor ae;                 // [1, 1, C]: "regenerate the context" (AE)
  torch::Tensor ft;                 // [1, 1, C]: "answer" (FT); undefined: absent
};

struct IcFormerOptions {
  // Chunks run through the former in one pass at most (bounds activation
  // memory: about max_batch_chunks * (L + k) * C * 8 values).
  int max_batch_chunks = 16;
};

class IcFormer {
 public:
  // Create checks `weights` and `params` against `config` and the decoder:
  // ONE INVALID_ARGUMENT lists every missing, unexpected and mis-shaped
  // tensor, and a hidden size other than the decoder's. INVALID_ARGUMENT too
  // for an invalid config, no decoder, or max_batch_chunks < 1. Everything is
  // moved to the decoder's device and dtype, in which the former runs.
  static absl::StatusOr<std::unique_ptr<IcFormer>> Create(
      const IcFormerConfig& config, transformer::WeightMap weights, IcFormerParams params,
      std::shared_ptr<const transformer::Decoder> decoder, const IcFormerOptions& options = {});

  // Compress turns each context (decoder token ids, non-empty) into its
  // digests [P, C], P = DigestCount(n), on the CPU in the decoder's dtype.
  // The chunks of all contexts share batched passes (right-padded and
  // masked), which give what compressing each chunk alone gives.
  // INVALID_ARGUMENT for an empty context or an id outside the vocabulary.
  absl::StatusOr<std::vector<torch::Tensor>> Compress(
      const std::vector<std::vector<int64_t>>& contexts) const;

  // ReconstructEmbeds is [digests, AE]: [P + 1, C] on the decoder's device
  // and dtype, for GenerationRequest::prompt_embeds. INVALID_ARGUMENT for
  // digests that are not [P, C] with P a positive multiple of k.
  absl::StatusOr<torch::Tensor> ReconstructEmbeds(const torch::Tensor& digests) const;

  // AnswerEmbeds is [emb(prefix_ids), digests, FT, emb(prompt_ids),
  // emb(suffix_ids)]: [T, C] likewise (empty id lists contribute nothing).
  // FAILED_PRECONDITION when the checkpoint has no FT; INVALID_ARGUMENT for
  // bad digests or ids outside the vocabulary.
  absl::StatusOr<torch::Tensor> AnswerEmbeds(const torch::Tensor& digests,
                                             const std::vector<int64_t>& prompt_ids,
                                             const std::vector<int64_t>& prefix_ids,
                                             const std::vector<int64_t>& suffix_ids) const;

  // --- Training (model/train); serving never calls these. ---

  // How Initialize starts a former.
  struct InitOptions {
    uint64_t seed = 0;
    bool with_ft = false;
    // Layer i's attention, MLP and norms start as copies of the decoder's
    // layer i (its input norm serving both cross_input_layernorm and
    // context_layernorm) instead of at random: a Llama decoder with at least
    // num_hidden_layers layers whose shapes and rope_theta the config shares.
    // The former then starts from attention maps that already read word
    // embeddings, as the RCC encoder starts from the decoder's first layers.
    bool layers_from_decoder = false;
  };

  // Initialize makes a former with fresh weights from `init.seed`, to be
  // trained: projections ~ N(0, 0.02^2) (or the decoder's, see InitOptions),
  // norms 1 except the final one, which starts at the word embeddings' root
  // mean square s (so that digests enter the decoder at the scale of the
  // embeddings they sit among; with 1 they would be 1/s times larger, 7.4x
  // for SmolLM2), and digest_embeddings, AE and (when `with_ft`) FT ~
  // N(0, s^2). Errors as Create; INVALID_ARGUMENT when layers_from_decoder
  // and the decoder's layers do not fit the config.
  static absl::StatusOr<std::unique_ptr<IcFormer>> Initialize(
      const IcFormerConfig& config, std::shared_ptr<const transformer::Decoder> decoder,
      const InitOptions& init, const IcFormerOptions& options = {});

  // Parameters names every learned tensor as the checkpoint does
  // (model.safetensors' names, then "digest_embeddings", "AE" and, when
  // present, "FT"). The tensors share storage with the former: an optimiser
  // that updates them in place (under no-grad) updates the former.
  std::vector<std::pair<std::string, torch::Tensor>> Parameters() const;

  // CompressChunks runs B chunks of equal length m (ids [B, m], 1 <= m <=
  // max_chunk_len, on any device) through the former: their digests
  // [B, k, C] on the decoder's device, recording autograd when parameters
  // require grad (no inference guard). Compress gives the same digests for
  // a context that is one such chunk. INVALID_ARGUMENT for another shape or
  // an id outside the vocabulary.
  absl::StatusOr<torch::Tensor> CompressChunks(const torch::Tensor& ids) const;

  // The learned embeddings (on the decoder's device and dtype).
  const IcFormerParams& params() const { return params_; }
  const IcFormerConfig& config() const { return config_; }
  const transformer::Decoder& decoder() const { return *decoder_; }
  // can_answer says whether the checkpoint has FT (AnswerEmbeds works).
  bool can_answer() const { return params_.ft.defined(); }

 private:
  // One cross-attention layer's tensors (H heads, KV K/V heads of D dims,
  // I the MLP width).
  struct Layer {
    torch::Tensor q_proj, o_proj;        // [H*D, C], [C, H*D]
    torch::Tensor k_proj, v_proj;        // [KV*D, C]
    torch::Tensor cross_input_norm;      // [C], on the queries
    torch::Tensor context_norm;          // [C], on ctx
    torch::Tensor post_attention_norm;   // [C], before the MLP
    torch::Tensor gate_proj, up_proj;    // [I, C]
    torch::Tensor down_proj;             // [C, I]
  };
  // RoPE tables of one batch of chunks.
  struct Rope {
    torch::Tensor cos_q, sin_q;  // [B, k, D]: positions m_b .. m_b + k - 1
    torch::Tensor cos_k, sin_k;  // [1, S, D]: positions 0 .. S - 1
  };

  IcFormer(IcFormerConfig config, IcFormerOptions options, std::vector<Layer> layers,
           torch::Tensor final_norm, IcFormerParams params,
           std::shared_ptr<const transformer::Decoder> decoder);

  // Runs B chunks: ctx [B, M + k, C] laid out [chunk b's m_b tokens, the k
  // digest embeddings, padding], lengths [B] = m_b. Returns [B, k, C].
  torch::Tensor Forward(const torch::Tensor& ctx, const std::vector<int64_t>& lengths) const;
  // o(attn(..)) of one layer: hq [B, k, C] normalised queries, ctx_n [B, S, C]
  // normalised ctx, mask [B, 1, k, S] additive. Returns [B, k, C].
  torch::Tensor CrossAttention(const Layer& layer, const torch::Tensor& hq,
                               const torch::Tensor& ctx_n, const Rope& rope,
                               const torch::Tensor& mask) const;
  // The gated MLP, down(act(gate(x)) * up(x)) (SwiGLU with silu): [B, k, C] -> [B, k, C].
  torch::Tensor Mlp(const Layer& layer, const torch::Tensor& x) const;
  // Checks digests and moves them to the decoder's device and dtype.
  absl::StatusOr<torch::Tensor> PrepareDigests(const torch::Tensor& digests) const;
  // Word embeddings [len, C] of ids (none: [0, C]).
  absl::StatusOr<torch::Tensor> Embed(const std::vector<int64_t>& ids) const;

  const IcFormerConfig config_;
  const IcFormerOptions options_;
  const std::vector<Layer> layers_;
  const torch::Tensor final_norm_;  // [C]
  const IcFormerParams params_;     // on the decoder's device and dtype
  const std::shared_ptr<const transformer::Decoder> decoder_;
  const torch::Tensor inv_freq_;    // [D/2] float32
};

// ExpectedIcFormerWeights lists the names and shapes of the former's
// tensors for `config` (model.safetensors; param.pt's are separate).
std::map<std::string, std::vector<int64_t>> ExpectedIcFormerWeights(
    const IcFormerConfig& config);

}  // namespace ccs::model::icformer

#endif  // CCS_MODEL_ICFORMER_FORMER_H_
