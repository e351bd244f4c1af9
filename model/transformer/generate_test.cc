#include "model/transformer/generate.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/transformer/sampler.h"
#include "model/transformer/sampling.h"
#include "model/transformer/testdata/golden_reader.h"

namespace ccs::model::transformer {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Fixture {
  std::unique_ptr<Golden> golden;
  std::unique_ptr<Decoder> decoder;
  std::vector<std::vector<int64_t>> prompts;
  std::vector<std::vector<int64_t>> expected;  // Hugging Face greedy output
};

Fixture Load(const std::string& variant) {
  Fixture f;
  absl::StatusOr<Golden> golden = LoadGolden(variant);
  EXPECT_TRUE(golden.ok()) << golden.status();
  if (!golden.ok()) return f;
  f.golden = std::make_unique<Golden>(*std::move(golden));
  absl::StatusOr<std::unique_ptr<Decoder>> decoder =
      Decoder::Create(f.golden->config(), f.golden->Weights());
  EXPECT_TRUE(decoder.ok()) << decoder.status();
  if (decoder.ok()) f.decoder = *std::move(decoder);
  const nlohmann::json& greedy = f.golden->cases()["greedy"];
  f.prompts = greedy["prompts"].get<std::vector<std::vector<int64_t>>>();
  f.expected = greedy["expected"].get<std::vector<std::vector<int64_t>>>();
  return f;
}

std::vector<GenerationRequest> Requests(const std::vector<std::vector<int64_t>>& prompts,
                                        const SamplingParams& sampling) {
  std::vector<GenerationRequest> requests(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    requests[i].prompt_ids = prompts[i];
    requests[i].sampling = sampling;
  }
  return requests;
}

std::vector<std::vector<int64_t>> Tokens(
    const absl::StatusOr<std::vector<GenerationResult>>& results) {
  EXPECT_TRUE(results.ok()) << results.status();
  std::vector<std::vector<int64_t>> tokens;
  if (results.ok()) {
    for (const GenerationResult& r : *results) tokens.push_back(r.tokens);
  }
  return tokens;
}

class GreedyTest : public ::testing::TestWithParam<std::string> {};

// The three prompts of different lengths, batched, give exactly the tokens
// of Hugging Face's generate(do_sample=False); the first stops at EOS early.
TEST_P(GreedyTest, BatchedGreedyEqualsHuggingFaceGenerate) {
  Fixture f = Load(GetParam());
  ASSERT_NE(f.decoder, nullptr);
  SamplingParams greedy;
  greedy.max_new_tokens = f.golden->cases()["greedy"]["max_new_tokens"].get<int64_t>();
  absl::StatusOr<std::vector<GenerationResult>> results =
      Generate(*f.decoder, Requests(f.prompts, greedy));
  EXPECT_EQ(Tokens(results), f.expected);
  ASSERT_TRUE(results.ok());
  const int64_t eos = f.golden->cases()["greedy"]["eos_token_id"].get<int64_t>();
  for (size_t i = 0; i < results->size(); ++i) {
    const GenerationResult& r = (*results)[i];
    EXPECT_EQ(r.prompt_tokens, static_cast<int64_t>(f.prompts[i].size()));
    if (r.tokens.back() == eos) {
      EXPECT_EQ(r.finish_reason, FinishReason::kStop);
    } else {
      EXPECT_EQ(r.finish_reason, FinishReason::kLength);
      EXPECT_EQ(static_cast<int64_t>(r.tokens.size()), greedy.max_new_tokens);
    }
  }
  // The fixture has sequences that finish at different steps.
  EXPECT_LT(f.expected[0].size(), static_cast<size_t>(greedy.max_new_tokens));
}

// The same prompts given as input embeddings (how IC-Former and RCC feed
// the decoder) generate the same tokens.
TEST_P(GreedyTest, EmbeddingPromptsEqualIdPrompts) {
  Fixture f = Load(GetParam());
  ASSERT_NE(f.decoder, nullptr);
  SamplingParams greedy;
  greedy.max_new_tokens = 10;
  std::vector<GenerationRequest> requests = Requests(f.prompts, greedy);
  {
    torch::InferenceMode guard;
    absl::StatusOr<torch::Tensor> embeds =
        f.decoder->Embed(torch::tensor(f.prompts[1], torch::kLong));
    ASSERT_TRUE(embeds.ok());
    requests[1].prompt_embeds = *embeds;  // [T, C]; ids stay as penalty history
  }
  EXPECT_EQ(Tokens(Generate(*f.decoder, requests)), f.expected);
}

// Prefilling a prompt's head once into a cache and generating from its tail
// with that cache as the prefix equals generating from the whole prompt; the
// prefixes differ in length across the batch and stay untouched.
TEST_P(GreedyTest, PrefixCacheEqualsTheWholePrompt) {
  Fixture f = Load(GetParam());
  ASSERT_NE(f.decoder, nullptr);
  SamplingParams greedy;
  greedy.max_new_tokens = 10;
  std::vector<GenerationRequest> requests = Requests(f.prompts, greedy);
  std::vector<int64_t> prefix_lengths;
  {
    torch::InferenceMode guard;
    for (GenerationRequest& r : requests) {
      const int64_t head = static_cast<int64_t>(r.prompt_ids.size()) / 2 + 1;
      prefix_lengths.push_back(head);
      auto cache = std::make_shared<KvCache>();
      DecoderInput input;
      input.input_ids = torch::tensor(std::vector<int64_t>(r.prompt_ids.begin(),
                                                           r.prompt_ids.begin() + head),
                                      torch::kLong)
                            .unsqueeze(0);  // [1, head]
      input.cache = cache.get();
      input.logits = LogitsMode::kNone;
      ASSERT_TRUE(f.decoder->Forward(input).ok());
      r.prefix = cache;
      // Only the tail is prefilled now (greedy: no penalty history needed).
      r.prompt_ids.erase(r.prompt_ids.begin(), r.prompt_ids.begin() + head);
    }
  }
  EXPECT_EQ(Tokens(Generate(*f.decoder, requests)), f.expected);
  for (size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ(requests[i].prefix->length(), prefix_lengths[i]);  // untouched
  }
  // Reusable: a second call gives the same again.
  EXPECT_EQ(Tokens(Generate(*f.decoder, requests)), f.expected);
}

INSTANTIATE_TEST_SUITE_P(Variants, GreedyTest,
                         ::testing::Values("neox_partial_parallel", "neox_full_serial",
                                           "llama_gqa_untied", "llama_mqa_tied"));

class GenerateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    f_ = Load("llama_gqa_untied");
    ASSERT_NE(f_.decoder, nullptr);
  }
  Fixture f_;
};

