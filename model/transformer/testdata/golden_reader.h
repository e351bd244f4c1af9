// Test-only: reads the fixtures make_golden.py writes (a config.json, a JSON
// manifest and a float32 blob per variant) from the test's runfiles.
//
//   absl::StatusOr<Golden> golden = LoadGolden("llama_gqa_untied");
//   WeightMap weights = golden->Weights();
//   torch::Tensor logits = golden->Tensor("full/logits");
//
// Thread-safety: a Golden is read-only after LoadGolden.
#ifndef CCS_MODEL_TRANSFORMER_TESTDATA_GOLDEN_READER_H_
#define CCS_MODEL_TRANSFORMER_TESTDATA_GOLDEN_READER_H_

#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "absl/status/statusor.h"
#include "model/transformer/config.h"
#include "model/transformer/decoder.h"

namespace ccs::model::transformer {

// GoldenPath is the runfiles path of a fixture file, e.g.
// GoldenPath("llama_gqa_untied.config.json").
std::string GoldenPath(const std::string& file);

class Golden {
 public:
  const DecoderConfig& config() const { return config_; }
  // cases is the manifest's "cases" object.
  const nlohmann::json& cases() const { return manifest_["cases"]; }
  // Tensor returns a fresh float32 CPU copy of a stored tensor ("full/logits",
  // "gpt_neox.embed_in.weight", ...), undefined when absent.
  torch::Tensor Tensor(const std::string& name) const;
  // Weights returns a fresh copy of the whole state dict.
  WeightMap Weights() const;

 private:
  friend absl::StatusOr<Golden> LoadGolden(const std::string& variant);
  DecoderConfig config_;
  nlohmann::json manifest_;
  std::vector<float> blob_;
};

absl::StatusOr<Golden> LoadGolden(const std::string& variant);

}  // namespace ccs::model::transformer

#endif  // CCS_MODEL_TRANSFORMER_TESTDATA_GOLDEN_READER_H_
