#include "model/icformer/icformer_config.h"

#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccs::model::icformer {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kMinimal[] = R"({"hidden_size": 4096, "num_hidden_layers": 3,
    "num_attention_heads": 32, "intermediate_size": 11008})";

// The paper's former: hidden 4096, 3 layers, 32 heads, SwiGLU 11008, k 128.
IcFormerConfig PaperConfig() {
  absl::StatusOr<IcFormerConfig> config = ParseIcFormerConfig(kMinimal);
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

IcFormerConfig Tiny(int64_t max_chunk_len) {
  IcFormerConfig c = PaperConfig();
  c.max_chunk_len = max_chunk_len;
  return c;
}

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

TEST(IcFormerConfigTest, ReadsTheSavePretrainedConfig) {
  absl::StatusOr<IcFormerConfig> c = LoadIcFormerConfig(
      std::string(getenv("TEST_SRCDIR")) + "/ccs/model/icformer/testdata/former/config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->hidden_size, 32);
  EXPECT_EQ(c->num_hidden_layers, 3);
  EXPECT_EQ(c->num_attention_heads, 4);
  EXPECT_EQ(c->num_key_value_heads, 2);
  EXPECT_EQ(c->head_dim, 8);
  EXPECT_EQ(c->num_query_tokens, 8);
  EXPECT_EQ(c->intermediate_size, 48);
  EXPECT_EQ(c->max_chunk_len, 16);
  EXPECT_DOUBLE_EQ(c->rms_norm_eps, 1e-6);
  EXPECT_EQ(c->answer_prefix, kPublishedAnswerPrefix);
}

TEST(IcFormerConfigTest, DefaultsAreTheReleasedOnes) {
  const IcFormerConfig c = PaperConfig();
  EXPECT_EQ(c.num_key_value_heads, 32);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.num_query_tokens, 128);
  EXPECT_EQ(c.context_hidden_size, 4096);
  EXPECT_EQ(c.max_chunk_len, 512);
  EXPECT_EQ(c.hidden_act, transformer::Activation::kSilu);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.answer_prefix, "<s>[INST] Response the Prompt based on the below text:\n\n");
  EXPECT_EQ(c.answer_suffix, "[/INST]");
}

TEST(IcFormerConfigTest, TemplatesComeFromTheConfig) {
  absl::StatusOr<IcFormerConfig> c = ParseIcFormerConfig(
      R"({"hidden_size": 32, "context_hidden_size": 32, "num_hidden_layers": 1,
          "num_attention_heads": 4, "intermediate_size": 8, "answer_prefix": "<|user|>",
          "answer_suffix": "<|assistant|>"})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->answer_prefix, "<|user|>");
  EXPECT_EQ(c->answer_suffix, "<|assistant|>");
}

TEST(IcFormerConfigTest, EveryProblemIsNamedAtOnce) {
  absl::StatusOr<IcFormerConfig> c = ParseIcFormerConfig(
      R"({"model_type": "llama", "hidden_size": "big", "num_attention_heads": 4,
          "intermediate_size": 8})");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()),
              AllOf(HasSubstr("expected \"icformer\""), HasSubstr("\"hidden_size\" must be"),
                    HasSubstr("missing required key \"num_hidden_layers\"")));
  EXPECT_EQ(ParseIcFormerConfig("not json").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(IcFormerConfigTest, ContextWidthMustBeTheHiddenSize) {
  // Absent, context_hidden_size is ICFormerConfig's 4096.
  absl::StatusOr<IcFormerConfig> c = ParseIcFormerConfig(
      R"({"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 4,
          "intermediate_size": 8})");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("context_hidden_size 4096"));
}

TEST(IcFormerConfigTest, WhatTheEngineDoesNotComputeIsUnimplemented) {
  const std::string base = R"({"hidden_size": 4096, "num_hidden_layers": 3,
      "num_attention_heads": 32, "intermediate_size": 11008, )";
  for (const char* extra : {R"("rope_scaling": {"type": "linear", "factor": 2.0}})",
                            R"("cross_attention_frequency": 2})",
                            R"("attention_bias": true})", R"("hidden_act": "mish"})"}) {
    absl::StatusOr<IcFormerConfig> c = ParseIcFormerConfig(base + extra);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kUnimplemented) << extra;
  }
  EXPECT_THAT(std::string(ParseIcFormerConfig(base + R"("cross_attention_frequency": 2})")
                              .status()
                              .message()),
              HasSubstr("only 1"));
  EXPECT_TRUE(ParseIcFormerConfig(base + R"("rope_scaling": null})").ok());
}

TEST(IcFormerConfigTest, BadSizesAreRejected) {
  IcFormerConfig c = PaperConfig();
  c.num_key_value_heads = 5;
  EXPECT_EQ(ValidateIcFormerConfig(c).code(), absl::StatusCode::kInvalidArgument);
  c = PaperConfig();
  c.max_chunk_len = 0;
  EXPECT_EQ(ValidateIcFormerConfig(c).code(), absl::StatusCode::kInvalidArgument);
  c = PaperConfig();
  c.num_query_tokens = 0;
  EXPECT_EQ(ValidateIcFormerConfig(c).code(), absl::StatusCode::kInvalidArgument);
}

