#include "model/transformer/config.h"

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccs::model::transformer {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string FixturePath(const std::string& file) {
  const char* root = std::getenv("TEST_SRCDIR");
  return absl::StrCat(root != nullptr ? root : ".", "/ccs/model/transformer/testdata/", file);
}

// Pythia-1.4b's config.json as published (EleutherAI/pythia-1.4b).
constexpr char kPythia[] = R"({
  "architectures": ["GPTNeoXForCausalLM"], "bos_token_id": 0, "eos_token_id": 0,
  "hidden_act": "gelu", "hidden_size": 2048, "initializer_range": 0.02,
  "intermediate_size": 8192, "layer_norm_eps": 1e-05, "max_position_embeddings": 2048,
  "model_type": "gpt_neox", "num_attention_heads": 16, "num_hidden_layers": 24,
  "rotary_emb_base": 10000, "rotary_pct": 0.25, "tie_word_embeddings": false,
  "torch_dtype": "float16", "transformers_version": "4.24.0", "use_cache": true,
  "use_parallel_residual": true, "vocab_size": 50304})";

// A SmolLM2-135M-style Llama config.
constexpr char kSmolLm[] = R"({
  "architectures": ["LlamaForCausalLM"], "attention_bias": false, "bos_token_id": 1,
  "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 576, "intermediate_size": 1536,
  "max_position_embeddings": 8192, "mlp_bias": false, "model_type": "llama",
  "num_attention_heads": 9, "num_hidden_layers": 30, "num_key_value_heads": 3,
  "pad_token_id": 2, "rms_norm_eps": 1e-05, "rope_scaling": null, "rope_theta": 100000,
  "tie_word_embeddings": true, "vocab_size": 49152})";

TEST(ParseDecoderConfigTest, Pythia) {
  absl::StatusOr<DecoderConfig> c = ParseDecoderConfig(kPythia);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->architecture, Architecture::kGptNeox);
  EXPECT_EQ(c->hidden_size, 2048);
  EXPECT_EQ(c->num_hidden_layers, 24);
  EXPECT_EQ(c->num_attention_heads, 16);
  EXPECT_EQ(c->num_key_value_heads, 16);
  EXPECT_EQ(c->head_dim, 128);
  EXPECT_EQ(c->rotary_ndims, 32);
  EXPECT_DOUBLE_EQ(c->rope_theta, 10000);
  EXPECT_TRUE(c->use_parallel_residual);
  EXPECT_DOUBLE_EQ(c->norm_eps, 1e-5);
  EXPECT_FALSE(c->tie_word_embeddings);
  EXPECT_EQ(c->hidden_act, Activation::kGelu);
  EXPECT_TRUE(c->attention_bias);  // GPT-NeoX default
  EXPECT_TRUE(c->mlp_bias);
  EXPECT_EQ(c->bos_token_id, 0);
  EXPECT_THAT(c->eos_token_ids, ElementsAre(0));
  EXPECT_FALSE(c->pad_token_id.has_value());
}

TEST(ParseDecoderConfigTest, SmolLmStyleLlama) {
  absl::StatusOr<DecoderConfig> c = ParseDecoderConfig(kSmolLm);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->architecture, Architecture::kLlama);
  EXPECT_EQ(c->num_key_value_heads, 3);
  EXPECT_EQ(c->head_dim, 64);
  EXPECT_EQ(c->rotary_ndims, 64);
  EXPECT_DOUBLE_EQ(c->rotary_pct, 1.0);
  EXPECT_DOUBLE_EQ(c->rope_theta, 100000);
  EXPECT_DOUBLE_EQ(c->norm_eps, 1e-5);
  EXPECT_TRUE(c->tie_word_embeddings);
  EXPECT_FALSE(c->use_parallel_residual);
  EXPECT_EQ(c->hidden_act, Activation::kSilu);
  EXPECT_FALSE(c->attention_bias);
  EXPECT_FALSE(c->mlp_bias);
  EXPECT_EQ(c->pad_token_id, 2);
  EXPECT_EQ(c->max_position_embeddings, 8192);
}

