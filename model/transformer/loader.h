// LoadDecoder: a Hugging Face model directory (config.json plus
// model.safetensors or a sharded model.safetensors.index.json, exactly as
// save_pretrained writes them) into a ready Decoder. Torch-facing.
//
//   DecoderOptions options{torch::kCPU, torch::kFloat32};
//   absl::StatusOr<std::unique_ptr<Decoder>> decoder =
//       LoadDecoder("models/smollm2-135m-instruct", options);
//
// Thread-safety: a pure function; concurrent calls are fine.
#ifndef CCS_MODEL_TRANSFORMER_LOADER_H_
#define CCS_MODEL_TRANSFORMER_LOADER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "model/transformer/decoder.h"

namespace ccs::model::transformer {

// Errors: NOT_FOUND for a missing config.json or weights file, and the
// errors of LoadDecoderConfig, LoadSafetensors and Decoder::Create, each
// prefixed with the directory.
absl::StatusOr<std::unique_ptr<Decoder>> LoadDecoder(
    const std::string& directory, const DecoderOptions& options);

}  // namespace ccs::model::transformer

#endif  // CCS_MODEL_TRANSFORMER_LOADER_H_
