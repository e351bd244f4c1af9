#include "model/transformer/decoder.h"

#include <memory>
#include <string>
#include <vector>

#include <torch/cuda.h>
#include <torch/torch.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/transformer/kv_cache.h"
#include "model/transformer/testdata/golden_reader.h"

namespace ccs::model::transformer {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr double kTolerance = 1e-4;  // fp32 against Hugging Face

double MaxAbsDiff(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  return (a.to(torch::kCPU, torch::kFloat) - b.to(torch::kCPU, torch::kFloat))
      .abs()
      .max()
      .item<double>();
}

torch::Tensor Ids(const nlohmann::json& rows) {
  std::vector<int64_t> flat;
  for (const auto& row : rows) {
    for (const auto& id : row) flat.push_back(id.get<int64_t>());
  }
  return torch::tensor(flat, torch::kLong).view({static_cast<int64_t>(rows.size()), -1});
}

std::unique_ptr<Decoder> MakeDecoder(const Golden& golden, DecoderOptions options = {}) {
  absl::StatusOr<std::unique_ptr<Decoder>> decoder =
      Decoder::Create(golden.config(), golden.Weights(), options);
  EXPECT_TRUE(decoder.ok()) << decoder.status();
  return decoder.ok() ? *std::move(decoder) : nullptr;
}

DecoderOutput Forward(const Decoder& decoder, DecoderInput input) {
  absl::StatusOr<DecoderOutput> out = decoder.Forward(input);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *std::move(out) : DecoderOutput();
}

class GoldenTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    absl::StatusOr<Golden> golden = LoadGolden(GetParam());
    ASSERT_TRUE(golden.ok()) << golden.status();
    golden_ = std::make_unique<Golden>(*std::move(golden));
    decoder_ = MakeDecoder(*golden_);
    ASSERT_NE(decoder_, nullptr);
    ids_ = Ids(golden_->cases()["full"]["input_ids"]);  // [2, 11]
  }

  std::unique_ptr<Golden> golden_;
  std::unique_ptr<Decoder> decoder_;
  torch::Tensor ids_;
  torch::InferenceMode guard_;
};

TEST_P(GoldenTest, LogitsAndHiddenStatesMatchHuggingFace) {
  DecoderInput input;
  input.input_ids = ids_;
  input.output_hidden_states = true;
  DecoderOutput out = Forward(*decoder_, input);
  EXPECT_LT(MaxAbsDiff(out.logits, golden_->Tensor("full/logits")), kTolerance);
  const int count = golden_->cases()["full"]["num_hidden_states"].get<int>();
  ASSERT_EQ(static_cast<int>(out.hidden_states.size()), count);
  ASSERT_EQ(count, golden_->config().num_hidden_layers + 1);
  for (int i = 0; i < count; ++i) {
    EXPECT_LT(MaxAbsDiff(out.hidden_states[i],
                         golden_->Tensor("full/hidden_states." + std::to_string(i))),
              kTolerance)
        << "hidden state " << i;
  }
  EXPECT_TRUE(out.last_hidden_state.equal(out.hidden_states.back()));
  // The logits are not all alike: the fixture discriminates.
  EXPECT_GT(out.logits.std().item<double>(), 0.5);
}

TEST_P(GoldenTest, UnfusedProjectionsMatchHuggingFaceToo) {
  DecoderOptions unfused;
  unfused.fuse_projections = false;
  std::unique_ptr<Decoder> decoder = MakeDecoder(*golden_, unfused);
  ASSERT_NE(decoder, nullptr);
  DecoderInput input;
  input.input_ids = ids_;
  EXPECT_LT(MaxAbsDiff(Forward(*decoder, input).logits, golden_->Tensor("full/logits")),
            kTolerance);
  // Both keep every weight under its Hugging Face name with the same values.
  for (const auto& [name, tensor] : decoder->weights()) {
    ASSERT_EQ(decoder_->weights().count(name), 1u) << name;
    EXPECT_TRUE(decoder_->weights().at(name).equal(tensor)) << name;
  }
}