TEST(ParseDecoderConfigTest, HuggingFaceDefaultsForAbsentKeys) {
  absl::StatusOr<DecoderConfig> neox = ParseDecoderConfig(
      R"({"model_type": "gpt_neox", "hidden_size": 64, "num_hidden_layers": 2,
          "num_attention_heads": 4, "intermediate_size": 256, "vocab_size": 100})");
  ASSERT_TRUE(neox.ok()) << neox.status();
  EXPECT_DOUBLE_EQ(neox->rotary_pct, 0.25);
  EXPECT_EQ(neox->rotary_ndims, 4);
  EXPECT_TRUE(neox->use_parallel_residual);
  EXPECT_EQ(neox->bos_token_id, 0);
  EXPECT_THAT(neox->eos_token_ids, ElementsAre(2));
  absl::StatusOr<DecoderConfig> llama = ParseDecoderConfig(
      R"({"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
          "num_attention_heads": 4, "intermediate_size": 256, "vocab_size": 100,
          "eos_token_id": [2, 7], "bos_token_id": null})");
  ASSERT_TRUE(llama.ok()) << llama.status();
  EXPECT_EQ(llama->num_key_value_heads, 4);
  EXPECT_DOUBLE_EQ(llama->norm_eps, 1e-6);
  EXPECT_EQ(llama->hidden_act, Activation::kSilu);
  EXPECT_THAT(llama->eos_token_ids, ElementsAre(2, 7));
  EXPECT_FALSE(llama->bos_token_id.has_value());
}

// Hugging Face's GPTNeoXConfig uses rotary_emb_base and rotary_pct, whatever
// rope_theta or partial_rotary_factor say.
TEST(ParseDecoderConfigTest, NeoxRotaryKeysWin) {
  absl::StatusOr<DecoderConfig> c = ParseDecoderConfig(
      R"({"model_type": "gpt_neox", "hidden_size": 64, "num_hidden_layers": 2,
          "num_attention_heads": 4, "intermediate_size": 256, "vocab_size": 100,
          "rotary_emb_base": 500, "rope_theta": 9, "rotary_pct": 0.5,
          "partial_rotary_factor": 0.25})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_DOUBLE_EQ(c->rope_theta, 500);
  EXPECT_EQ(c->rotary_ndims, 8);
}

// The configs Hugging Face itself wrote for the golden fixtures.
TEST(LoadDecoderConfigTest, ReadsHuggingFaceWrittenConfigs) {
  absl::StatusOr<DecoderConfig> neox =
      LoadDecoderConfig(FixturePath("neox_full_serial.config.json"));
  ASSERT_TRUE(neox.ok()) << neox.status();
  EXPECT_EQ(neox->num_hidden_layers, 3);
  EXPECT_EQ(neox->rotary_ndims, 16);
  EXPECT_DOUBLE_EQ(neox->rope_theta, 500);
  EXPECT_FALSE(neox->use_parallel_residual);
  EXPECT_FALSE(neox->attention_bias);
  absl::StatusOr<DecoderConfig> llama =
      LoadDecoderConfig(FixturePath("llama_mqa_tied.config.json"));
  ASSERT_TRUE(llama.ok()) << llama.status();
  EXPECT_EQ(llama->num_key_value_heads, 1);
  EXPECT_EQ(llama->head_dim, 32);  // set apart from hidden / heads = 16
  EXPECT_TRUE(llama->tie_word_embeddings);
  EXPECT_TRUE(llama->attention_bias);
  EXPECT_TRUE(llama->mlp_bias);
  EXPECT_EQ(llama->eos_token_ids.size(), 1u);
}

TEST(LoadDecoderConfigTest, MissingFileIsNotFound) {
  absl::StatusOr<DecoderConfig> c = LoadDecoderConfig("/nonexistent/config.json");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(c.status().message(), HasSubstr("/nonexistent/config.json"));
}

struct BadConfig {
  const char* json;
  absl::StatusCode code;
  const char* says;
};

class BadConfigTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(BadConfigTest, RejectedWithClearStatus) {
  absl::StatusOr<DecoderConfig> c = ParseDecoderConfig(GetParam().json);
  EXPECT_EQ(c.status().code(), GetParam().code) << c.status();
  EXPECT_THAT(c.status().message(), HasSubstr(GetParam().says));
}