TEST(IcFormerChunkTest, EvenChunksAsTheReleasedCodeCutsThem) {
  std::vector<IcFormerChunk> plan = PlanChunks(50, Tiny(16));  // 4 chunks of ceil(50/4) = 13
  ASSERT_EQ(plan.size(), 4u);
  EXPECT_EQ(plan[0].length, 13);
  EXPECT_EQ(plan[3].start, 39);
  EXPECT_EQ(plan[3].length, 11);
  plan = PlanChunks(5000, Tiny(512));  // 10 chunks of 500, not 9 x 512 + 392
  ASSERT_EQ(plan.size(), 10u);
  for (const IcFormerChunk& chunk : plan) EXPECT_EQ(chunk.length, 500);
  EXPECT_TRUE(PlanChunks(0, Tiny(16)).empty());
  EXPECT_EQ(DigestCount(1, PaperConfig()), 128);
  EXPECT_EQ(DigestCount(513, PaperConfig()), 256);
}

// The chunk edges for every length up to far past L^2 (where an empty last
// chunk would first be possible if the arithmetic allowed it): chunks tile
// the context, none is empty or longer than L, there are ceil(n/L) of them,
// all but the last have the released chunk_size.
TEST(IcFormerChunkTest, ChunksTileEveryContextWithoutAnEmptyOne) {
  for (int64_t L : {1, 2, 3, 16, 512}) {
    const IcFormerConfig config = Tiny(L);
    const int64_t limit = L == 512 ? 300000 : 5000;
    const int64_t step = L == 512 ? 7 : 1;
    for (int64_t n = 1; n <= limit; n += step) {
      const std::vector<IcFormerChunk> plan = PlanChunks(n, config);
      const int64_t chunk_num = CeilDiv(n, L), chunk_size = CeilDiv(n, chunk_num);
      ASSERT_EQ(static_cast<int64_t>(plan.size()), chunk_num) << "L " << L << " n " << n;
      int64_t next = 0;
      for (size_t i = 0; i < plan.size(); ++i) {
        ASSERT_EQ(plan[i].start, next) << n;
        ASSERT_GE(plan[i].length, 1) << "L " << L << " n " << n;
        ASSERT_LE(plan[i].length, L) << n;
        if (i + 1 < plan.size()) {
          ASSERT_EQ(plan[i].length, chunk_size) << n;
        }
        next += plan[i].length;
      }
      ASSERT_EQ(next, n);
    }
  }
}

TEST(IcFormerFlopsTest, PaperFigureForOneChunkOf512) {
  // "2.62e11 FLOPs" for compressing 512 tokens into 128 digests.
  const double flops = static_cast<double>(ChunkFlops(512, PaperConfig()));
  EXPECT_NEAR(flops / 2.62e11, 1.0, 0.01) << flops;
  EXPECT_EQ(CompressionFlops(512, PaperConfig()), ChunkFlops(512, PaperConfig()));
}

// Linear cost: every chunk costs ChunkFlops(0) plus a fixed amount per
// context token, so flops(2n) - 2 flops(n) is 0 or minus one chunk's fixed
// cost (ceil(2n/L) is 2 ceil(n/L) or one less), and flops(n)/n settles.
TEST(IcFormerFlopsTest, CompressionCostIsLinearInTheContext) {
  const IcFormerConfig c = PaperConfig();
  const int64_t fixed = ChunkFlops(0, c);
  const int64_t per_token = ChunkFlops(1, c) - fixed;
  ASSERT_GT(per_token, 0);
  for (int64_t n = 1; n <= 16384; n += 37) {
    const int64_t chunks = CeilDiv(n, c.max_chunk_len);
    ASSERT_EQ(CompressionFlops(n, c), chunks * fixed + n * per_token) << n;
    const int64_t excess = CompressionFlops(2 * n, c) - 2 * CompressionFlops(n, c);
    ASSERT_TRUE(excess == 0 || excess == -fixed) << n << ": " << excess;
  }
  const double at_512 = static_cast<double>(CompressionFlops(512, c)) / 512;
  for (int64_t n = 512; n <= 16384; n += 512) {  // whole chunks: exactly proportional
    EXPECT_DOUBLE_EQ(static_cast<double>(CompressionFlops(n, c)) / n, at_512) << n;
  }
  for (int64_t n = 4096; n <= 16384; n += 101) {  // any length: within 1/8 of it
    const double per = static_cast<double>(CompressionFlops(n, c)) / n;
    EXPECT_GE(per, at_512 * 0.999) << n;
    EXPECT_LE(per, at_512 * 1.125) << n;
  }
}

TEST(IcFormerConfigTest, WrittenConfigReadsBackEqual) {
  IcFormerConfig c;
  c.hidden_size = 64;
  c.context_hidden_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 16;
  c.intermediate_size = 96;
  c.num_query_tokens = 8;
  c.max_chunk_len = 32;
  c.rms_norm_eps = 1e-5;
  c.answer_prefix = "<|im_start|>user\n\"quoted\"\n";
  c.answer_suffix = "<|im_end|>\n";
  absl::StatusOr<IcFormerConfig> back = ParseIcFormerConfig(IcFormerConfigJson(c));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->hidden_size, 64);
  EXPECT_EQ(back->num_key_value_heads, 2);
  EXPECT_EQ(back->head_dim, 16);
  EXPECT_EQ(back->intermediate_size, 96);
  EXPECT_EQ(back->num_query_tokens, 8);
  EXPECT_EQ(back->max_chunk_len, 32);
  EXPECT_DOUBLE_EQ(back->rms_norm_eps, 1e-5);
  EXPECT_EQ(back->answer_prefix, c.answer_prefix);
  EXPECT_EQ(back->answer_suffix, c.answer_suffix);
  EXPECT_TRUE(ValidateIcFormerConfig(*back).ok());
}

}  // namespace
}  // namespace ccs::model::icformer