TEST_P(GoldenTest, EmbeddingsInputEqualsIdsInput) {
  absl::StatusOr<torch::Tensor> embeds = decoder_->Embed(ids_);
  ASSERT_TRUE(embeds.ok()) << embeds.status();
  EXPECT_TRUE(embeds->equal(decoder_->embedding_table().index_select(0, ids_.view(-1))
                                .view({2, 11, -1})));
  DecoderInput by_ids, by_embeds;
  by_ids.input_ids = ids_;
  by_embeds.inputs_embeds = *embeds;
  EXPECT_LT(MaxAbsDiff(Forward(*decoder_, by_ids).logits, Forward(*decoder_, by_embeds).logits), 1e-6);
}

TEST_P(GoldenTest, CachedDecodingEqualsFullRecomputation) {
  DecoderInput full;
  full.input_ids = ids_;
  torch::Tensor expected = Forward(*decoder_, full).logits;  // [2, 11, V]
  KvCache cache;
  // Prefill 5 tokens, then 3 at once, then one at a time.
  std::vector<std::pair<int64_t, int64_t>> chunks = {{0, 5}, {5, 3}, {8, 1}, {9, 1}, {10, 1}};
  for (const auto& [start, length] : chunks) {
    DecoderInput step;
    step.input_ids = ids_.narrow(1, start, length);
    step.cache = &cache;
    torch::Tensor logits = Forward(*decoder_, step).logits;
    EXPECT_LT(MaxAbsDiff(logits, expected.narrow(1, start, length)), kTolerance)
        << "chunk at " << start;
  }
  EXPECT_EQ(cache.length(), 11);
  EXPECT_EQ(cache.num_layers(), golden_->config().num_hidden_layers);
  EXPECT_EQ(cache.keys(0).sizes(),
            (std::vector<int64_t>{2, golden_->config().num_key_value_heads, 11,
                                  golden_->config().head_dim}));
  EXPECT_TRUE(cache.token_counts().equal(torch::tensor({11, 11}, torch::kLong)));
}

// Left padding (generation) and right padding (encoders) give each row what
// it gets alone, at its real positions; so do decoding steps after them.
TEST_P(GoldenTest, PaddedBatchEqualsSequencesOneByOne) {
  const std::vector<int64_t> lengths = {7, 4, 11};
  for (bool left : {true, false}) {
    torch::Tensor ids = torch::zeros({3, 11}, torch::kLong);
    torch::Tensor mask = torch::zeros({3, 11}, torch::kLong);
    for (int b = 0; b < 3; ++b) {
      const int64_t start = left ? 11 - lengths[b] : 0;
      ids[b].narrow(0, start, lengths[b]).copy_(ids_[b % 2].narrow(0, 0, lengths[b]));
      mask[b].narrow(0, start, lengths[b]).fill_(1);
    }
    KvCache cache;
    DecoderInput batch;
    batch.input_ids = ids;
    batch.attention_mask = mask;
    batch.cache = &cache;
    torch::Tensor logits = Forward(*decoder_, batch).logits;  // [3, 11, V]
    DecoderInput step;
    step.input_ids = torch::tensor({{5}, {6}, {7}}, torch::kLong);
    step.cache = &cache;
    torch::Tensor step_logits = Forward(*decoder_, step).logits;  // [3, 1, V]
    for (int b = 0; b < 3; ++b) {
      const int64_t start = left ? 11 - lengths[b] : 0;
      KvCache alone_cache;
      DecoderInput alone;
      alone.input_ids = ids_[b % 2].narrow(0, 0, lengths[b]).unsqueeze(0);
      alone.cache = &alone_cache;
      EXPECT_LT(MaxAbsDiff(logits[b].narrow(0, start, lengths[b]), Forward(*decoder_, alone).logits[0]),
                kTolerance)
          << (left ? "left" : "right") << " padding, row " << b;
      DecoderInput alone_step;
      alone_step.input_ids = step.input_ids[b].unsqueeze(0);
      alone_step.cache = &alone_cache;
      EXPECT_LT(MaxAbsDiff(step_logits[b], Forward(*decoder_, alone_step).logits[0]), kTolerance)
          << (left ? "left" : "right") << " padding, step of row " << b;
    }
  }
}

