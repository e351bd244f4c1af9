// RccModel against the released code's equations run on Hugging Face
// transformers (testdata/make_rcc_reference.py), on tiny random checkpoints
// in the released schema.
#include "model/rcc/rcc_model.h"

#include <torch/torch.h>

#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/transformer/generate.h"
#include "model/weights/weights.h"

namespace ccs::model::rcc {
namespace {

using transformer::Decoder;
using transformer::DecoderConfig;
using transformer::WeightMap;

constexpr double kTolerance = 1e-4;
const int64_t kLengths[] = {1, 3, 4, 15, 16, 17, 32, 33};  // r = 4, W = 16

std::string Dir(const std::string& variant) {
  return std::string(getenv("TEST_SRCDIR")) + "/ccs/model/rcc/testdata/" + variant;
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

std::vector<int64_t> Ids(const torch::Tensor& t) {
  return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
}

double MaxDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat) - b.to(torch::kFloat)).abs().max().item<double>();
}

class RccModelTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string dir = Dir(GetParam());
    absl::StatusOr<RccConfig> config = ParseRccConfig(ReadFile(dir + "/rcc_config.json"));
    ASSERT_TRUE(config.ok()) << config.status();
    absl::StatusOr<DecoderConfig> decoder_config =
        transformer::LoadDecoderConfig(dir + "/config.json");
    ASSERT_TRUE(decoder_config.ok()) << decoder_config.status();
    absl::StatusOr<DecoderConfig> encoder_config =
        transformer::ParseDecoderConfig(config->encoder_config_json);
    ASSERT_TRUE(encoder_config.ok()) << encoder_config.status();
    // The released loader's rule: every *.safetensors of the directory.
    LoadOptions load;
    load.layout = ShardLayout::kConcatenateAll;
    absl::StatusOr<WeightMap> all = LoadSafetensors(dir, torch::kFloat32, load);
    ASSERT_TRUE(all.ok()) << all.status();
    WeightMap rcc = TakeRccWeights(&*all, RccBasePrefix(*config, *decoder_config));
    absl::StatusOr<std::unique_ptr<Decoder>> decoder =
        Decoder::Create(*decoder_config, std::move(*all));
    ASSERT_TRUE(decoder.ok()) << decoder.status();
    RccOptions options;
    options.max_batch_segments = 3;  // several passes, mixed lengths in each
    absl::StatusOr<std::unique_ptr<RccModel>> model =
        RccModel::Create(*config, *encoder_config, &rcc, std::move(*decoder), options);
    ASSERT_TRUE(model.ok()) << model.status();
    EXPECT_TRUE(rcc.empty());
    model_ = std::move(*model);
    absl::StatusOr<WeightMap> expected =
        LoadSafetensors(dir + "/expected.tensors", torch::kFloat32);
    ASSERT_TRUE(expected.ok()) << expected.status();
    expected_ = std::move(*expected);
  }

  torch::Tensor Expected(const std::string& name) { return expected_.at(name); }
  std::vector<int64_t> Context(int64_t n) {
    return Ids(Expected("context." + std::to_string(n)));
  }

  std::unique_ptr<RccModel> model_;
  WeightMap expected_;
};

TEST_P(RccModelTest, MemoryMatchesTheReferenceAtEveryEdgeLength) {
  std::vector<std::vector<int64_t>> contexts;
  for (int64_t n : kLengths) contexts.push_back(Context(n));
  absl::StatusOr<std::vector<torch::Tensor>> memories = model_->Compress(contexts);
  ASSERT_TRUE(memories.ok()) << memories.status();
  for (size_t i = 0; i < contexts.size(); ++i) {
    const torch::Tensor expected = Expected("memory." + std::to_string(kLengths[i]));
    const torch::Tensor& got = (*memories)[i];
    ASSERT_EQ(got.sizes(), expected.sizes()) << kLengths[i];
    EXPECT_EQ(got.size(0), SlotCount(kLengths[i], model_->config()));
    EXPECT_LT(MaxDiff(got, expected), kTolerance) << kLengths[i];
  }
}

