// The checkpoints Hugging Face's save_pretrained writes load unchanged and
// compute what Hugging Face computes.
#include "model/transformer/loader.h"

#include <torch/torch.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/transformer/testdata/golden_reader.h"

namespace ccs::model::transformer {
namespace {

class LoaderTest : public ::testing::TestWithParam<std::string> {};

TEST_P(LoaderTest, SavePretrainedDirectoryMatchesHuggingFaceLogits) {
  const std::string variant = GetParam();
  absl::StatusOr<Golden> golden = LoadGolden(variant);
  ASSERT_TRUE(golden.ok()) << golden.status();
  const std::string config = GoldenPath(variant + "/config.json");
  const std::string directory = config.substr(0, config.rfind('/'));
  absl::StatusOr<std::unique_ptr<Decoder>> decoder =
      LoadDecoder(directory, {torch::kCPU, torch::kFloat32});
  ASSERT_TRUE(decoder.ok()) << decoder.status();

  torch::InferenceMode guard;
  const auto ids = golden->cases()["full"]["input_ids"].get<std::vector<std::vector<int64_t>>>();
  torch::Tensor input = torch::empty({static_cast<int64_t>(ids.size()),
                                      static_cast<int64_t>(ids[0].size())},
                                     torch::kLong);
  for (size_t b = 0; b < ids.size(); ++b) {
    for (size_t t = 0; t < ids[b].size(); ++t) input[b][t] = ids[b][t];
  }
  DecoderInput forward;
  forward.input_ids = input;
  absl::StatusOr<DecoderOutput> out = (*decoder)->Forward(forward);
  ASSERT_TRUE(out.ok()) << out.status();
  const torch::Tensor expected = golden->Tensor("full/logits");
  EXPECT_TRUE(torch::allclose(out->logits, expected, /*rtol=*/0, /*atol=*/1e-4))
      << "max diff " << (out->logits - expected).abs().max().item<float>();
}

TEST(LoaderErrorsTest, MissingDirectoryNamesIt) {
  absl::StatusOr<std::unique_ptr<Decoder>> decoder =
      LoadDecoder("/no/such/model", {torch::kCPU, torch::kFloat32});
  EXPECT_FALSE(decoder.ok());
  EXPECT_THAT(std::string(decoder.status().message()), ::testing::HasSubstr("/no/such/model"));
}

INSTANTIATE_TEST_SUITE_P(Variants, LoaderTest,
                         ::testing::Values("neox_partial_parallel", "neox_full_serial",
                                           "llama_gqa_untied", "llama_mqa_tied"));

}  // namespace
}  // namespace ccs::model::transformer
