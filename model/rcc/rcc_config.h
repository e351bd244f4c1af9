// RCC (Recurrent Context Compression, arXiv 2406.06110) settings and the
// segment/slot plan of a context. Torch-free.
//
// How a context becomes memory (DESIGN.md 3.1). A context of n tokens is cut
// into segments of W tokens (the last one shorter); the encoder runs once per
// segment, and slot j of a segment keeps the encoder's L+1 hidden states at
// position j*r + (r-1). Padding rule (the released code's differs, see
// below): none. A segment of m tokens gives ceil(m/r) slots; when r does not
// divide m, the last slot reads position m-1, the segment's last token. So
//   - every context token lies in the window of some slot,
//   - a context shorter than r still gives one slot (at its last token),
//   - an exact multiple of W gives exactly n/W segments of W/r slots,
//   - segments are encoded independently: appending segment-aligned parts
//     to a session gives the same memory as compressing the whole.
// The released code instead fills a short context up to W by repeating it
// (and, by bugs, multiplies the ids of a context whose length divides W and
// adds a duplicated segment to exact multiples of W above W); repeating
// would put the same tokens in memory several times.
//
//   absl::StatusOr<RccConfig> config = ParseRccConfig(json_text);
//   std::vector<RccSegment> plan = PlanSegments(5000, *config);
//
// Thread-safety: plain values and pure functions.
#ifndef CCS_MODEL_RCC_RCC_CONFIG_H_
#define CCS_MODEL_RCC_RCC_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ccs::model::rcc {

struct RccConfig {
  // r: context tokens per memory slot. Released: 32.
  int64_t compression_ratio = 32;
  // W: tokens per encoder segment. Released: 2048 (Pythia's context).
  int64_t segment_tokens = 2048;
  // Decoder token id at the memory prefix positions (their embeddings are
  // replaced, so only its KV-free role matters). Released: 1, <|padding|>.
  int64_t placeholder_token_id = 1;
  // Element type memory is stored in: "bfloat16" (released: the reference
  // casts memory to bf16 before injection) or "float32".
  std::string storage_dtype = "bfloat16";
  // Prefix of the decoder's base model in tensor names: "gpt_neox." (the
  // released Pythia checkpoint) or "model." (Llama family). Empty: from the
  // decoder's architecture.
  std::string base_prefix;
  // The encoder's Hugging Face config.json, as JSON text; empty: the same
  // as the decoder's (the released model: both are Pythia-1.4b).
  std::string encoder_config_json;
  // true: the encoder IS the decoder (the same frozen weights, run on the
  // context segments), so the checkpoint holds only the projections and no
  // <base>rcc_encoder.* tensor; encoder_config must then be absent. The
  // project's own RCC (model/train/train_rcc.cc) is trained this way: the
  // encoder is initialised from the decoder, and keeping it equal to it
  // costs no storage. false (released checkpoints): the encoder's weights
  // are <base>rcc_encoder.*.
  bool encoder_shares_decoder_weights = false;
  // true: the encoder has the decoder's shape but encoder_layers layers of
  // its own (<base>rcc_encoder.model.layers.* and its final norm), and reads
  // the decoder's token embedding, which the checkpoint leaves out (an
  // encoder never computes logits, so it has no output head either). The
  // project's trained RCC is made this way (DESIGN.md 3.1: an encoder
  // initialised from some of the decoder's layers): its first layers, about
  // 3.5 M parameters each for SmolLM2, instead of a whole copy with a
  // 28 M-parameter embedding. Excludes encoder_config and
  // encoder_shares_decoder_weights.
  bool encoder_shares_decoder_embedding = false;
  // The encoder's depth when encoder_shares_decoder_embedding (then at least
  // 1, and the decoder's depth a multiple or divisor of it); else 0.
  int64_t encoder_layers = 0;
};

// ParseRccConfig reads rcc_config.json:
//   {"compression_ratio": 32, "segment_tokens": 2048,
//    "placeholder_token_id": 1, "storage_dtype": "bfloat16",
//    "base_prefix": "gpt_neox.", "encoder_config": {...},
//    "encoder_shares_decoder_weights": false,
//    "encoder_shares_decoder_embedding": false, "encoder_layers": 0}
// Every key is optional. INVALID_ARGUMENT for non-JSON, wrong types, r < 1,
// W not a positive multiple of r, an unknown storage dtype, or an
// encoder_config together with encoder_shares_decoder_weights, or
// encoder_shares_decoder_embedding without encoder_layers >= 1 or with
// encoder_config or encoder_shares_decoder_weights (and encoder_layers
// without it).
absl::StatusOr<RccConfig> ParseRccConfig(absl::string_view json);
absl::Status ValidateRccConfig(const RccConfig& config);

// RccConfigJson writes `config` as rcc_config.json (every key; base_prefix,
// encoder_config and encoder_shares_decoder_weights only when set), which
// ParseRccConfig reads back to the same config.
std::string RccConfigJson(const RccConfig& config);

// One encoder segment of a context.
struct RccSegment {
  int64_t start = 0;   // first token, in context positions
  int64_t length = 0;  // tokens (<= W)
  // Positions within the segment whose hidden states become slots.
  std::vector<int64_t> slot_positions;
};

// PlanSegments cuts `tokens` (>= 1) into segments with their slots, as the
// header comment says.
std::vector<RccSegment> PlanSegments(int64_t tokens, const RccConfig& config);

// SlotCount is the number of slots PlanSegments gives `tokens`.
int64_t SlotCount(int64_t tokens, const RccConfig& config);

}  // namespace ccs::model::rcc

#endif  // CCS_MODEL_RCC_RCC_CONFIG_H_