#define SIZES \
  R"("hidden_size": 64, "num_hidden_layers": 2, "intermediate_size": 256, "vocab_size": 100)"

INSTANTIATE_TEST_SUITE_P(
    Cases, BadConfigTest,
    ::testing::Values(
        BadConfig{"not json", absl::StatusCode::kInvalidArgument, "not a JSON object"},
        BadConfig{"[1, 2]", absl::StatusCode::kInvalidArgument, "not a JSON object"},
        BadConfig{R"({"model_type": "gpt2"})", absl::StatusCode::kUnimplemented,
                  "model_type \"gpt2\""},
        BadConfig{R"({"model_type": "llama", "num_attention_heads": 4})",
                  absl::StatusCode::kInvalidArgument, "missing required key \"hidden_size\""},
        BadConfig{R"({"model_type": "llama", "num_attention_heads": 4, )" SIZES
                  R"(, "vocab_size": "big"})",
                  absl::StatusCode::kInvalidArgument, "\"vocab_size\" must be an integer"},
        BadConfig{R"({"model_type": "gpt_neox", "num_attention_heads": 5, )" SIZES "}",
                  absl::StatusCode::kInvalidArgument,
                  "hidden_size 64 is not divisible by num_attention_heads 5"},
        BadConfig{R"({"model_type": "llama", "num_attention_heads": 5, )" SIZES "}",
                  absl::StatusCode::kInvalidArgument,
                  "hidden_size 64 is not divisible by num_attention_heads 5"},
        BadConfig{R"({"model_type": "llama", "num_attention_heads": 4,
                      "num_key_value_heads": 3, )" SIZES "}",
                  absl::StatusCode::kInvalidArgument,
                  "num_attention_heads 4 is not divisible by num_key_value_heads 3"},
        BadConfig{R"({"model_type": "llama", "num_attention_heads": 4,
                      "rope_scaling": {"rope_type": "linear", "factor": 2.0}, )" SIZES "}",
                  absl::StatusCode::kUnimplemented, "rope_scaling type \"linear\""},
        BadConfig{R"({"model_type": "llama", "num_attention_heads": 4,
                      "rope_scaling": {"type": "dynamic", "factor": 2.0}, )" SIZES "}",
                  absl::StatusCode::kUnimplemented, "rope_scaling type \"dynamic\""},
        BadConfig{R"({"model_type": "llama", "num_attention_heads": 4,
                      "hidden_act": "quick_gelu", )" SIZES "}",
                  absl::StatusCode::kUnimplemented, "hidden_act \"quick_gelu\""},
        BadConfig{R"({"model_type": "gpt_neox", "num_attention_heads": 4,
                      "rotary_pct": 0.1, )" SIZES "}",
                  absl::StatusCode::kInvalidArgument, "must be even and > 0"},
        BadConfig{R"({"model_type": "gpt_neox", "num_attention_heads": 4,
                      "rotary_pct": 1.5, )" SIZES "}",
                  absl::StatusCode::kInvalidArgument, "rotary_pct is 1.5"},
        BadConfig{R"({"model_type": "llama", "num_attention_heads": 0, )" SIZES "}",
                  absl::StatusCode::kInvalidArgument, "num_attention_heads is 0"},
        BadConfig{R"({"model_type": "llama", "num_attention_heads": 4,
                      "eos_token_id": 100, )" SIZES "}",
                  absl::StatusCode::kInvalidArgument,
                  "eos_token_id 100 is outside the vocabulary [0, 100)"}));

TEST(ValidateDecoderConfigTest, CatchesHandEditedConfigs) {
  absl::StatusOr<DecoderConfig> c = ParseDecoderConfig(kSmolLm);
  ASSERT_TRUE(c.ok());
  DecoderConfig edited = *c;
  edited.num_key_value_heads = 4;
  EXPECT_THAT(ValidateDecoderConfig(edited).message(),
              HasSubstr("num_attention_heads 9 is not divisible by num_key_value_heads 4"));
  edited = *c;
  edited.norm_eps = 0;
  EXPECT_EQ(ValidateDecoderConfig(edited).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ValidateDecoderConfig(*c).ok());
}

}  // namespace
}  // namespace ccs::model::transformer
