#include "model/rcc/rcc_config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccs::model::rcc {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(PlanSegmentsTest, EdgesOfTheReleasedGeometry) {
  const RccConfig c;  // r = 32, W = 2048
  const int64_t r = 32, W = 2048;
  struct Edge {
    int64_t tokens, segments, slots;
  };
  for (const Edge& e : std::vector<Edge>{{1, 1, 1},
                                         {r - 1, 1, 1},
                                         {r, 1, 1},
                                         {r + 1, 1, 2},
                                         {W - 1, 1, 64},
                                         {W, 1, 64},
                                         {W + 1, 2, 65},
                                         {2 * W, 2, 128},
                                         {2 * W + 1, 3, 129}}) {
    const std::vector<RccSegment> plan = PlanSegments(e.tokens, c);
    EXPECT_EQ(static_cast<int64_t>(plan.size()), e.segments) << e.tokens;
    int64_t slots = 0, covered = 0;
    for (const RccSegment& s : plan) {
      EXPECT_EQ(s.start, covered) << e.tokens;  // contiguous, in order
      EXPECT_LE(s.length, W);
      ASSERT_FALSE(s.slot_positions.empty());
      // Every token of the segment is at or before its last slot.
      EXPECT_EQ(s.slot_positions.back(), s.length - 1) << e.tokens;
      for (size_t j = 0; j + 1 < s.slot_positions.size(); ++j) {
        EXPECT_EQ(s.slot_positions[j], static_cast<int64_t>(j) * r + r - 1);
      }
      slots += static_cast<int64_t>(s.slot_positions.size());
      covered += s.length;
    }
    EXPECT_EQ(covered, e.tokens);
    EXPECT_EQ(slots, e.slots) << e.tokens;
    EXPECT_EQ(SlotCount(e.tokens, c), e.slots) << e.tokens;
  }
}

TEST(PlanSegmentsTest, SmallGeometry) {
  RccConfig c;
  c.compression_ratio = 4;
  c.segment_tokens = 8;
  const std::vector<RccSegment> plan = PlanSegments(11, c);
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_THAT(plan[0].slot_positions, ElementsAre(3, 7));
  EXPECT_EQ(plan[1].start, 8);
  EXPECT_THAT(plan[1].slot_positions, ElementsAre(2));
}

TEST(ParseRccConfigTest, ReadsEveryKeyAndDefaultsTheRest) {
  absl::StatusOr<RccConfig> c = ParseRccConfig(
      R"({"compression_ratio": 4, "segment_tokens": 16, "placeholder_token_id": 0,
          "storage_dtype": "float32", "base_prefix": "model.",
          "encoder_config": {"model_type": "llama"}})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->compression_ratio, 4);
  EXPECT_EQ(c->segment_tokens, 16);
  EXPECT_EQ(c->placeholder_token_id, 0);
  EXPECT_EQ(c->storage_dtype, "float32");
  EXPECT_EQ(c->base_prefix, "model.");
  EXPECT_THAT(c->encoder_config_json, HasSubstr("llama"));
  absl::StatusOr<RccConfig> defaults = ParseRccConfig("{}");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->compression_ratio, 32);
  EXPECT_EQ(defaults->segment_tokens, 2048);
  EXPECT_FALSE(defaults->encoder_shares_decoder_weights);
  absl::StatusOr<RccConfig> shared = ParseRccConfig(R"({"encoder_shares_decoder_weights": true})");
  ASSERT_TRUE(shared.ok()) << shared.status();
  EXPECT_TRUE(shared->encoder_shares_decoder_weights);
  absl::StatusOr<RccConfig> own_layers = ParseRccConfig(
      R"({"encoder_shares_decoder_embedding": true, "encoder_layers": 5})");
  ASSERT_TRUE(own_layers.ok()) << own_layers.status();
  EXPECT_TRUE(own_layers->encoder_shares_decoder_embedding);
  EXPECT_EQ(own_layers->encoder_layers, 5);
  EXPECT_FALSE(defaults->encoder_shares_decoder_embedding);
  EXPECT_EQ(defaults->encoder_layers, 0);
}

TEST(RccConfigJsonTest, ParsesBackToTheSameConfig) {
  RccConfig shared;
  shared.compression_ratio = 4;
  shared.segment_tokens = 128;
  shared.placeholder_token_id = 2;
  shared.storage_dtype = "float32";
  shared.base_prefix = "model.";
  shared.encoder_shares_decoder_weights = true;
  RccConfig separate;  // the released defaults, with an encoder config of its own
  separate.encoder_config_json = R"({"model_type":"gpt_neox","num_hidden_layers":2})";
  RccConfig own_layers;  // the project's trained RCC: the decoder's embedding, 5 layers
  own_layers.encoder_shares_decoder_embedding = true;
  own_layers.encoder_layers = 5;
  for (const RccConfig& config : {shared, separate, own_layers}) {
    absl::StatusOr<RccConfig> back = ParseRccConfig(RccConfigJson(config));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->compression_ratio, config.compression_ratio);
    EXPECT_EQ(back->segment_tokens, config.segment_tokens);
    EXPECT_EQ(back->placeholder_token_id, config.placeholder_token_id);
    EXPECT_EQ(back->storage_dtype, config.storage_dtype);
    EXPECT_EQ(back->base_prefix, config.base_prefix);
    EXPECT_EQ(back->encoder_config_json, config.encoder_config_json);
    EXPECT_EQ(back->encoder_shares_decoder_weights, config.encoder_shares_decoder_weights);
    EXPECT_EQ(back->encoder_shares_decoder_embedding, config.encoder_shares_decoder_embedding);
    EXPECT_EQ(back->encoder_layers, config.encoder_layers);
  }
}

TEST(ParseRccConfigTest, RejectsBadValuesWithReasons) {
  for (const auto& [json, fragment] : std::vector<std::pair<std::string, std::string>>{
           {"[1]", "not a JSON object"},
           {"{", "not a JSON object"},
           {R"({"compression_ratio": 0})", "at least 1"},
           {R"({"compression_ratio": "32"})", "must be an integer"},
           {R"({"segment_tokens": 100})", "multiple of compression_ratio"},
           {R"({"storage_dtype": "int8"})", "bfloat16 or float32"},
           {R"({"base_prefix": "transformer."})", "gpt_neox."},
           {R"({"encoder_config": 3})", "must be an object"},
           {R"({"encoder_shares_decoder_weights": 1})", "must be true or false"},
           {R"({"encoder_shares_decoder_weights": true, "encoder_config": {}})",
            "remove encoder_config"},
           {R"({"encoder_shares_decoder_embedding": true})", "needs encoder_layers >= 1"},
           {R"({"encoder_shares_decoder_embedding": true, "encoder_layers": 2,
                "encoder_shares_decoder_weights": true})",
            "excludes encoder_shares_decoder_weights"},
           {R"({"encoder_shares_decoder_embedding": true, "encoder_layers": 2,
                "encoder_config": {}})",
            "excludes encoder_shares_decoder_weights and encoder_config"},
           {R"({"encoder_layers": 2})", "read only with encoder_shares_decoder_embedding"}}) {
    absl::StatusOr<RccConfig> c = ParseRccConfig(json);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << json;
    EXPECT_THAT(std::string(c.status().message()), HasSubstr(fragment)) << json;
  }
}

}  // namespace
}  // namespace ccs::model::rcc
