// Engine::ScoreContinuation against a manual computation on the tiny model
// (tests:tiny_model): the decoder, the RCC model and the memories are
// rebuilt here from the same files, and each continuation token's
// log-probability is computed by its own decoder pass over everything
// before it, then summed.
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "model/engine/engine.h"
#include "model/rcc/rcc_config.h"
#include "model/rcc/rcc_model.h"
#include "model/transformer/decoder.h"
#include "model/transformer/loader.h"
#include "model/weights/weights.h"

namespace ccs::model {
namespace {

using transformer::Decoder;
using transformer::DecoderInput;
using transformer::LogitsMode;

std::string TinyDir(const std::string& part) {
  return std::string(getenv("TEST_SRCDIR")) + "/ccs/tests/testdata/tiny/" + part;
}

// log_softmax(logits of the last position of [1, T, V])[token].
double LastLogProb(const torch::Tensor& logits, int32_t token) {
  return torch::log_softmax(logits[0][logits.size(1) - 1].to(torch::kFloat64), -1)[token]
      .item<double>();
}

// The memory's vectors as a float32 tensor of the exported shape.
torch::Tensor Vectors(const Memory& memory) {
  std::vector<int64_t> shape;
  std::string data;
  EXPECT_TRUE(memory.ExportVectors(&shape, &data));
  EXPECT_EQ(memory.dtype(), "float32");
  return torch::from_blob(data.data(), shape, torch::kFloat32).clone();
}

class ScoreContinuationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    EngineOptions options;
    options.decoder_dir = TinyDir("decoder");
    options.rcc_dir = TinyDir("rcc");
    options.icformer_dir = TinyDir("icformer");
    absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Load(options);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = engine->release();
    absl::StatusOr<std::unique_ptr<Decoder>> decoder =
        transformer::LoadDecoder(TinyDir("decoder"), {});
    ASSERT_TRUE(decoder.ok()) << decoder.status();
    shared_decoder_ = new std::shared_ptr<const Decoder>(*std::move(decoder));
    decoder_ = shared_decoder_->get();
  }
  static void TearDownTestSuite() {
    delete engine_;
    delete shared_decoder_;
  }

  // Sum over t of log p(continuation[t] | embeds(t)), one pass per token,
  // where `input_for(t)` is the decoder input holding everything before t.
  static double Manual(const std::vector<int32_t>& continuation,
                       const std::function<DecoderInput(size_t)>& input_for) {
    torch::InferenceMode guard;
    double sum = 0;
    for (size_t t = 0; t < continuation.size(); ++t) {
      DecoderInput input = input_for(t);
      input.logits = LogitsMode::kLast;
      absl::StatusOr<transformer::DecoderOutput> out = decoder_->Forward(input);
      EXPECT_TRUE(out.ok()) << out.status();
      if (!out.ok()) return 0;
      sum += LastLogProb(out->logits, continuation[t]);
    }
    return sum;
  }

  static torch::Tensor Ids(const std::vector<int32_t>& ids) {
    return torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kLong).unsqueeze(0);
  }

  static std::vector<int32_t> Tokens(const std::string& text) {
    absl::StatusOr<std::vector<int32_t>> ids = engine_->Tokenize(text);
    EXPECT_TRUE(ids.ok()) << ids.status();
    return ids.ok() ? *ids : std::vector<int32_t>{};
  }

  static Engine* engine_;
  static const Decoder* decoder_;
  static std::shared_ptr<const Decoder>* shared_decoder_;  // owns decoder_
};
Engine* ScoreContinuationTest::engine_ = nullptr;
const Decoder* ScoreContinuationTest::decoder_ = nullptr;
std::shared_ptr<const Decoder>* ScoreContinuationTest::shared_decoder_ = nullptr;

const char kContext[] = "The lighthouse keeper counted the ships that passed each night.";
const char kContinuation[] = " Seven went north, and one came back.";

TEST_F(ScoreContinuationTest, NoneIsTheSumOverTheRawContext) {
  ASSERT_NE(engine_, nullptr);
  const std::vector<int32_t> context = Tokens(kContext), continuation = Tokens(kContinuation);
  auto memories = engine_->Compress(Method::kNone, {context});
  ASSERT_TRUE(memories.ok());
  absl::StatusOr<double> score = engine_->ScoreContinuation((*memories)[0].get(), continuation);
  ASSERT_TRUE(score.ok()) << score.status();
  const double manual = Manual(continuation, [&](size_t t) {
    std::vector<int32_t> ids = context;
    ids.insert(ids.end(), continuation.begin(), continuation.begin() + t);
    DecoderInput input;
    input.input_ids = Ids(ids);
    return input;
  });
  EXPECT_LT(*score, 0);
  EXPECT_NEAR(*score, manual, 1e-3 * std::abs(manual));
}