TEST_P(GoldenTest, ExplicitPositionIdsEqualDefaults) {
  DecoderInput defaults, explicit_positions, shifted;
  defaults.input_ids = explicit_positions.input_ids = shifted.input_ids = ids_;
  explicit_positions.position_ids = torch::arange(11, torch::kLong).repeat({2, 1});
  shifted.position_ids = explicit_positions.position_ids + 3;
  torch::Tensor expected = Forward(*decoder_, defaults).logits;
  EXPECT_LT(MaxAbsDiff(Forward(*decoder_, explicit_positions).logits, expected), 1e-6);
  // RoPE is relative: shifting every position leaves the result (up to
  // rounding), while scrambling them changes it.
  EXPECT_LT(MaxAbsDiff(Forward(*decoder_, shifted).logits, expected), kTolerance);
  DecoderInput scrambled;
  scrambled.input_ids = ids_;
  scrambled.position_ids = torch::tensor({0, 5, 1, 9, 2, 8, 3, 7, 4, 6, 10}).repeat({2, 1});
  EXPECT_GT(MaxAbsDiff(Forward(*decoder_, scrambled).logits, expected), 1e-2);
}

TEST_P(GoldenTest, LayerHookRunsAfterEachLayerAndFeedsTheNext) {
  const int L = static_cast<int>(golden_->config().num_hidden_layers);
  DecoderInput plain;
  plain.input_ids = ids_;
  plain.output_hidden_states = true;
  DecoderOutput expected = Forward(*decoder_, plain);

  std::vector<int> calls;
  DecoderInput identity = plain;
  identity.layer_hook = [&calls](int layer, const torch::Tensor& hidden) {
    calls.push_back(layer);
    EXPECT_EQ(hidden.dim(), 3);
    return hidden;
  };
  DecoderOutput same = Forward(*decoder_, identity);
  std::vector<int> expected_calls;
  for (int i = 0; i < L; ++i) expected_calls.push_back(i);
  EXPECT_EQ(calls, expected_calls);
  EXPECT_TRUE(same.logits.equal(expected.logits));

  // RCC-style: add vectors at the first 3 positions after layer 0 (not a
  // constant: LayerNorm would remove it).
  torch::manual_seed(3);
  torch::Tensor delta = torch::zeros({2, 11, golden_->config().hidden_size});
  delta.narrow(1, 0, 3).copy_(torch::randn({2, 3, golden_->config().hidden_size}));
  DecoderInput inject = plain;
  inject.layer_hook = [&delta](int layer, const torch::Tensor& hidden) {
    return layer == 0 ? hidden + delta : hidden;
  };
  DecoderOutput injected = Forward(*decoder_, inject);
  EXPECT_LT(MaxAbsDiff(injected.hidden_states[1], expected.hidden_states[1] + delta), 1e-6);
  // The change reaches the logits at the prefix.
  EXPECT_GT(MaxAbsDiff(injected.logits.narrow(1, 0, 3), expected.logits.narrow(1, 0, 3)), 1e-3);
}

