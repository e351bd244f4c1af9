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
    NamedTensors tensors;
    for (const auto& [name, tensor] : model.Parameters()) {  // projections and encoder
      tensors.emplace_back(name, tensor.detach().to(torch::kCPU, dtype));
    }
    return WriteSafetensors(directory + "/rcc.safetensors", tensors, metadata);
  });
}

}  // namespace ccs::model::rcc
