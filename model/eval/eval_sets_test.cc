// The evaluation data: exact lengths, the key sentence where it says, the
// same sets from the same seed, QA items from consecutive records.
#include "model/eval/eval_sets.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace ccs::model::eval {
namespace {

std::unique_ptr<Tokenizer> NeoxTokenizer() {
  absl::StatusOr<std::unique_ptr<Tokenizer>> t = LoadTokenizer(
      std::string(getenv("TEST_SRCDIR")) + "/ccs/testdata/vocab/gpt-neox-20b/tokenizer.json");
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *std::move(t) : nullptr;
}

const std::vector<std::string> kTexts = {
    "The first document is about rivers and the sea.",
    "The second document is about mountains, which are tall.",
    "A third one, short."};

TEST(EvalSetsTest, PasskeyContextHasTheLengthAndTheKey) {
  std::unique_ptr<Tokenizer> tokenizer = NeoxTokenizer();
  ASSERT_NE(tokenizer, nullptr);
  absl::StatusOr<TokenStream> stream = TokenStream::Make(*tokenizer, kTexts, 5);
  ASSERT_TRUE(stream.ok()) << stream.status();
  for (int64_t length : {40, 100, 1000}) {
    train::SplitMix64 rng(length);
    absl::StatusOr<PasskeyCase> c = MakePasskeyCase(*tokenizer, *stream, length, &rng);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(static_cast<int64_t>(c->context.size()), length);
    ASSERT_EQ(c->key.size(), 5u);
    const std::string text = *tokenizer->Decode(c->context);
    EXPECT_NE(text.find("The pass key is " + c->key + ". Remember it. " + c->key +
                        " is the pass key."),
              std::string::npos)
        << text;
    EXPECT_GE(c->depth, 0.0);
    EXPECT_LT(c->depth, 1.0);
  }
  train::SplitMix64 rng(1);
  EXPECT_EQ(MakePasskeyCase(*tokenizer, *stream, 5, &rng).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(EvalSetsTest, SameSeedSameData) {
  std::unique_ptr<Tokenizer> tokenizer = NeoxTokenizer();
  ASSERT_NE(tokenizer, nullptr);
  absl::StatusOr<TokenStream> a = TokenStream::Make(*tokenizer, kTexts, 9);
  absl::StatusOr<TokenStream> b = TokenStream::Make(*tokenizer, kTexts, 9);
  ASSERT_TRUE(a.ok() && b.ok());
  train::SplitMix64 rng_a(3), rng_b(3);
  EXPECT_EQ(a->Window(64, &rng_a), b->Window(64, &rng_b));  // longer than the stream: wraps
  EXPECT_EQ(a->Window(64, &rng_a).size(), 64u);
}

TEST(EvalSetsTest, QaItemsAskAboutOneOfTheirLines) {
  std::vector<train::JsonlRecord> verses;
  for (int i = 1; i <= 6; ++i) {
    verses.push_back({{"ref", "Book 1:" + std::to_string(i)}, {"text", "verse " + std::to_string(i)}});
  }
  const std::vector<QaItem> items = MakeVerseQa(verses, 5, 3, 11);
  ASSERT_EQ(items.size(), 5u);
  for (const QaItem& item : items) {
    // "What does Book 1:N say?" about a line "Book 1:N verse N" of the context.
    const std::string ref = item.question.substr(10, item.question.size() - 15);
    EXPECT_NE(item.context.find(ref + " " + item.answer), std::string::npos) << item.question;
    EXPECT_EQ(std::count(item.context.begin(), item.context.end(), '\n'), 2);
  }
  EXPECT_TRUE(MakeVerseQa(verses, 5, 7, 11).empty());  // fewer records than a context needs
  const std::vector<QaItem> words = MakeDictionaryQa(
      {{{"headword", "cat"}, {"pos", "noun"}, {"definition", "a feline"}}}, 1, 1, 2);
  ASSERT_EQ(words.size(), 1u);
  EXPECT_EQ(words[0].context, "cat (noun): a feline");
  EXPECT_EQ(words[0].question, "What is the definition of \"cat\"?");
  EXPECT_EQ(words[0].answer, "a feline");
}

}  // namespace
}  // namespace ccs::model::eval