TEST_P(GoldenTest, BFloat16StaysCloseToFloat32) {
  DecoderOptions options;
  options.dtype = torch::kBFloat16;
  std::unique_ptr<Decoder> bf16 = MakeDecoder(*golden_, options);
  ASSERT_NE(bf16, nullptr);
  EXPECT_EQ(bf16->embedding_table().scalar_type(), torch::kBFloat16);
  DecoderInput input;
  input.input_ids = ids_;
  torch::Tensor logits = Forward(*bf16, input).logits;
  EXPECT_EQ(logits.scalar_type(), torch::kBFloat16);
  torch::Tensor expected = golden_->Tensor("full/logits");
  const double scale = expected.abs().max().item<double>();
  EXPECT_LT(MaxAbsDiff(logits, expected), 0.1 * scale);
  const double agree =
      (logits.to(torch::kFloat).argmax(-1) == expected.argmax(-1)).to(torch::kFloat).mean()
          .item<double>();
  EXPECT_GE(agree, 0.8);
}

TEST_P(GoldenTest, RunsOnCudaWhenPresent) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  DecoderOptions options;
  options.device = torch::Device(torch::kCUDA, 0);
  std::unique_ptr<Decoder> gpu = MakeDecoder(*golden_, options);
  ASSERT_NE(gpu, nullptr);
  DecoderInput input;
  input.input_ids = ids_;
  input.output_hidden_states = true;
  DecoderOutput out = Forward(*gpu, input);
  EXPECT_TRUE(out.logits.is_cuda());
  EXPECT_LT(MaxAbsDiff(out.logits, golden_->Tensor("full/logits")), 1e-3);
}

INSTANTIATE_TEST_SUITE_P(Variants, GoldenTest,
                         ::testing::Values("neox_partial_parallel", "neox_full_serial",
                                           "llama_gqa_untied", "llama_mqa_tied"));

class DecoderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<Golden> golden = LoadGolden("llama_gqa_untied");
    ASSERT_TRUE(golden.ok()) << golden.status();
    golden_ = std::make_unique<Golden>(*std::move(golden));
  }
  std::unique_ptr<Golden> golden_;
};

TEST_F(DecoderTest, BadWeightsGiveOneErrorListingThemAll) {
  WeightMap weights = golden_->Weights();
  weights.erase("model.layers.1.mlp.up_proj.weight");
  weights["model.layers.9.self_attn.q_proj.weight"] = torch::zeros({64, 64});
  weights["model.layers.0.self_attn.k_proj.weight"] = torch::zeros({64, 64});
  weights["model.norm.weight"] = torch::zeros({64}, torch::kLong);
  absl::StatusOr<std::unique_ptr<Decoder>> decoder =
      Decoder::Create(golden_->config(), std::move(weights));
  EXPECT_EQ(decoder.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoder.status().message(),
              AllOf(HasSubstr("1 missing: model.layers.1.mlp.up_proj.weight"),
                    HasSubstr("1 unexpected: model.layers.9.self_attn.q_proj.weight"),
                    HasSubstr("model.layers.0.self_attn.k_proj.weight is [64, 64], "
                              "expected [32, 64]"),
                    HasSubstr("model.norm.weight has dtype Long")));
}

TEST_F(DecoderTest, ToleratesBuffersHuggingFaceSkipsAndATiedHead) {
  WeightMap weights = golden_->Weights();
  weights["model.layers.0.self_attn.rotary_emb.inv_freq"] = torch::zeros({8});
  EXPECT_TRUE(Decoder::Create(golden_->config(), std::move(weights)).ok());

  absl::StatusOr<Golden> tied = LoadGolden("llama_mqa_tied");
  ASSERT_TRUE(tied.ok());
  WeightMap with_head = tied->Weights();
  EXPECT_EQ(with_head.count("lm_head.weight"), 0u);  // save_pretrained leaves it out
  with_head["lm_head.weight"] = with_head["model.embed_tokens.weight"].clone();
  absl::StatusOr<std::unique_ptr<Decoder>> decoder =
      Decoder::Create(tied->config(), std::move(with_head));
  ASSERT_TRUE(decoder.ok()) << decoder.status();
  EXPECT_EQ((*decoder)->weights().count("lm_head.weight"), 0u);
}