TEST_F(ScoreContinuationTest, NoMemoryStartsFromTheStartToken) {
  ASSERT_NE(engine_, nullptr);
  const std::vector<int32_t> continuation = Tokens(kContinuation);
  absl::StatusOr<double> score = engine_->ScoreContinuation(nullptr, continuation);
  ASSERT_TRUE(score.ok()) << score.status();
  // The GPT-NeoX tokenizer's BOS is <|endoftext|>, id 0.
  const double manual = Manual(continuation, [&](size_t t) {
    std::vector<int32_t> ids = {0};
    ids.insert(ids.end(), continuation.begin(), continuation.begin() + t);
    DecoderInput input;
    input.input_ids = Ids(ids);
    return input;
  });
  EXPECT_NEAR(*score, manual, 1e-3 * std::abs(manual));
}

TEST_F(ScoreContinuationTest, IcFormerReadsTheDigestsThenTheText) {
  ASSERT_NE(engine_, nullptr);
  const std::vector<int32_t> context = Tokens(kContext), continuation = Tokens(kContinuation);
  auto memories = engine_->Compress(Method::kIcFormer, {context});
  ASSERT_TRUE(memories.ok());
  absl::StatusOr<double> score = engine_->ScoreContinuation((*memories)[0].get(), continuation);
  ASSERT_TRUE(score.ok()) << score.status();
  const torch::Tensor digests = Vectors(*(*memories)[0]);  // [D, C]
  const double manual = Manual(continuation, [&](size_t t) {
    DecoderInput input;
    std::vector<torch::Tensor> parts = {digests.unsqueeze(0)};
    if (t > 0) {
      parts.push_back(*decoder_->Embed(
          Ids(std::vector<int32_t>(continuation.begin(), continuation.begin() + t))));
    }
    input.inputs_embeds = torch::cat(parts, 1);
    return input;
  });
  EXPECT_NEAR(*score, manual, 1e-3 * std::abs(manual));
}

TEST_F(ScoreContinuationTest, RccReadsTheInjectedMemoryThenTheText) {
  ASSERT_NE(engine_, nullptr);
  const std::vector<int32_t> context = Tokens(kContext), continuation = Tokens(kContinuation);
  auto memories = engine_->Compress(Method::kRcc, {context});
  ASSERT_TRUE(memories.ok());
  absl::StatusOr<double> score = engine_->ScoreContinuation((*memories)[0].get(), continuation);
  ASSERT_TRUE(score.ok()) << score.status();

  // The RCC model rebuilt from the checkpoint, over our own decoder.
  absl::StatusOr<WeightMap> all =
      LoadSafetensors(TinyDir("rcc"), torch::kFloat32, {ShardLayout::kConcatenateAll});
  ASSERT_TRUE(all.ok()) << all.status();
  rcc::RccConfig config;
  config.compression_ratio = 4;
  config.segment_tokens = 32;
  config.storage_dtype = "float32";
  transformer::WeightMap weights =
      rcc::TakeRccWeights(&*all, rcc::RccBasePrefix(config, decoder_->config()));
  absl::StatusOr<std::unique_ptr<rcc::RccModel>> rcc =
      rcc::RccModel::Create(config, decoder_->config(), &weights, *shared_decoder_);
  ASSERT_TRUE(rcc.ok()) << rcc.status();
  const torch::Tensor memory = Vectors(*(*memories)[0]);  // [P, L+1, C]
  const int64_t P = memory.size(0);
  double manual = 0;
  for (size_t t = 0; t < continuation.size(); ++t) {
    // Placeholders and continuation[0..t]; position P+t-1 predicts token t.
    std::vector<int64_t> prompt(continuation.begin(), continuation.begin() + t + 1);
    absl::StatusOr<torch::Tensor> logits = (*rcc)->InjectedLogits(memory, prompt);
    ASSERT_TRUE(logits.ok()) << logits.status();
    manual += LastLogProb(logits->narrow(1, 0, P + static_cast<int64_t>(t)), continuation[t]);
  }
  EXPECT_NEAR(*score, manual, 1e-3 * std::abs(manual));
}

TEST_F(ScoreContinuationTest, EmptyContinuationIsInvalid) {
  ASSERT_NE(engine_, nullptr);
  EXPECT_EQ(engine_->ScoreContinuation(nullptr, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ccs::model
