#include "model/transformer/loader.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "model/transformer/config.h"
#include "model/weights/weights.h"

namespace ccs::model::transformer {
namespace {

absl::Status InDirectory(const std::string& directory, const absl::Status& status) {
  return absl::Status(status.code(),
                      absl::StrCat(directory, ": ", status.message()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Decoder>> LoadDecoder(
    const std::string& directory, const DecoderOptions& options) {
  absl::StatusOr<DecoderConfig> config =
      LoadDecoderConfig(directory + "/config.json");
  if (!config.ok()) return InDirectory(directory, config.status());
  // Weights are read in the compute dtype directly: a bf16 model never holds
  // a float32 copy of itself.
  absl::StatusOr<model::WeightMap> weights = LoadSafetensors(directory, options.dtype);
  if (!weights.ok()) return InDirectory(directory, weights.status());
  absl::StatusOr<std::unique_ptr<Decoder>> decoder =
      Decoder::Create(*config, std::move(*weights), options);
  if (!decoder.ok()) return InDirectory(directory, decoder.status());
  return decoder;
}

}  // namespace ccs::model::transformer
