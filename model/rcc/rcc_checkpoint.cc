#include "model/rcc/rcc_checkpoint.h"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "model/transformer/config.h"
#include "model/transformer/internal/torch_errors.h"
#include "model/weights/weights.h"

namespace ccs::model::rcc {
namespace {

// The encoder's own tensors go to a file of their own, so that neither file
// of a demo checkpoint nears the 50 MB that git hosts warn about.
constexpr char kEncoderFile[] = "rcc_encoder.safetensors";

absl::Status InDirectory(const std::string& dir, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(dir, ": ", status.message()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<RccModel>> LoadRcc(
    const std::string& dir, std::shared_ptr<const transformer::Decoder> decoder,
    const RccOptions& options) {
  if (decoder == nullptr) return absl::InvalidArgumentError("LoadRcc: no decoder");
  RccConfig config;
  if (std::ifstream file(dir + "/rcc_config.json"); file) {
    std::stringstream text;
    text << file.rdbuf();
    absl::StatusOr<RccConfig> parsed = ParseRccConfig(text.str());
    if (!parsed.ok()) return InDirectory(dir, parsed.status());
    config = *std::move(parsed);
  }
  transformer::DecoderConfig encoder_config = decoder->config();
  if (!config.encoder_config_json.empty()) {
    absl::StatusOr<transformer::DecoderConfig> parsed =
        transformer::ParseDecoderConfig(config.encoder_config_json);
    if (!parsed.ok()) return InDirectory(dir, parsed.status());
    encoder_config = *std::move(parsed);
  }
  LoadOptions load;
  load.layout = ShardLayout::kConcatenateAll;  // the released loader's rule
  absl::StatusOr<WeightMap> all = LoadSafetensors(dir, decoder->options().dtype, load);
  if (!all.ok()) return InDirectory(dir, all.status());
  transformer::WeightMap weights = TakeRccWeights(&*all, RccBasePrefix(config, decoder->config()));
  absl::StatusOr<std::unique_ptr<RccModel>> model =
      RccModel::Create(config, encoder_config, &weights, std::move(decoder), options);
  if (!model.ok()) return InDirectory(dir, model.status());
  return model;
}

absl::Status SaveRcc(const RccModel& model, const std::string& directory, torch::Dtype dtype,
                     const std::map<std::string, std::string>& metadata) {
  if (!torch::isFloatingType(dtype)) {
    return absl::InvalidArgumentError("SaveRcc: the dtype must be floating");
  }
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot create ", directory, ": ", error.message()));
  }
  const std::string config_path = directory + "/rcc_config.json";
  {
    std::ofstream out(config_path + ".tmp", std::ios::binary | std::ios::trunc);
    out << RccConfigJson(model.config());
    out.close();
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", config_path));
  }
  std::filesystem::rename(config_path + ".tmp", config_path, error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot write ", config_path, ": ", error.message()));
  }
  return transformer::internal::GuardTorch("SaveRcc", [&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    const std::string encoder_prefix =
        RccBasePrefix(model.config(), model.decoder().config()) + "rcc_encoder.";
    NamedTensors projections, encoder;
    for (const auto& [name, tensor] : model.Parameters()) {
      (name.rfind(encoder_prefix, 0) == 0 ? encoder : projections)
          .emplace_back(name, tensor.detach().to(torch::kCPU, dtype));
    }
    if (absl::Status s = WriteSafetensors(directory + "/rcc.safetensors", projections, metadata);
        !s.ok()) {
      return s;
    }
    const std::string encoder_path = directory + "/" + kEncoderFile;
    if (encoder.empty()) {  // a stale encoder file would be read back with the projections
      std::error_code removed;
      std::filesystem::remove(encoder_path, removed);
      if (removed) {
        return absl::InternalError(absl::StrCat("cannot remove ", encoder_path, ": ",
                                                removed.message()));
      }
      return absl::OkStatus();
    }
    return WriteSafetensors(encoder_path, encoder, metadata);
  });
}

}  // namespace ccs::model::rcc