TEST_F(GenerateTest, SamplingIsReproducibleAndSeedsMatter) {
  SamplingParams sampling;
  sampling.temperature = 1.5;
  sampling.max_new_tokens = 16;
  sampling.ignore_eos = true;
  sampling.seed = 1;
  auto first = Tokens(Generate(*f_.decoder, Requests(f_.prompts, sampling)));
  auto again = Tokens(Generate(*f_.decoder, Requests(f_.prompts, sampling)));
  EXPECT_EQ(first, again);
  sampling.seed = 2;
  auto other_seed = Tokens(Generate(*f_.decoder, Requests(f_.prompts, sampling)));
  ASSERT_EQ(other_seed.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_NE(first[i], other_seed[i]) << "sequence " << i;
  // Each sequence draws from its own generator: alone it samples the same.
  auto alone = Tokens(Generate(*f_.decoder, Requests({f_.prompts[2]}, sampling)));
  ASSERT_EQ(alone.size(), 1u);
  EXPECT_EQ(alone[0], other_seed[2]);
}

TEST_F(GenerateTest, TopKOneEqualsGreedy) {
  SamplingParams top1;
  top1.temperature = 1.0;
  top1.top_k = 1;
  top1.max_new_tokens = 10;
  top1.seed = 99;
  EXPECT_EQ(Tokens(Generate(*f_.decoder, Requests(f_.prompts, top1))), f_.expected);
}

// The index of the first token after the first that `tokens` has not had
// before (tokens.size() when there is none).
size_t FirstNewToken(const std::vector<int64_t>& tokens) {
  size_t i = 1;
  while (i < tokens.size() && std::find(tokens.begin(), tokens.begin() + i, tokens[i]) !=
                                  tokens.begin() + i) {
    ++i;
  }
  return i;
}

TEST_F(GenerateTest, StopTokensAndIgnoreEos) {
  // Stop sequence 1 at the first token it makes that it has not made before.
  const std::vector<int64_t>& seq1 = f_.expected[1];
  const size_t stop_at = FirstNewToken(seq1);
  ASSERT_LT(stop_at, seq1.size());
  SamplingParams params;
  params.max_new_tokens = 10;
  params.ignore_eos = true;
  params.stop_token_ids = {seq1[stop_at]};
  absl::StatusOr<std::vector<GenerationResult>> results =
      Generate(*f_.decoder, Requests(f_.prompts, params));
  ASSERT_TRUE(results.ok()) << results.status();
  // Sequence 0 no longer stops at EOS; sequence 1 stops at the stop token.
  EXPECT_GT((*results)[0].tokens.size(), f_.expected[0].size());
  const std::vector<int64_t> want1(seq1.begin(), seq1.begin() + stop_at + 1);
  EXPECT_EQ((*results)[1].tokens, want1);
  EXPECT_EQ((*results)[1].finish_reason, FinishReason::kStop);
}

TEST_F(GenerateTest, MinNewTokensHoldsBackTheStopTokens) {
  // Sequence 1's first new token that it has not made before is its stop
  // token; with min_new_tokens past it, that token is not chosen until then.
  const std::vector<int64_t>& seq1 = f_.expected[1];
  const size_t stop_at = FirstNewToken(seq1);
  ASSERT_LT(stop_at, seq1.size());
  SamplingParams params;
  params.max_new_tokens = 12;
  params.min_new_tokens = static_cast<int64_t>(stop_at) + 3;
  params.ignore_eos = true;
  params.stop_token_ids = {seq1[stop_at]};
  absl::StatusOr<std::vector<GenerationResult>> results =
      Generate(*f_.decoder, Requests(f_.prompts, params));
  ASSERT_TRUE(results.ok()) << results.status();
  const std::vector<int64_t>& got = (*results)[1].tokens;
  ASSERT_GE(got.size(), static_cast<size_t>(params.min_new_tokens));
  // The same tokens up to the held-back one, then something else.
  EXPECT_TRUE(std::equal(seq1.begin(), seq1.begin() + stop_at, got.begin()));
  for (int64_t i = 0; i < params.min_new_tokens; ++i) EXPECT_NE(got[i], seq1[stop_at]) << i;
}

TEST_F(GenerateTest, PrefillHookRunsOncePerLayerOnPrefillOnly) {
  std::vector<int> calls;
  std::vector<int64_t> widths;
  GenerateOptions options;
  options.prefill_hook = [&](int layer, const torch::Tensor& hidden) {
    calls.push_back(layer);
    widths.push_back(hidden.size(1));
    return hidden;
  };
  SamplingParams greedy;
  greedy.max_new_tokens = 10;
  EXPECT_EQ(Tokens(Generate(*f_.decoder, Requests(f_.prompts, greedy), options)), f_.expected);
  std::vector<int> layers;
  for (int i = 0; i < f_.golden->config().num_hidden_layers; ++i) layers.push_back(i);
  EXPECT_EQ(calls, layers);
  for (int64_t w : widths) EXPECT_EQ(w, 9);  // the longest prompt: left-padded prefill
}

TEST_F(GenerateTest, StreamingCallbackSeesEveryTokenAndCanCancel) {
  std::vector<std::vector<int64_t>> streamed(3);
  GenerateOptions options;
  options.on_token = [&](size_t seq, int64_t token) {
    streamed[seq].push_back(token);
    return !(seq == 2 && streamed[seq].size() == 2);  // cancel sequence 2 after 2 tokens
  };
  SamplingParams greedy;
  greedy.max_new_tokens = 10;
  absl::StatusOr<std::vector<GenerationResult>> results =
      Generate(*f_.decoder, Requests(f_.prompts, greedy), options);
  ASSERT_TRUE(results.ok()) << results.status();
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(streamed[i], (*results)[i].tokens);
  EXPECT_EQ((*results)[0].tokens, f_.expected[0]);
  EXPECT_EQ((*results)[1].tokens, f_.expected[1]);
  EXPECT_EQ((*results)[2].finish_reason, FinishReason::kCancelled);
  EXPECT_EQ((*results)[2].tokens,
            std::vector<int64_t>(f_.expected[2].begin(), f_.expected[2].begin() + 2));
}

TEST_F(GenerateTest, PrefixCachesAreAllOrNone) {
  SamplingParams greedy;
  greedy.max_new_tokens = 2;
  std::vector<GenerationRequest> requests = Requests(f_.prompts, greedy);
  requests[0].prefix = std::make_shared<KvCache>();
  absl::StatusOr<std::vector<GenerationResult>> results = Generate(*f_.decoder, requests);
  EXPECT_EQ(results.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(results.status().message()), HasSubstr("all or none"));
}

TEST_F(GenerateTest, InvalidRequestsAreNamed) {
  EXPECT_EQ(Generate(*f_.decoder, {}).status().code(), absl::StatusCode::kInvalidArgument);
  SamplingParams bad;
  bad.top_p = 0;
  std::vector<GenerationRequest> requests = Requests(f_.prompts, SamplingParams());
  requests[1].sampling = bad;
  absl::Status status = Generate(*f_.decoder, requests).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("request 1: top_p is 0"));
  requests = Requests({{1, 2, 384}}, SamplingParams());
  EXPECT_THAT(Generate(*f_.decoder, requests).status().message(),
              HasSubstr("request 0: prompt token id 384 is outside the vocabulary"));
  requests = Requests({{}}, SamplingParams());
  EXPECT_THAT(Generate(*f_.decoder, requests).status().message(), HasSubstr("empty prompt"));
  requests[0].prompt_embeds = torch::zeros({3, 65});
  EXPECT_THAT(Generate(*f_.decoder, requests).status().message(),
              HasSubstr("prompt_embeds must be a floating-point [T, 64]"));
}

