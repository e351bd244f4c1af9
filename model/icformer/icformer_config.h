// IC-Former (In-Context Former, arXiv 2406.13618) settings, the chunk plan
// of a context and the analytic cost of compressing it. Torch-free.
//
// The settings are the former's Hugging Face config.json (model_type
// "icformer", written by save_pretrained of the released ICFormerConfig),
// with Hugging Face's defaults for absent keys, plus three keys this project
// adds (absent from released checkpoints, which then get the published
// values):
//   "max_chunk_len": 512      context tokens per chunk at most (the released
//                             modules.py hard-codes ICFormer.max_chunk_len)
//   "answer_prefix": "<s>[INST] Response the Prompt based on the below text:\n\n"
//   "answer_suffix": "[/INST]"
//                             the answering template around the digests and
//                             the prompt (ICFormerQA's pre_embeds and
//                             post_embeds); tokenize them WITHOUT adding BOS:
//                             the "<s>" is in the text.
//
// How a context becomes digests (DESIGN.md 3.2). A context of n tokens is
// cut into chunk_num = ceil(n / L) chunks of chunk_size = ceil(n /
// chunk_num) tokens (L = max_chunk_len), the last one shorter; every chunk
// gives k = num_query_tokens digests, and a context's digests are those of
// its chunks in order: [chunk_num * k, C]. The last chunk is never empty:
// chunk_num = ceil(n/L) means n > (chunk_num-1) * L >= (chunk_num-1) *
// chunk_size, since chunk_size = ceil(n/chunk_num) <= L.
//
//   absl::StatusOr<IcFormerConfig> config = LoadIcFormerConfig(dir + "/config.json");
//   std::vector<IcFormerChunk> plan = PlanChunks(5000, *config);  // 10 x 500
//   int64_t flops = CompressionFlops(5000, *config);
//
// Thread-safety: plain values and pure functions.
#ifndef CCS_MODEL_ICFORMER_ICFORMER_CONFIG_H_
#define CCS_MODEL_ICFORMER_ICFORMER_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/transformer/config.h"

namespace ccs::model::icformer {

// The published answering template (modules.py, ICFormerQA).
inline constexpr absl::string_view kPublishedAnswerPrefix =
    "<s>[INST] Response the Prompt based on the below text:\n\n";
inline constexpr absl::string_view kPublishedAnswerSuffix = "[/INST]";

struct IcFormerConfig {
  // Required sizes (the paper's checkpoint: 4096, 3, 32, 11008).
  int64_t hidden_size = 0;        // C: the former's width = the LLM's
  int64_t num_hidden_layers = 0;  // cross-attention layers
  int64_t num_attention_heads = 0;
  int64_t intermediate_size = 0;  // SwiGLU width
  // K/V heads (grouped-query attention). Default: num_attention_heads.
  int64_t num_key_value_heads = 0;
  // k: digest tokens per chunk. Default 128 (the paper).
  int64_t num_query_tokens = 128;
  // hidden_size / num_attention_heads (the released code has no head_dim key).
  int64_t head_dim = 0;
  // Width of the K/V inputs. Default 4096 (ICFormerConfig's); must equal
  // hidden_size: the context norm is [hidden_size] and normalises the
  // digest embeddings too.
  int64_t context_hidden_size = 4096;
  // Informational (RoPE imposes no limit). Default 2048.
  int64_t max_position_embeddings = 2048;
  // The MLP gate's non-linearity. Default "silu" (SwiGLU).
  transformer::Activation hidden_act = transformer::Activation::kSilu;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  // Every cross_attention_frequency-th layer is cross-attention, the others
  // self-attention. Only 1 (all cross-attention, the paper's) is computed.
  int64_t cross_attention_frequency = 1;
  // L: see the header comment. Default 512.
  int64_t max_chunk_len = 512;
  // The answering template; see the header comment.
  std::string answer_prefix = std::string(kPublishedAnswerPrefix);
  std::string answer_suffix = std::string(kPublishedAnswerSuffix);
};

// ParseIcFormerConfig reads the former's config.json text. INVALID_ARGUMENT
// for malformed JSON, another model_type, a missing size, a key of the wrong
// type or sizes that do not fit (every problem named in one message);
// UNIMPLEMENTED for what the released code allows but this engine does not
// compute: rope_scaling other than null, attention_bias true,
// cross_attention_frequency other than 1, an unknown hidden_act.
absl::StatusOr<IcFormerConfig> ParseIcFormerConfig(absl::string_view json_text);

// LoadIcFormerConfig reads and parses a file; NOT_FOUND when it cannot be
// read; parse errors carry the path.
absl::StatusOr<IcFormerConfig> LoadIcFormerConfig(const std::string& path);

// IcFormerConfigJson writes `config` as a config.json text that
// ParseIcFormerConfig reads back to an equal config (every key explicit,
// the project's three included). `hidden_act` must be kSilu, kGelu or
// kRelu (the names the released code knows).
std::string IcFormerConfigJson(const IcFormerConfig& config);

// ValidateIcFormerConfig checks the invariants the former is built on.
absl::Status ValidateIcFormerConfig(const IcFormerConfig& config);

// One chunk of a context.
struct IcFormerChunk {
  int64_t start = 0;   // first token, in context positions
  int64_t length = 0;  // tokens, 1..max_chunk_len
};

// PlanChunks cuts `tokens` (>= 1) into chunks exactly as the released
// get_soft_prompt(use_chunk=True) does; empty for tokens < 1.
std::vector<IcFormerChunk> PlanChunks(int64_t tokens, const IcFormerConfig& config);

// DigestCount is the number of digests a context of `tokens` gets:
// ceil(tokens / L) * k.
int64_t DigestCount(int64_t tokens, const IcFormerConfig& config);

// ChunkFlops is the matrix-product FLOPs (2 per multiply-add) of one former
// pass over a chunk of m context tokens: in every layer the Q and O
// projections of the k digests, the K and V projections of all m + k
// context positions, the k x (m + k) attention scores and their weighted
// sum, and the k digests' SwiGLU MLP. Norms, RoPE and softmax (O(m C) each)
// are left out. For the paper's configuration ChunkFlops(512) = 2.625e11,
// its "2.62e11 FLOPs for 512 -> 128".
int64_t ChunkFlops(int64_t m, const IcFormerConfig& config);

// CompressionFlops is the sum of ChunkFlops over PlanChunks(tokens): linear
// in tokens, CompressionFlops(n) = chunk_num * ChunkFlops(0) + n * (cost
// per context token), as no context token ever attends to another.
int64_t CompressionFlops(int64_t tokens, const IcFormerConfig& config);

}  // namespace ccs::model::icformer

#endif  // CCS_MODEL_ICFORMER_ICFORMER_CONFIG_H_
