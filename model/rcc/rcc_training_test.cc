// The RCC training API (Initialize, Parameters, TrainingCompress,
// BatchLogits), checkpoints whose encoder is the decoder or a copy of its
// first layers, and SaveRcc / LoadRcc round trips.
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/rcc/rcc_checkpoint.h"
#include "model/rcc/rcc_model.h"
#include "model/weights/weights.h"

namespace ccs::model::rcc {
namespace {

using ::testing::HasSubstr;
using transformer::Decoder;
using transformer::DecoderConfig;
using transformer::WeightMap;

// A tiny random Llama, the family of the decoder RCC is trained over.
constexpr char kTinyLlama[] = R"({
  "model_type": "llama", "hidden_size": 32, "intermediate_size": 48,
  "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2,
  "vocab_size": 96, "max_position_embeddings": 256, "rms_norm_eps": 1e-5,
  "rope_theta": 10000.0, "tie_word_embeddings": true})";

std::string TempDir(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

double MaxDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat) - b.to(torch::kFloat)).abs().max().item<double>();
}

std::vector<int64_t> Tokens(int64_t n, int64_t salt) {
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < n; ++i) ids.push_back((i * 37 + salt * 11 + 5) % 96);
  return ids;
}

RccConfig SharedConfig() {
  RccConfig config;
  config.compression_ratio = 4;
  config.segment_tokens = 16;
  config.placeholder_token_id = 1;
  config.storage_dtype = "float32";
  config.encoder_shares_decoder_weights = true;
  return config;
}

std::shared_ptr<const Decoder> TinyDecoder() {
  absl::StatusOr<DecoderConfig> config = transformer::ParseDecoderConfig(kTinyLlama);
  EXPECT_TRUE(config.ok()) << config.status();
  absl::StatusOr<std::unique_ptr<Decoder>> decoder =
      Decoder::Create(*config, transformer::RandomWeights(*config, 3));
  EXPECT_TRUE(decoder.ok()) << decoder.status();
  return *std::move(decoder);
}

std::unique_ptr<RccModel> Fresh(double layer_projection_std,
                                std::shared_ptr<const Decoder> decoder = TinyDecoder()) {
  absl::StatusOr<std::unique_ptr<RccModel>> model =
      RccModel::Initialize(SharedConfig(), std::move(decoder), /*seed=*/5, layer_projection_std);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *std::move(model) : nullptr;
}

torch::Tensor Memory(const RccModel& model, const std::vector<int64_t>& context) {
  absl::StatusOr<std::vector<torch::Tensor>> memory = model.Compress({context});
  EXPECT_TRUE(memory.ok()) << memory.status();
  return (*memory)[0];
}

TEST(RccInitializeTest, NeedsTheEncoderToBeTheDecoderOrItsFirstLayers) {
  RccConfig config = SharedConfig();
  config.encoder_shares_decoder_weights = false;
  absl::StatusOr<std::unique_ptr<RccModel>> model =
      RccModel::Initialize(config, TinyDecoder(), 1);
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(model.status().message()), HasSubstr("encoder_shares_decoder_weights"));
}

TEST(RccInitializeTest, ParametersAreTheProjectionsByName) {
  std::unique_ptr<RccModel> model = Fresh(0.0);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(&model->encoder(), &model->decoder());
  const auto params = model->Parameters();
  ASSERT_EQ(params.size(), 4u);  // embed + one A per decoder layer
  EXPECT_EQ(params[0].first, "model.rcc_encoder2gpt_embed.weight");
  EXPECT_TRUE(params[0].second.equal(torch::eye(32)));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(params[1 + i].first, "model.rcc_encoder2gpt_A_matrix." + std::to_string(i) + ".weight");
    EXPECT_EQ(params[1 + i].second.abs().max().item<float>(), 0.0f);
  }
  // Storage is shared: an in-place update is the model's.
  torch::NoGradGuard no_grad;
  params[1].second.fill_(0.5);
  EXPECT_EQ(model->Parameters()[1].second.mean().item<float>(), 0.5f);
}

