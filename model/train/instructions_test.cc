#include "model/train/instructions.h"

#include <cstdlib>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccs::model::train {
namespace {

using ::testing::HasSubstr;

class InstructionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Tokenizer>> t = LoadTokenizer(
        std::string(getenv("TEST_SRCDIR")) + "/ccs/testdata/vocab/gpt-neox-20b/tokenizer.json");
    ASSERT_TRUE(t.ok()) << t.status();
    tokenizer_ = *std::move(t);
    std::vector<std::string> filler(30, "The quick brown fox jumps over the lazy dog again.");
    WindowOptions options;
    options.length = 16;
    filler_ = *PackWindows(*tokenizer_, filler, options);
    std::vector<JsonlRecord> words;
    for (int i = 0; i < 40; ++i) {
      words.push_back({{"headword", "word" + std::to_string(i)},
                       {"pos", "noun"},
                       {"definition", "the meaning number " + std::to_string(i)}});
    }
    std::vector<JsonlRecord> verses;
    for (int i = 1; i <= 40; ++i) {
      verses.push_back({{"ref", "Genesis 1:" + std::to_string(i)},
                        {"text", "And it was verse " + std::to_string(i) + "."}});
    }
    generator_ = std::make_unique<InstructionGenerator>(tokenizer_.get(), filler_,
                                                        DictionaryFacts(words), VerseFacts(verses));
  }

  std::string Text(const std::vector<int32_t>& ids) { return *tokenizer_->Decode(ids); }

  std::unique_ptr<Tokenizer> tokenizer_;
  std::vector<std::vector<int32_t>> filler_;
  std::unique_ptr<InstructionGenerator> generator_;
};

TEST_F(InstructionsTest, PasskeyIsInsideAContextOfExactLength) {
  SplitMix64 rng(5);
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<InstructionExample> e = generator_->Make("passkey", 128, rng);
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_EQ(e->context.size(), 128u);
    EXPECT_EQ(e->question, "What is the pass key?");
    ASSERT_EQ(e->answer.size(), std::string("The pass key is 12345.").size());
    const std::string key = e->answer.substr(16, 5);
    EXPECT_THAT(Text(e->context), HasSubstr("The pass key is " + key + ". Remember it."));
  }
}

TEST_F(InstructionsTest, AskedFactLiesWhollyInTheContext) {
  SplitMix64 rng(9);
  for (const char* kind : {"dictionary", "verse"}) {
    for (int i = 0; i < 10; ++i) {
      absl::StatusOr<InstructionExample> e = generator_->Make(kind, 64, rng);
      ASSERT_TRUE(e.ok()) << e.status();
      EXPECT_EQ(e->context.size(), 64u);
      EXPECT_THAT(Text(e->context), HasSubstr(e->answer)) << kind;
    }
  }
  SplitMix64 a(3), b(3);
  EXPECT_EQ(generator_->Make("verse", 64, a)->context, generator_->Make("verse", 64, b)->context);
}

TEST_F(InstructionsTest, ImpossibleRequestsAreErrors) {
  SplitMix64 rng(1);
  EXPECT_EQ(generator_->Make("poetry", 64, rng).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(generator_->Make("verse", 8, rng).status().code(), absl::StatusCode::kInvalidArgument);
  // 40 short verses cannot fill 100k tokens.
  EXPECT_EQ(generator_->Make("verse", 100000, rng).status().code(),
            absl::StatusCode::kInvalidArgument);
  InstructionGenerator empty(tokenizer_.get(), {}, {}, {});
  EXPECT_EQ(empty.Make("passkey", 64, rng).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace ccs::model::train