TEST_P(RccModelTest, BatchedCompressionEqualsOneByOne) {
  std::vector<std::vector<int64_t>> contexts = {Context(33), Context(3), Context(16)};
  absl::StatusOr<std::vector<torch::Tensor>> together = model_->Compress(contexts);
  ASSERT_TRUE(together.ok());
  for (size_t i = 0; i < contexts.size(); ++i) {
    absl::StatusOr<std::vector<torch::Tensor>> alone = model_->Compress({contexts[i]});
    ASSERT_TRUE(alone.ok());
    EXPECT_LT(MaxDiff((*together)[i], (*alone)[0]), 1e-5);
  }
}

TEST_P(RccModelTest, SegmentAlignedAppendsEqualTheWhole) {
  const std::vector<int64_t> whole = Context(33);
  const std::vector<int64_t> head(whole.begin(), whole.begin() + 32), tail(whole.begin() + 32, whole.end());
  absl::StatusOr<std::vector<torch::Tensor>> parts = model_->Compress({head, tail});
  absl::StatusOr<std::vector<torch::Tensor>> all = model_->Compress({whole});
  ASSERT_TRUE(parts.ok() && all.ok());
  EXPECT_LT(MaxDiff(torch::cat({(*parts)[0], (*parts)[1]}, 0), (*all)[0]), 1e-5);
}

TEST_P(RccModelTest, InjectedLogitsMatchTheReference) {
  const torch::Tensor memory = Expected("memory.33");
  absl::StatusOr<torch::Tensor> logits =
      model_->InjectedLogits(memory, Ids(Expected("prompt")));
  ASSERT_TRUE(logits.ok()) << logits.status();
  EXPECT_LT(MaxDiff(*logits, Expected("logits")), kTolerance);
  EXPECT_GT(Expected("logits").std().item<double>(), 0.1);  // not degenerate
}

TEST_P(RccModelTest, CachedPrefixThenPromptEqualsOnePass) {
  const torch::Tensor memory = Expected("memory.33");
  const int64_t P = memory.size(0);
  absl::StatusOr<std::shared_ptr<const transformer::KvCache>> prefix = model_->BuildPrefix(memory);
  ASSERT_TRUE(prefix.ok()) << prefix.status();
  EXPECT_EQ((*prefix)->length(), P);
  torch::InferenceMode guard;
  absl::StatusOr<transformer::KvCache> cache = transformer::KvCache::Concat(
      std::vector<const transformer::KvCache*>{prefix->get()});
  ASSERT_TRUE(cache.ok());
  transformer::DecoderInput input;
  input.input_ids = Expected("prompt").unsqueeze(0);
  input.cache = &*cache;
  absl::StatusOr<transformer::DecoderOutput> out = model_->decoder().Forward(input);
  ASSERT_TRUE(out.ok()) << out.status();
  const torch::Tensor expected = Expected("logits").narrow(1, P, input.input_ids.size(1));
  EXPECT_LT(MaxDiff(out->logits, expected), kTolerance);
}

TEST_P(RccModelTest, GenerateFromThePrefixEqualsRecomputingEveryStep) {
  const torch::Tensor memory = Expected("memory.17");
  absl::StatusOr<std::shared_ptr<const transformer::KvCache>> prefix = model_->BuildPrefix(memory);
  ASSERT_TRUE(prefix.ok());
  transformer::GenerationRequest request;
  request.prompt_ids = Ids(Expected("prompt"));
  request.prefix = *prefix;
  request.sampling.max_new_tokens = 6;
  request.sampling.ignore_eos = true;
  absl::StatusOr<std::vector<transformer::GenerationResult>> results =
      transformer::Generate(model_->decoder(), {request});
  ASSERT_TRUE(results.ok()) << results.status();
  // Uncached: the whole injected pass again for every token.
  std::vector<int64_t> prompt = request.prompt_ids, recomputed;
  for (int step = 0; step < 6; ++step) {
    absl::StatusOr<torch::Tensor> logits = model_->InjectedLogits(memory, prompt);
    ASSERT_TRUE(logits.ok());
    const int64_t next = (*logits)[0][-1].argmax().item<int64_t>();
    recomputed.push_back(next);
    prompt.push_back(next);
  }
  EXPECT_EQ((*results)[0].tokens, recomputed);
}