// Identity embed and zero A: the decoder reads each slot's own token, as if
// the slot tokens had been given as a prompt.
TEST(RccInitializeTest, FreshProjectionsReadTheSlotTokens) {
  std::unique_ptr<RccModel> model = Fresh(0.0);
  ASSERT_NE(model, nullptr);
  const std::vector<int64_t> context = Tokens(22, 1), prompt = Tokens(5, 2);
  std::vector<int64_t> slot_tokens;  // segments 0..15 and 16..21: positions 3,7,11,15 | 3,5
  for (int64_t p : {3, 7, 11, 15, 19, 21}) slot_tokens.push_back(context[p]);
  absl::StatusOr<torch::Tensor> injected = model->InjectedLogits(Memory(*model, context), prompt);
  ASSERT_TRUE(injected.ok()) << injected.status();
  std::vector<int64_t> plain = slot_tokens;
  plain.insert(plain.end(), prompt.begin(), prompt.end());
  transformer::DecoderInput input;
  input.input_ids = torch::tensor(plain, torch::kLong).unsqueeze(0);
  torch::InferenceMode guard;
  absl::StatusOr<transformer::DecoderOutput> out = model->decoder().Forward(input);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_LT(MaxDiff(*injected, out->logits), 1e-5);
}

TEST(RccBatchLogitsTest, EqualsInjectedLogitsRowByRow) {
  std::unique_ptr<RccModel> model = Fresh(0.2);
  ASSERT_NE(model, nullptr);
  // Two contexts of the same length (same P), prompts of 6 and 3 tokens
  // (the second right-padded).
  const torch::Tensor memory =
      torch::stack({Memory(*model, Tokens(30, 3)), Memory(*model, Tokens(30, 4))});
  const std::vector<int64_t> first = Tokens(6, 5), second = Tokens(3, 6);
  std::vector<int64_t> padded = second;
  padded.resize(6, 0);
  const torch::Tensor ids =
      torch::stack({torch::tensor(first, torch::kLong), torch::tensor(padded, torch::kLong)});
  absl::StatusOr<torch::Tensor> batch = model->BatchLogits(memory, ids);
  ASSERT_TRUE(batch.ok()) << batch.status();
  const int64_t P = memory.size(1);
  ASSERT_EQ(batch->sizes(), (std::vector<int64_t>{2, P + 6, 96}));
  absl::StatusOr<torch::Tensor> a = model->InjectedLogits(memory[0], first);
  absl::StatusOr<torch::Tensor> b = model->InjectedLogits(memory[1], second);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_LT(MaxDiff((*batch)[0], (*a)[0]), 1e-5);
  EXPECT_LT(MaxDiff((*batch)[1].narrow(0, 0, P + 3), (*b)[0]), 1e-5);
  // Nothing after the memory: the memory positions alone.
  absl::StatusOr<torch::Tensor> none =
      model->BatchLogits(memory, torch::zeros({2, 0}, torch::kLong));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_LT(MaxDiff(*none, batch->narrow(1, 0, P)), 1e-5);
}

