// Reading and writing an RCC checkpoint directory (README "Models"):
// rcc_config.json (optional when reading) and *.safetensors holding the
// projections and, unless the config says encoder_shares_decoder_weights,
// the encoder as <base>rcc_encoder.* (without the embedding when it says
// encoder_shares_decoder_embedding). Torch-facing.
//
//   std::shared_ptr<const transformer::Decoder> llm = ...;  // the decoder
//   absl::StatusOr<std::unique_ptr<RccModel>> rcc = LoadRcc("models/demo/rcc", llm);
//   absl::Status saved = SaveRcc(**rcc, "/tmp/copy", torch::kBFloat16);
//
// Every *.safetensors in the directory is read and tensors named in several
// files are concatenated along dim 0, the released loader's rule (so a
// directory must hold one checkpoint's files only).
//
// Thread-safety: pure functions; concurrent calls on distinct directories
// are fine.
#ifndef CCS_MODEL_RCC_RCC_CHECKPOINT_H_
#define CCS_MODEL_RCC_RCC_CHECKPOINT_H_

#include <map>
#include <memory>
#include <string>

#include <torch/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/rcc/rcc_model.h"
#include "model/transformer/decoder.h"

namespace ccs::model::rcc {

// LoadRcc loads `directory` over `decoder` (whose device and dtype the
// tensors take). Without rcc_config.json the released defaults apply; the
// encoder's config is the config's encoder_config, else the decoder's.
// Tensors that are neither the encoder's nor the projections (a released
// checkpoint's own decoder) are ignored. Errors: those of ParseRccConfig,
// ParseDecoderConfig, LoadSafetensors (NOT_FOUND for a directory without
// safetensors) and RccModel::Create; every message starts with the
// directory.
absl::StatusOr<std::unique_ptr<RccModel>> LoadRcc(
    const std::string& directory, std::shared_ptr<const transformer::Decoder> decoder,
    const RccOptions& options = {});

// SaveRcc writes `model` to `directory` (created if missing) as
// rcc_config.json, rcc.safetensors (the projections) and, when the encoder
// has tensors of its own (model.Parameters() lists them),
// rcc_encoder.safetensors (an old one is removed when it has none), every
// tensor in `dtype` (a floating dtype), with `metadata` in the
// safetensors header. Files are written under temporary names and renamed.
// LoadRcc reads the directory back to the same model (up to `dtype`).
// INVALID_ARGUMENT for a non-floating dtype; INTERNAL for file system
// errors.
absl::Status SaveRcc(const RccModel& model, const std::string& directory, torch::Dtype dtype,
                     const std::map<std::string, std::string>& metadata = {});

}  // namespace ccs::model::rcc

#endif  // CCS_MODEL_RCC_RCC_CHECKPOINT_H_