TEST(SamplingParamsTest, Validation) {
  EXPECT_TRUE(ValidateSamplingParams(SamplingParams()).ok());
  SamplingParams p;
  p.max_new_tokens = 0;
  EXPECT_THAT(ValidateSamplingParams(p).message(), HasSubstr("max_new_tokens"));
  p = SamplingParams();
  p.temperature = -1;
  EXPECT_THAT(ValidateSamplingParams(p).message(), HasSubstr("temperature"));
  p = SamplingParams();
  p.top_k = -1;
  EXPECT_THAT(ValidateSamplingParams(p).message(), HasSubstr("top_k"));
  p = SamplingParams();
  p.top_p = 1.5;
  EXPECT_THAT(ValidateSamplingParams(p).message(), HasSubstr("top_p"));
  p = SamplingParams();
  p.repetition_penalty = 0;
  EXPECT_THAT(ValidateSamplingParams(p).message(), HasSubstr("repetition_penalty"));
  p = SamplingParams();
  p.min_new_tokens = p.max_new_tokens + 1;
  EXPECT_THAT(ValidateSamplingParams(p).message(), HasSubstr("min_new_tokens"));
  p.min_new_tokens = -1;
  EXPECT_THAT(ValidateSamplingParams(p).message(), HasSubstr("min_new_tokens"));
  p.min_new_tokens = p.max_new_tokens;
  EXPECT_TRUE(ValidateSamplingParams(p).ok());
}