TEST(RccBatchLogitsTest, RejectsBadShapes) {
  std::unique_ptr<RccModel> model = Fresh(0.0);
  ASSERT_NE(model, nullptr);
  const torch::Tensor memory = Memory(*model, Tokens(8, 1)).unsqueeze(0);  // [1, 2, 4, 32]
  EXPECT_EQ(model->BatchLogits(memory[0], torch::zeros({1, 2}, torch::kLong)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(model->BatchLogits(memory, torch::zeros({2, 2}, torch::kLong)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(model->BatchLogits(memory, torch::zeros({1, 2})).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(model->BatchLogits(memory, torch::full({1, 2}, 500, torch::kLong)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// From the zero-A start, a loss on the tokens after the memory sends a
// gradient into every projection: none is stuck at its initial value.
TEST(RccBatchLogitsTest, GradientsReachEveryProjection) {
  std::unique_ptr<RccModel> model = Fresh(0.0);
  ASSERT_NE(model, nullptr);
  for (const auto& [name, tensor] : model->Parameters()) tensor.set_requires_grad(true);
  const torch::Tensor memory =
      torch::stack({Memory(*model, Tokens(16, 7)), Memory(*model, Tokens(16, 8))});
  const torch::Tensor ids = torch::tensor(Tokens(10, 9), torch::kLong).view({2, 5});
  absl::StatusOr<torch::Tensor> logits = model->BatchLogits(memory, ids);
  ASSERT_TRUE(logits.ok()) << logits.status();
  const int64_t P = memory.size(1);
  const torch::Tensor predicted = logits->narrow(1, P - 1, 5).reshape({10, -1});
  torch::cross_entropy_loss(predicted, ids.reshape({10})).backward();
  for (const auto& [name, tensor] : model->Parameters()) {
    ASSERT_TRUE(tensor.grad().defined()) << name;
    EXPECT_GT(tensor.grad().abs().max().item<double>(), 0.0) << name;
  }
}

// The same names, in the same order, with exactly equal values.
void ExpectSameParameters(const RccModel& saved_model, const RccModel& loaded_model) {
  const auto saved = saved_model.Parameters(), loaded = loaded_model.Parameters();
  ASSERT_EQ(saved.size(), loaded.size());
  for (size_t i = 0; i < saved.size(); ++i) {
    EXPECT_EQ(saved[i].first, loaded[i].first);
    EXPECT_TRUE(saved[i].second.equal(loaded[i].second)) << saved[i].first;
  }
}

TEST(RccCheckpointTest, SharedEncoderRoundTripHoldsOnlyTheProjections) {
  const std::shared_ptr<const Decoder> decoder = TinyDecoder();
  std::unique_ptr<RccModel> model = Fresh(0.3, decoder);
  ASSERT_NE(model, nullptr);
  const std::string dir = TempDir("shared_f32");
  ASSERT_TRUE(SaveRcc(*model, dir, torch::kFloat, {{"step", "7"}}).ok());
  absl::StatusOr<WeightMap> file = LoadSafetensors(dir + "/rcc.safetensors", torch::kFloat);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->size(), 4u);  // no rcc_encoder.*: the encoder is the decoder
  EXPECT_FALSE(std::filesystem::exists(dir + "/rcc_encoder.safetensors"));
  absl::StatusOr<std::unique_ptr<RccModel>> back =
      LoadRcc(dir, decoder);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE((*back)->config().encoder_shares_decoder_weights);
  EXPECT_EQ((*back)->config().compression_ratio, 4);
  EXPECT_EQ((*back)->config().segment_tokens, 16);
  ExpectSameParameters(*model, **back);
  const torch::Tensor memory = Memory(*model, Tokens(20, 2));
  EXPECT_LT(MaxDiff(memory, Memory(**back, Tokens(20, 2))), 1e-6);
  absl::StatusOr<torch::Tensor> a = model->InjectedLogits(memory, Tokens(4, 3));
  absl::StatusOr<torch::Tensor> b = (*back)->InjectedLogits(memory, Tokens(4, 3));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_LT(MaxDiff(*a, *b), 1e-6);
}

TEST(RccCheckpointTest, Bfloat16ExportLoadsClose) {
  const std::shared_ptr<const Decoder> decoder = TinyDecoder();
  std::unique_ptr<RccModel> model = Fresh(0.3, decoder);
  ASSERT_NE(model, nullptr);
  const std::string dir = TempDir("shared_bf16");
  ASSERT_TRUE(SaveRcc(*model, dir, torch::kBFloat16).ok());
  EXPECT_EQ(SaveRcc(*model, dir, torch::kLong).code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::unique_ptr<RccModel>> back =
      LoadRcc(dir, decoder);
  ASSERT_TRUE(back.ok()) << back.status();
  const auto saved = model->Parameters(), loaded = (*back)->Parameters();
  for (size_t i = 0; i < saved.size(); ++i) {
    EXPECT_LT(MaxDiff(saved[i].second, loaded[i].second), 1e-2) << saved[i].first;
  }
}

TEST(RccCheckpointTest, SharedConfigWithEncoderTensorsIsRejected) {
  const std::shared_ptr<const Decoder> decoder = TinyDecoder();
  std::unique_ptr<RccModel> model = Fresh(0.0, decoder);
  ASSERT_NE(model, nullptr);
  const std::string dir = TempDir("contradiction");
  ASSERT_TRUE(SaveRcc(*model, dir, torch::kFloat).ok());
  NamedTensors extra = {{"model.rcc_encoder.model.norm.weight", torch::ones({32})}};
  ASSERT_TRUE(WriteSafetensors(dir + "/extra.safetensors", extra).ok());
  absl::StatusOr<std::unique_ptr<RccModel>> back =
      LoadRcc(dir, decoder);
  EXPECT_EQ(back.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(back.status().message()),
              ::testing::AllOf(HasSubstr(dir), HasSubstr("encoder_shares_decoder_weights"),
                               HasSubstr("rcc_encoder")));
}

RccConfig OwnLayersConfig(int64_t layers) {
  RccConfig config = SharedConfig();
  config.encoder_shares_decoder_weights = false;
  config.encoder_shares_decoder_embedding = true;
  config.encoder_layers = layers;
  return config;
}

std::unique_ptr<RccModel> FreshOwnLayers(std::shared_ptr<const Decoder> decoder, int64_t layers,
                                         double layer_projection_std) {
  RccOptions options;
  options.unfused_encoder = true;
  absl::StatusOr<std::unique_ptr<RccModel>> model = RccModel::Initialize(
      OwnLayersConfig(layers), std::move(decoder), /*seed=*/5, layer_projection_std, options);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *std::move(model) : nullptr;
}

// A copy of all of the decoder's layers makes exactly the memory of the
// decoder itself; a one-layer copy feeds its one state to every layer.
TEST(RccOwnEncoderTest, StartsAsTheDecodersFirstLayers) {
  const std::shared_ptr<const Decoder> decoder = TinyDecoder();
  std::unique_ptr<RccModel> whole = FreshOwnLayers(decoder, 3, 0.0);
  std::unique_ptr<RccModel> shared = Fresh(0.0, decoder);
  ASSERT_NE(whole, nullptr);
  ASSERT_NE(shared, nullptr);
  EXPECT_NE(&whole->encoder(), &whole->decoder());
  EXPECT_TRUE(whole->encoder().embedding_table().is_same(decoder->embedding_table()));
  const std::vector<int64_t> context = Tokens(22, 1);
  EXPECT_LT(MaxDiff(Memory(*whole, context), Memory(*shared, context)), 1e-6);

  std::unique_ptr<RccModel> one = FreshOwnLayers(decoder, 1, 0.0);
  ASSERT_NE(one, nullptr);
  EXPECT_EQ(one->encoder().config().num_hidden_layers, 1);
  EXPECT_EQ(Memory(*one, context).sizes(), (std::vector<int64_t>{6, 2, 32}));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(one->sources(i), std::vector<int64_t>{1}) << i;
  absl::StatusOr<std::unique_ptr<RccModel>> too_deep =
      RccModel::Initialize(OwnLayersConfig(4), decoder, 1);
  EXPECT_EQ(too_deep.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(too_deep.status().message()), HasSubstr("only 3 layers"));
}

TEST(RccOwnEncoderTest, ParametersAreTheProjectionsThenTheEncoderWithoutTheEmbedding) {
  std::unique_ptr<RccModel> model = FreshOwnLayers(TinyDecoder(), 1, 0.0);
  ASSERT_NE(model, nullptr);
  const auto params = model->Parameters();
  ASSERT_EQ(params.size(), 4u + 10u);  // projections; 9 tensors of layer 0 and the norm
  EXPECT_EQ(params[3].first, "model.rcc_encoder2gpt_A_matrix.2.weight");
  EXPECT_EQ(params[4].first, "model.rcc_encoder.model.layers.0.input_layernorm.weight");
  EXPECT_EQ(params.back().first, "model.rcc_encoder.model.norm.weight");
  for (const auto& [name, tensor] : params) {
    EXPECT_THAT(name, ::testing::Not(HasSubstr("embed_tokens")));
    EXPECT_TRUE(tensor.is_leaf()) << name;  // unfused: a trainer can own it
  }
}

// TrainingCompress makes Compress's values, and a loss on BatchLogits of
// them reaches every tensor of the encoder (once the A matrices are not 0).
TEST(RccOwnEncoderTest, TrainingCompressSendsGradientsIntoTheEncoder) {
  std::unique_ptr<RccModel> model = FreshOwnLayers(TinyDecoder(), 1, 0.2);
  ASSERT_NE(model, nullptr);
  for (const auto& [name, tensor] : model->Parameters()) tensor.set_requires_grad(true);
  const std::vector<std::vector<int64_t>> contexts = {Tokens(16, 7), Tokens(16, 8)};
  absl::StatusOr<std::vector<torch::Tensor>> memories = model->TrainingCompress(contexts);
  ASSERT_TRUE(memories.ok()) << memories.status();
  for (size_t c = 0; c < contexts.size(); ++c) {
    EXPECT_TRUE((*memories)[c].requires_grad());
    EXPECT_LT(MaxDiff((*memories)[c].detach(), Memory(*model, contexts[c])), 1e-6);
  }
  const torch::Tensor ids = torch::tensor(Tokens(10, 9), torch::kLong).view({2, 5});
  absl::StatusOr<torch::Tensor> logits = model->BatchLogits(torch::stack(*memories), ids);
  ASSERT_TRUE(logits.ok()) << logits.status();
  const int64_t P = (*memories)[0].size(0);
  torch::cross_entropy_loss(logits->narrow(1, P - 1, 5).reshape({10, -1}), ids.reshape({10}))
      .backward();
  for (const auto& [name, tensor] : model->Parameters()) {
    ASSERT_TRUE(tensor.grad().defined()) << name;
    EXPECT_GT(tensor.grad().abs().max().item<double>(), 0.0) << name;
  }
  EXPECT_FALSE(model->decoder().embedding_table().grad().defined());  // frozen, shared
}

TEST(RccOwnEncoderTest, RoundTripHoldsTheLayersButNotTheEmbedding) {
  const std::shared_ptr<const Decoder> decoder = TinyDecoder();
  std::unique_ptr<RccModel> model = FreshOwnLayers(decoder, 1, 0.3);
  ASSERT_NE(model, nullptr);
  {
    torch::NoGradGuard no_grad;  // as if trained: no longer the decoder's copy
    for (const auto& [name, tensor] : model->Parameters()) tensor.mul_(1.25);
  }
  const std::string dir = TempDir("own_layers_f32");
  ASSERT_TRUE(SaveRcc(*model, dir, torch::kFloat).ok());
  // The projections in rcc.safetensors, the encoder's 10 tensors in a file
  // of their own.
  absl::StatusOr<WeightMap> projections =
      LoadSafetensors(dir + "/rcc.safetensors", torch::kFloat);
  ASSERT_TRUE(projections.ok()) << projections.status();
  EXPECT_EQ(projections->size(), 4u);
  absl::StatusOr<WeightMap> encoder =
      LoadSafetensors(dir + "/rcc_encoder.safetensors", torch::kFloat);
  ASSERT_TRUE(encoder.ok()) << encoder.status();
  EXPECT_EQ(encoder->size(), 10u);
  for (const auto& [name, tensor] : *encoder) {
    EXPECT_EQ(name.rfind("model.rcc_encoder.model.", 0), 0u) << name;
  }
  EXPECT_EQ(encoder->count("model.rcc_encoder.model.embed_tokens.weight"), 0u);
  absl::StatusOr<std::unique_ptr<RccModel>> back = LoadRcc(dir, decoder);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE((*back)->config().encoder_shares_decoder_embedding);
  EXPECT_EQ((*back)->config().encoder_layers, 1);
  ExpectSameParameters(*model, **back);
  const std::vector<int64_t> context = Tokens(20, 2);
  const torch::Tensor memory = Memory(*model, context);
  EXPECT_LT(MaxDiff(memory, Memory(**back, context)), 1e-6);
  absl::StatusOr<torch::Tensor> a = model->InjectedLogits(memory, Tokens(4, 3));
  absl::StatusOr<torch::Tensor> b = (*back)->InjectedLogits(memory, Tokens(4, 3));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_LT(MaxDiff(*a, *b), 1e-6);

  // Saving a model without an encoder of its own over the directory
  // removes the encoder file, which would otherwise be read back.
  const std::string reused = TempDir("own_layers_then_shared");
  ASSERT_TRUE(SaveRcc(*model, reused, torch::kFloat).ok());
  ASSERT_TRUE(std::filesystem::exists(reused + "/rcc_encoder.safetensors"));
  std::unique_ptr<RccModel> shared = Fresh(0.3, decoder);
  ASSERT_NE(shared, nullptr);
  ASSERT_TRUE(SaveRcc(*shared, reused, torch::kFloat).ok());
  EXPECT_FALSE(std::filesystem::exists(reused + "/rcc_encoder.safetensors"));
  absl::StatusOr<std::unique_ptr<RccModel>> shared_back = LoadRcc(reused, decoder);
  ASSERT_TRUE(shared_back.ok()) << shared_back.status();
  ExpectSameParameters(*shared, **shared_back);

  // An embedding in the checkpoint contradicts the config.
  NamedTensors extra = {{"model.rcc_encoder.model.embed_tokens.weight", torch::ones({96, 32})}};
  ASSERT_TRUE(WriteSafetensors(dir + "/extra.safetensors", extra).ok());
  absl::StatusOr<std::unique_ptr<RccModel>> contradiction = LoadRcc(dir, decoder);
  EXPECT_EQ(contradiction.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(contradiction.status().message()),
              HasSubstr("encoder_shares_decoder_embedding"));
}

// A released-schema checkpoint (an encoder of its own) saved and loaded back.
TEST(RccCheckpointTest, ReleasedSchemaRoundTripKeepsTheEncoder) {
  const std::string dir =
      std::string(std::getenv("TEST_SRCDIR")) + "/ccs/model/rcc/testdata/llama_duplicate";
  absl::StatusOr<DecoderConfig> decoder_config =
      transformer::LoadDecoderConfig(dir + "/config.json");
  ASSERT_TRUE(decoder_config.ok()) << decoder_config.status();
  LoadOptions load;
  load.layout = ShardLayout::kConcatenateAll;
  absl::StatusOr<WeightMap> all = LoadSafetensors(dir, torch::kFloat32, load);
  ASSERT_TRUE(all.ok()) << all.status();
  TakeRccWeights(&*all, "model.");
  absl::StatusOr<std::unique_ptr<Decoder>> made = Decoder::Create(*decoder_config, *std::move(all));
  ASSERT_TRUE(made.ok()) << made.status();
  std::shared_ptr<const Decoder> decoder = *std::move(made);
  absl::StatusOr<std::unique_ptr<RccModel>> original = LoadRcc(dir, decoder);
  ASSERT_TRUE(original.ok()) << original.status();
  const std::string copy = TempDir("released_copy");
  ASSERT_TRUE(SaveRcc(**original, copy, torch::kFloat).ok());
  absl::StatusOr<std::unique_ptr<RccModel>> back = LoadRcc(copy, decoder);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_FALSE((*back)->config().encoder_shares_decoder_weights);
  EXPECT_NE(&(*back)->encoder(), &(*back)->decoder());
  const std::vector<int64_t> context = Tokens(33, 4);
  const torch::Tensor memory = Memory(**original, context);
  EXPECT_LT(MaxDiff(memory, Memory(**back, context)), 1e-6);
  absl::StatusOr<torch::Tensor> a = (*original)->InjectedLogits(memory, Tokens(4, 5));
  absl::StatusOr<torch::Tensor> b = (*back)->InjectedLogits(memory, Tokens(4, 5));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_LT(MaxDiff(*a, *b), 1e-6);
}

}  // namespace
}  // namespace ccs::model::rcc
