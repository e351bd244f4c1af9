// DecoderConfig: the shape of a decoder-only transformer, read from a Hugging
// Face config.json. Torch-free: safe to include anywhere.
//
//   absl::StatusOr<ccs::model::transformer::DecoderConfig> config =
//       ccs::model::transformer::LoadDecoderConfig("/models/pythia/config.json");
//   if (!config.ok()) return config.status();
//   int64_t head_dim = config->head_dim;
//
// Two families are understood, with Hugging Face's own defaults for any key a
// config.json leaves out (written beside each field below):
//   model_type "gpt_neox" (Pythia, GPTNeoXForCausalLM) and
//   model_type "llama"    (Llama, SmolLM2, LlamaForCausalLM).
// Keys that fix the model's size (hidden_size, num_hidden_layers,
// num_attention_heads, intermediate_size, vocab_size) are required: a config
// without them is rejected rather than silently given a 7B model's shape.
//
// Thread-safety: DecoderConfig is a plain value; the functions are pure.
#ifndef CCS_MODEL_TRANSFORMER_CONFIG_H_
#define CCS_MODEL_TRANSFORMER_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ccs::model::transformer {

// Architecture is the family, from config.json's "model_type".
enum class Architecture {
  kGptNeox,  // LayerNorm, fused QKV, partial rotary, (parallel) residual, GELU
  kLlama,    // RMSNorm, separate Q/K/V/O, GQA, full rotary, SwiGLU
};

// Activation is the MLP non-linearity, from "hidden_act".
enum class Activation {
  kGelu,      // "gelu": exact, erf-based (Pythia)
  kGeluTanh,  // "gelu_new", "gelu_pytorch_tanh", "gelu_fast": tanh approximation
  kSilu,      // "silu" or "swish" (Llama's SwiGLU gate)
  kRelu,      // "relu"
};

struct DecoderConfig {
  Architecture architecture = Architecture::kLlama;
  std::string model_type;  // as written: "gpt_neox" or "llama"

  // Required sizes.
  int64_t hidden_size = 0;        // C: width of the residual stream
  int64_t num_hidden_layers = 0;  // L
  int64_t num_attention_heads = 0;
  int64_t intermediate_size = 0;  // MLP width (4C in Pythia)
  int64_t vocab_size = 0;         // V: rows of the embedding table

  // Llama's grouped-query attention: K/V heads shared by groups of query
  // heads. Default: num_attention_heads (plain multi-head). Always equal to
  // num_attention_heads for GPT-NeoX.
  int64_t num_key_value_heads = 0;
  // Width of one head. Llama may set it ("head_dim"); otherwise, and always
  // for GPT-NeoX, hidden_size / num_attention_heads.
  int64_t head_dim = 0;
  // Positions the model was trained on. Informational: rotary embeddings
  // themselves impose no limit. Default 2048 (both families).
  int64_t max_position_embeddings = 2048;

  // Rotary position embedding. rope_theta is the base: GPT-NeoX reads
  // "rotary_emb_base" (default 10000; Hugging Face ignores a "rope_theta" key
  // there), Llama reads "rope_theta" (default 10000).
  double rope_theta = 10000.0;
  // Fraction of each head that is rotated: GPT-NeoX's "rotary_pct" (default
  // 0.25, Pythia's value); always 1.0 for Llama.
  double rotary_pct = 1.0;
  // int(head_dim * rotary_pct), as Hugging Face computes it; even and > 0.
  int64_t rotary_ndims = 0;

  // GPT-NeoX: x + attn(ln1(x)) + mlp(ln2(x)) when true (default, Pythia);
  // x = x + attn(ln1(x)); x = x + mlp(ln2(x)) when false. Llama: false.
  bool use_parallel_residual = false;
  // GPT-NeoX "layer_norm_eps" (default 1e-5) or Llama "rms_norm_eps"
  // (default 1e-6).
  double norm_eps = 1e-5;
  // Output head shares the input embedding table. Default false (both).
  bool tie_word_embeddings = false;
  // GPT-NeoX default "gelu", Llama default "silu".
  Activation hidden_act = Activation::kGelu;
  // Biases on the attention projections: GPT-NeoX default true, Llama
  // default false. Biases on the MLP: GPT-NeoX always, Llama "mlp_bias"
  // (default false).
  bool attention_bias = false;
  bool mlp_bias = false;

  // Special tokens; absent when config.json has null. eos_token_id may be a
  // single id or a list. Defaults: GPT-NeoX bos 0, eos 2; Llama bos 1, eos 2.
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;
  std::optional<int64_t> pad_token_id;
};

// ParseDecoderConfig reads config.json's text. Errors: INVALID_ARGUMENT for
// malformed JSON, a missing required key, a key of the wrong type, or sizes
// that do not fit together (each names the key and what is allowed);
// UNIMPLEMENTED for a model_type, hidden_act or rope_scaling type this engine
// does not compute (naming it).
absl::StatusOr<DecoderConfig> ParseDecoderConfig(absl::string_view json_text);

// LoadDecoderConfig reads and parses a config.json file. NOT_FOUND when the
// file cannot be read; otherwise as ParseDecoderConfig, with the path in the
// message.
absl::StatusOr<DecoderConfig> LoadDecoderConfig(const std::string& path);

// ValidateDecoderConfig checks the invariants a model is built on (positive
// sizes, hidden_size divisible by heads where head_dim is derived, heads
// divisible by K/V heads, an even rotary width, positive eps). Parse calls
// it; call it again after editing a config by hand.
absl::Status ValidateDecoderConfig(const DecoderConfig& config);

}  // namespace ccs::model::transformer

#endif  // CCS_MODEL_TRANSFORMER_CONFIG_H_