// The logits processors, on hand-made numbers, against Hugging Face's rules.
TEST(TokenSamplerTest, RepetitionPenaltyDividesPositiveAndMultipliesNegative) {
  SamplingParams p;
  p.repetition_penalty = 2.0;
  torch::Tensor logits = torch::tensor({4.0, -4.0, 1.0, 3.0});
  torch::Tensor out = TokenSampler::ProcessLogits(logits, p, {0, 1, 1, 17, -1});
  EXPECT_TRUE(out.equal(torch::tensor({2.0f, -8.0f, 1.0f, 3.0f})));
  // Greedy picks from the penalised logits.
  TokenSampler sampler(p);
  EXPECT_EQ(sampler.Next(logits, {0}), 3);
  EXPECT_EQ(sampler.Next(logits, {}), 0);
}

TEST(TokenSamplerTest, TopKAndTopPKeepTheRightTokens) {
  const float inf = std::numeric_limits<float>::infinity();
  torch::Tensor logits = torch::log(torch::tensor({0.05f, 0.5f, 0.15f, 0.3f}));
  SamplingParams p;
  p.temperature = 1.0;
  p.top_k = 2;
  EXPECT_TRUE(torch::isinf(TokenSampler::ProcessLogits(logits, p, {}))
                  .equal(torch::tensor({true, false, true, false})));
  p.top_k = 0;
  p.top_p = 0.7;  // 0.5 + 0.3 reach 0.7
  torch::Tensor out = TokenSampler::ProcessLogits(logits, p, {});
  EXPECT_TRUE(torch::isinf(out).equal(torch::tensor({true, false, true, false})));
  EXPECT_EQ(out[0].item<float>(), -inf);
  p.top_p = 0.01;  // the most likely token always stays
  EXPECT_TRUE(torch::isinf(TokenSampler::ProcessLogits(logits, p, {}))
                  .equal(torch::tensor({true, false, true, true})));
  p.top_p = 1.0;
  p.temperature = 2.0;
  EXPECT_TRUE(TokenSampler::ProcessLogits(logits, p, {}).allclose(logits / 2.0));
}

TEST(TokenSamplerTest, DrawsFollowTheDistribution) {
  SamplingParams p;
  p.temperature = 1.0;
  p.seed = 5;
  TokenSampler sampler(p);
  torch::Tensor logits = torch::log(torch::tensor({0.1f, 0.6f, 0.3f}));
  std::vector<int> counts(3, 0);
  for (int i = 0; i < 3000; ++i) ++counts[sampler.Next(logits, {})];
  EXPECT_NEAR(counts[0] / 3000.0, 0.1, 0.03);
  EXPECT_NEAR(counts[1] / 3000.0, 0.6, 0.03);
  EXPECT_NEAR(counts[2] / 3000.0, 0.3, 0.03);
}

}  // namespace
}  // namespace ccs::model::transformer