TEST_F(DecoderTest, ExpectedAndRandomWeightsFitEveryConfig) {
  for (const char* variant :
       {"neox_partial_parallel", "neox_full_serial", "llama_gqa_untied", "llama_mqa_tied"}) {
    absl::StatusOr<Golden> golden = LoadGolden(variant);
    ASSERT_TRUE(golden.ok());
    std::vector<WeightSpec> specs = ExpectedWeights(golden->config());
    EXPECT_EQ(specs.size(), golden->Weights().size()) << variant;
    for (const WeightSpec& spec : specs) {
      EXPECT_EQ(golden->Tensor(spec.name).sizes(), c10::IntArrayRef(spec.shape)) << spec.name;
    }
    WeightMap random = RandomWeights(golden->config(), 7);
    EXPECT_TRUE(random.at(specs[3].name).equal(RandomWeights(golden->config(), 7).at(specs[3].name)));
    EXPECT_TRUE(Decoder::Create(golden->config(), std::move(random)).ok()) << variant;
  }
}

TEST_F(DecoderTest, TakeWeightsWithPrefixSplitsANestedCheckpoint) {
  WeightMap all;
  for (auto& [name, tensor] : golden_->Weights()) {
    all["gpt_neox.rcc_encoder." + name] = tensor;
  }
  all["gpt_neox.rcc_encoder2gpt_embed.weight"] = torch::zeros({2, 2});
  WeightMap encoder = TakeWeightsWithPrefix(&all, "gpt_neox.rcc_encoder.");
  EXPECT_EQ(all.size(), 1u);
  EXPECT_EQ(encoder.count("model.norm.weight"), 1u);
  EXPECT_TRUE(Decoder::Create(golden_->config(), std::move(encoder)).ok());
}

TEST_F(DecoderTest, BadInputsAreInvalidArgumentAndLeaveTheCacheAlone) {
  std::unique_ptr<Decoder> decoder = MakeDecoder(*golden_);
  ASSERT_NE(decoder, nullptr);
  torch::InferenceMode guard;
  KvCache cache;
  DecoderInput prefill;
  prefill.input_ids = torch::tensor({{1, 2, 3}}, torch::kLong);
  prefill.cache = &cache;
  ASSERT_TRUE(decoder->Forward(prefill).ok());

  auto expect_invalid = [&](DecoderInput input, const char* says) {
    absl::StatusOr<DecoderOutput> out = decoder->Forward(input);
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << says;
    EXPECT_THAT(out.status().message(), HasSubstr(says));
    EXPECT_EQ(cache.length(), 3);
  };
  DecoderInput neither;
  expect_invalid(neither, "exactly one of input_ids and inputs_embeds");
  DecoderInput out_of_vocab;
  out_of_vocab.input_ids = torch::tensor({{384}}, torch::kLong);
  out_of_vocab.cache = &cache;
  expect_invalid(out_of_vocab, "token id 384 is outside the vocabulary [0, 384)");
  DecoderInput wrong_width;
  wrong_width.inputs_embeds = torch::zeros({1, 1, 65});
  expect_invalid(wrong_width, "inputs_embeds must be a floating-point [B, T, 64]");
  DecoderInput wrong_batch;
  wrong_batch.input_ids = torch::tensor({{1}, {2}}, torch::kLong);
  wrong_batch.cache = &cache;
  expect_invalid(wrong_batch, "the KV cache holds 1 sequences but the input has 2");
  DecoderInput bad_hook;
  bad_hook.input_ids = torch::tensor({{4, 5}}, torch::kLong);
  bad_hook.cache = &cache;
  bad_hook.layer_hook = [](int, const torch::Tensor& h) { return h.narrow(1, 0, 1); };
  expect_invalid(bad_hook, "layer_hook for layer 0 returned [1, 1, 64]");

  // After the failures the cache still continues correctly.
  DecoderInput step;
  step.input_ids = torch::tensor({{4}}, torch::kLong);
  step.cache = &cache;
  torch::Tensor cached = Forward(*decoder, step).logits;
  DecoderInput full;
  full.input_ids = torch::tensor({{1, 2, 3, 4}}, torch::kLong);
  EXPECT_LT(MaxAbsDiff(cached[0][0], Forward(*decoder, full).logits[0][3]), kTolerance);
}