// The training forward against the released equations: each row of a
// batch is InjectedLogits of its memory (row 1's prompt right-padded).
TEST_P(RccModelTest, BatchLogitsEqualInjectedLogits) {
  const std::vector<int64_t> context = Context(33);
  std::vector<int64_t> reversed(context.rbegin(), context.rend());
  absl::StatusOr<std::vector<torch::Tensor>> memories = model_->Compress({context, reversed});
  ASSERT_TRUE(memories.ok()) << memories.status();
  const std::vector<int64_t> prompt = Ids(Expected("prompt"));
  const std::vector<int64_t> shorter(prompt.begin(), prompt.begin() + prompt.size() / 2);
  std::vector<int64_t> padded = shorter;
  padded.resize(prompt.size(), 0);
  absl::StatusOr<torch::Tensor> batch = model_->BatchLogits(
      torch::stack(*memories),
      torch::stack({torch::tensor(prompt, torch::kLong), torch::tensor(padded, torch::kLong)}));
  ASSERT_TRUE(batch.ok()) << batch.status();
  absl::StatusOr<torch::Tensor> first = model_->InjectedLogits((*memories)[0], prompt);
  absl::StatusOr<torch::Tensor> second = model_->InjectedLogits((*memories)[1], shorter);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_LT(MaxDiff((*batch)[0], (*first)[0]), 1e-5);
  EXPECT_LT(MaxDiff((*batch)[1].narrow(0, 0, (*second).size(1)), (*second)[0]), 1e-5);
  // And on the reference memory itself.
  absl::StatusOr<torch::Tensor> reference = model_->BatchLogits(
      Expected("memory.33").unsqueeze(0), Expected("prompt").unsqueeze(0));
  ASSERT_TRUE(reference.ok()) << reference.status();
  EXPECT_LT(MaxDiff(*reference, Expected("logits")), kTolerance);
}

TEST_P(RccModelTest, BadInputsAreRejected) {
  EXPECT_EQ(model_->Compress({{}}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(model_->BuildPrefix(torch::zeros({2, 1, 3})).status().code(),
            absl::StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Variants, RccModelTest,
                         ::testing::Values("neox_equal", "neox_average", "llama_duplicate"));

TEST(RccModelCreateTest, MissingProjectionsAreListedTogether) {
  const std::string dir = Dir("neox_equal");
  absl::StatusOr<RccConfig> config = ParseRccConfig(ReadFile(dir + "/rcc_config.json"));
  absl::StatusOr<DecoderConfig> decoder_config = transformer::LoadDecoderConfig(dir + "/config.json");
  ASSERT_TRUE(config.ok() && decoder_config.ok());
  absl::StatusOr<DecoderConfig> encoder_config =
      transformer::ParseDecoderConfig(config->encoder_config_json);
  LoadOptions load;
  load.layout = ShardLayout::kConcatenateAll;
  absl::StatusOr<WeightMap> all = LoadSafetensors(dir, torch::kFloat32, load);
  ASSERT_TRUE(all.ok());
  WeightMap rcc = TakeRccWeights(&*all, "gpt_neox.");
  rcc.erase("gpt_neox.rcc_encoder2gpt_embed.weight");
  rcc.erase("gpt_neox.rcc_encoder2gpt_A_matrix.1.weight");
  absl::StatusOr<std::unique_ptr<Decoder>> decoder = Decoder::Create(*decoder_config, std::move(*all));
  ASSERT_TRUE(decoder.ok());
  absl::StatusOr<std::unique_ptr<RccModel>> model =
      RccModel::Create(*config, *encoder_config, &rcc, std::move(*decoder));
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(model.status().message()),
              ::testing::AllOf(::testing::HasSubstr("rcc_encoder2gpt_embed.weight is missing"),
                               ::testing::HasSubstr("A_matrix.1.weight is missing")));
}

}  // namespace
}  // namespace ccs::model::rcc
