#include "client/load_workload.h"

#include <array>
#include <random>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccs::client {
namespace {

using ::testing::HasSubstr;

TEST(MixTest, ParsesWeightsAndDrawsInProportion) {
  absl::StatusOr<Mix> mix = Mix::Parse("compress:1,generate:3,reconstruct:1");
  ASSERT_TRUE(mix.ok()) << mix.status();
  EXPECT_EQ(mix->ToString(), "compress:1,generate:3,reconstruct:1");
  EXPECT_TRUE(mix->NeedsSessions());
  EXPECT_EQ(mix->Draw(0.0), Operation::kCompress);
  EXPECT_EQ(mix->Draw(0.19), Operation::kCompress);
  EXPECT_EQ(mix->Draw(0.21), Operation::kGenerate);
  EXPECT_EQ(mix->Draw(0.79), Operation::kGenerate);
  EXPECT_EQ(mix->Draw(0.81), Operation::kReconstruct);
  EXPECT_EQ(mix->Draw(0.9999999), Operation::kReconstruct);
  std::mt19937_64 random(5);
  std::array<int, kOperationCount> counts{};
  for (int i = 0; i < 50000; ++i) ++counts[static_cast<int>(mix->Draw(UnitRandom(random)))];
  EXPECT_NEAR(counts[1] / 50000.0, 0.6, 0.02);
  EXPECT_NEAR(counts[0] / 50000.0, 0.2, 0.02);
}

TEST(MixTest, LeftOutOperationsAreNeverDrawn) {
  absl::StatusOr<Mix> mix = Mix::Parse("compress:2");
  ASSERT_TRUE(mix.ok());
  EXPECT_FALSE(mix->NeedsSessions());
  for (double u : {0.0, 0.5, 0.9999999}) EXPECT_EQ(mix->Draw(u), Operation::kCompress);
  mix = Mix::Parse("generate:1,reconstruct:0");
  ASSERT_TRUE(mix.ok());
  for (double u : {0.0, 0.5, 0.9999999}) EXPECT_EQ(mix->Draw(u), Operation::kGenerate);
}

TEST(MixTest, RejectsWhatItCannotUse) {
  for (const char* bad : {"", "compress", "compress:x", "compress:-1", "fly:1",
                          "compress:0", "compress:1,compress:2"}) {
    absl::StatusOr<Mix> mix = Mix::Parse(bad);
    EXPECT_EQ(mix.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_THAT(Mix::Parse("fly:1").status().message(), HasSubstr("compress, generate"));
}

TEST(SizeRangeTest, ParsesRangesAndSingleValues) {
  absl::StatusOr<SizeRange> range = SizeRange::Parse("32:128");
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(range->min, 32);
  EXPECT_EQ(range->max, 128);
  std::mt19937_64 random(1);
  for (int i = 0; i < 1000; ++i) {
    const int64_t size = range->Draw(random);
    EXPECT_GE(size, 32);
    EXPECT_LE(size, 128);
  }
  range = SizeRange::Parse("500");
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(range->min, 500);
  EXPECT_EQ(range->max, 500);
  for (const char* bad : {"", "0:5", "9:3", "a:b", "-1"}) {
    EXPECT_FALSE(SizeRange::Parse(bad).ok()) << bad;
  }
}

bool EndsOnACharacterBoundary(const std::string& text) {
  // The last character's lead byte announces its length.
  size_t start = text.size();
  while (start > 0 && (static_cast<unsigned char>(text[start - 1]) & 0xC0) == 0x80) --start;
  if (start == 0) return text.empty();
  const unsigned char lead = static_cast<unsigned char>(text[start - 1]);
  const size_t length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
  return text.size() - (start - 1) == length;
}

TEST(ContextSourceTest, CorpusSlicesHaveTheSizeAndWholeCharacters) {
  std::string corpus;
  for (int i = 0; i < 200; ++i) corpus += "Caf\xC3\xA9 na\xC3\xAFve \xE2\x82\xAC" "5 line " + std::to_string(i) + ".\n";
  absl::StatusOr<ContextSource> source = ContextSource::FromCorpus(corpus);
  ASSERT_TRUE(source.ok());
  std::mt19937_64 random(9);
  for (int64_t bytes : {1, 2, 3, 50, 999, 20000}) {  // 20000 > corpus: wraps
    for (int i = 0; i < 20; ++i) {
      const std::string text = source->Draw(bytes, random);
      EXPECT_LE(static_cast<int64_t>(text.size()), bytes);
      EXPECT_GE(static_cast<int64_t>(text.size()), bytes - 3);
      EXPECT_TRUE(EndsOnACharacterBoundary(text)) << text;
      if (!text.empty()) {
        EXPECT_NE(static_cast<unsigned char>(text[0]) & 0xC0, 0x80);
      }
    }
  }
  EXPECT_FALSE(ContextSource::FromCorpus("").ok());
}

TEST(ContextSourceTest, GeneratedTextIsRepeatableBySeed) {
  const ContextSource source = ContextSource::Generated();
  std::mt19937_64 a(42);
  std::mt19937_64 b(42);
  const std::string first = source.Draw(3000, a);
  EXPECT_EQ(first.size(), 3000u);
  EXPECT_EQ(first, source.Draw(3000, b));
  EXPECT_NE(first, source.Draw(3000, a));
  EXPECT_THAT(first, HasSubstr(". "));
}

}  // namespace
}  // namespace ccs::client