// Continuous batching: caches made apart are joined (left-padding the
// shorter), rows are dropped, and decoding goes on as if alone.
TEST_F(DecoderTest, KvCacheConcatAndSelect) {
  std::unique_ptr<Decoder> decoder = MakeDecoder(*golden_);
  ASSERT_NE(decoder, nullptr);
  torch::InferenceMode guard;
  const std::vector<std::vector<int64_t>> prompts = {{3, 1, 4, 1, 5}, {9, 2, 6}, {5, 3, 5, 8}};
  std::vector<KvCache> caches(3);
  std::vector<torch::Tensor> alone_logits;
  for (int i = 0; i < 3; ++i) {
    DecoderInput input;
    input.input_ids = torch::tensor(prompts[i], torch::kLong).unsqueeze(0);
    input.cache = &caches[i];
    Forward(*decoder, input);
  }
  KvCache reference;  // row 2 alone, for after Select
  {
    DecoderInput input;
    input.input_ids = torch::tensor(prompts[2], torch::kLong).unsqueeze(0);
    input.cache = &reference;
    Forward(*decoder, input);
  }
  std::vector<KvCache> to_join;
  for (KvCache& c : caches) to_join.push_back(std::move(c));
  absl::StatusOr<KvCache> joined = KvCache::Concat(std::move(to_join));
  ASSERT_TRUE(joined.ok()) << joined.status();
  EXPECT_EQ(joined->batch_size(), 3);
  EXPECT_EQ(joined->length(), 5);
  EXPECT_TRUE(joined->token_counts().equal(torch::tensor({5, 3, 4}, torch::kLong)));

  DecoderInput step;
  step.input_ids = torch::tensor({{7}, {7}, {7}}, torch::kLong);
  step.cache = &*joined;
  torch::Tensor logits = Forward(*decoder, step).logits;  // [3, 1, V]
  for (int i = 0; i < 3; ++i) {
    std::vector<int64_t> ids = prompts[i];
    ids.push_back(7);
    DecoderInput full;
    full.input_ids = torch::tensor(ids, torch::kLong).unsqueeze(0);
    EXPECT_LT(MaxAbsDiff(logits[i][0], Forward(*decoder, full).logits[0][static_cast<int64_t>(ids.size()) - 1]),
              kTolerance)
        << "row " << i;
  }
  ASSERT_TRUE(joined->Select({2}).ok());
  EXPECT_EQ(joined->Select({3}).code(), absl::StatusCode::kInvalidArgument);
  DecoderInput ref_step;
  ref_step.input_ids = torch::tensor({{7}}, torch::kLong);
  ref_step.cache = &reference;
  Forward(*decoder, ref_step);
  DecoderInput next;
  next.input_ids = torch::tensor({{11}}, torch::kLong);
  next.cache = &*joined;
  ref_step.input_ids = next.input_ids;
  EXPECT_LT(MaxAbsDiff(Forward(*decoder, next).logits, Forward(*decoder, ref_step).logits), kTolerance);
}

