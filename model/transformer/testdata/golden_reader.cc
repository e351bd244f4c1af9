#include "model/transformer/testdata/golden_reader.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"

namespace ccs::model::transformer {

std::string GoldenPath(const std::string& file) {
  const char* root = std::getenv("TEST_SRCDIR");
  return absl::StrCat(root != nullptr ? root : ".", "/ccs/model/transformer/testdata/", file);
}

absl::StatusOr<Golden> LoadGolden(const std::string& variant) {
  Golden golden;
  absl::StatusOr<DecoderConfig> config = LoadDecoderConfig(GoldenPath(variant + ".config.json"));
  if (!config.ok()) return config.status();
  golden.config_ = *config;
  std::ifstream manifest(GoldenPath(variant + ".json"));
  if (!manifest) return absl::NotFoundError(GoldenPath(variant + ".json"));
  golden.manifest_ = nlohmann::json::parse(manifest);
  std::ifstream blob(GoldenPath(variant + ".bin"), std::ios::binary | std::ios::ate);
  if (!blob) return absl::NotFoundError(GoldenPath(variant + ".bin"));
  const std::streamsize bytes = blob.tellg();
  blob.seekg(0);
  golden.blob_.resize(bytes / sizeof(float));
  blob.read(reinterpret_cast<char*>(golden.blob_.data()), bytes);
  return golden;
}

torch::Tensor Golden::Tensor(const std::string& name) const {
  for (const nlohmann::json& entry : manifest_["tensors"]) {
    if (entry["name"] != name) continue;
    std::vector<int64_t> shape = entry["shape"].get<std::vector<int64_t>>();
    const int64_t offset = entry["offset"].get<int64_t>();
    return torch::from_blob(const_cast<float*>(blob_.data() + offset), shape, torch::kFloat)
        .clone();
  }
  return torch::Tensor();
}

WeightMap Golden::Weights() const {
  WeightMap weights;
  for (const nlohmann::json& name : manifest_["weight_names"]) {
    weights[name.get<std::string>()] = Tensor(name.get<std::string>());
  }
  return weights;
}

}  // namespace ccs::model::transformer