// The in-place variants: rows join a running batch (in its free rows, or
// in new buffers when there is no room or they are longer) and leave it
// (the last rows moving into the gaps); every row decodes as if alone.
TEST_F(DecoderTest, KvCacheAppendRowsAndRemoveRows) {
  std::unique_ptr<Decoder> decoder = MakeDecoder(*golden_);
  ASSERT_NE(decoder, nullptr);
  torch::InferenceMode guard;
  std::vector<std::vector<int64_t>> seqs = {{3, 1, 4, 1, 5}, {9, 2, 6}, {5, 3, 5, 8},
                                            {1, 2, 3, 4, 5, 6, 7, 8}};
  std::vector<KvCache> caches(seqs.size());
  for (size_t i = 0; i < seqs.size(); ++i) {
    DecoderInput input;
    input.input_ids = torch::tensor(seqs[i], torch::kLong).unsqueeze(0);
    input.cache = &caches[i];
    Forward(*decoder, input);
  }
  // The last position's logits of `ids` computed alone, without a cache.
  auto alone = [&](const std::vector<int64_t>& ids) {
    DecoderInput full;
    full.input_ids = torch::tensor(ids, torch::kLong).unsqueeze(0);
    return Forward(*decoder, full).logits[0][static_cast<int64_t>(ids.size()) - 1];
  };
  // Feeds `token` to every row of `batch`, whose rows hold seqs[rows[b]],
  // and checks each against the sequence alone.
  auto step = [&](KvCache& batch, const std::vector<size_t>& rows, int64_t token) {
    DecoderInput input;
    input.input_ids = torch::full({static_cast<int64_t>(rows.size()), 1}, token, torch::kLong);
    input.cache = &batch;
    torch::Tensor logits = Forward(*decoder, input).logits;  // [B, 1, V]
    for (size_t b = 0; b < rows.size(); ++b) {
      seqs[rows[b]].push_back(token);
      EXPECT_LT(MaxAbsDiff(logits[b][0], alone(seqs[rows[b]])), kTolerance) << "row " << b;
    }
  };

  KvCache batch;
  ASSERT_TRUE(batch.AppendRows(caches[0]).ok());  // an empty cache: a copy
  ASSERT_TRUE(batch.AppendRows(caches[1]).ok());  // no free row: new buffers
  ASSERT_TRUE(batch.AppendRows(caches[2]).ok());  // in place
  EXPECT_EQ(batch.batch_size(), 3);
  EXPECT_EQ(batch.length(), 5);
  EXPECT_TRUE(batch.token_counts().equal(torch::tensor({5, 3, 4}, torch::kLong)));
  step(batch, {0, 1, 2}, 7);

  absl::StatusOr<std::vector<int64_t>> order = batch.RemoveRows({0});
  ASSERT_TRUE(order.ok()) << order.status();
  EXPECT_EQ(*order, (std::vector<int64_t>{2, 1}));  // the last row took row 0's place
  step(batch, {2, 1}, 11);

  ASSERT_TRUE(batch.AppendRows(caches[3]).ok());  // longer than the batch: left-pads it
  EXPECT_EQ(batch.length(), 8 + 64);              // with a granule to spare
  step(batch, {2, 1, 3}, 13);

  EXPECT_EQ(batch.RemoveRows({1, 1}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(batch.RemoveRows({0, 1, 2}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(batch.RemoveRows({3}).status().code(), absl::StatusCode::kInvalidArgument);
  order = batch.RemoveRows({0, 2});
  ASSERT_TRUE(order.ok());
  EXPECT_EQ(*order, (std::vector<int64_t>{1}));
  step(batch, {1}, 17);
  EXPECT_EQ(caches[2].length(), 4);  // the joined caches are untouched
}

// Training later: outside InferenceMode, gradients reach the embeddings.
TEST_F(DecoderTest, ForwardIsUsableWithAutograd) {
  std::unique_ptr<Decoder> decoder = MakeDecoder(*golden_);
  ASSERT_NE(decoder, nullptr);
  torch::Tensor embeds = torch::randn({1, 4, 64}).requires_grad_(true);
  DecoderInput input;
  input.inputs_embeds = embeds;
  absl::StatusOr<DecoderOutput> out = decoder->Forward(input);
  ASSERT_TRUE(out.ok()) << out.status();
  out->logits.sum().backward();
  ASSERT_TRUE(embeds.grad().defined());
  EXPECT_GT(embeds.grad().abs().sum().item<double>(), 0);
}

}  // namespace
}  // namespace ccs::model::transformer
