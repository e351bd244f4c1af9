// The expected splits were produced by Hugging Face tokenizers 0.22.1
// (pre_tokenizers.ByteLevel(add_prefix_space=False).pre_tokenize_str and
// pre_tokenizers.Digits), mapped back to the original text by their offsets.
#include "model/tokenizer/internal/pre_tokenizer.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/tokenizer/internal/unicode_classes.h"

namespace ccs {
namespace tokenizer_internal {
namespace {

using ::testing::ElementsAreArray;

std::vector<std::string> Gpt2(const std::string& text) {
  std::vector<absl::string_view> pieces;
  SplitGpt2(text, &pieces);
  return std::vector<std::string>(pieces.begin(), pieces.end());
}

std::vector<std::string> Digits(const std::string& text, bool individual) {
  std::vector<absl::string_view> pieces;
  SplitDigits(text, individual, &pieces);
  return std::vector<std::string>(pieces.begin(), pieces.end());
}

struct SplitCase {
  std::string text;
  std::vector<std::string> pieces;
};

TEST(SplitGpt2Test, MatchesHuggingFace) {
  const std::vector<SplitCase> cases = {
      {"Hello world", {"Hello", " world"}},
      {"  a", {" ", " a"}},                 // \s+(?!\S) leaves the last space
      {"a  ", {"a", "  "}},                 // at the end the run stays whole
      {"a   b", {"a", "  ", " b"}},
      {"\t a", {"\t", " a"}},
      {"x\na", {"x", "\n", "a"}},           // a lone \s before a letter: \s+
      {" \t x", {" \t", " x"}},
      {"it's", {"it", "'s"}},
      {"IT'S", {"IT", "'", "S"}},           // contractions are case-sensitive
      {"'sa", {"'s", "a"}},
      {" 's", {" '", "s"}},
      {"!'s", {"!'", "s"}},
      {"we'll've", {"we", "'ll", "'ve"}},
      {"abc123def", {"abc", "123", "def"}},
      {" 123", {" 123"}},
      {"a\u00a0\u00a0b", {"a", "\u00a0", "\u00a0", "b"}},  // only U+0020 is " ?"
      {"\u3000x", {"\u3000", "x"}},
      {"e\u0301t\u00e9", {"e", "\u0301", "t\u00e9"}},     // a mark is not \p{L}
      {"\U0001F600\U0001F600 x", {"\U0001F600\U0001F600", " x"}},
      {"\u00bd\u00b2", {"\u00bd\u00b2"}},                 // \p{N} beyond Nd
      {"3.14", {"3", ".", "14"}},
      {"\u0660\u0661", {"\u0660\u0661"}},
      {"x\r\n\r\ny", {"x", "\r\n\r", "\n", "y"}},
  };
  for (const SplitCase& c : cases) {
    EXPECT_THAT(Gpt2(c.text), ElementsAreArray(c.pieces)) << "text: " << c.text;
  }
}

TEST(SplitGpt2Test, EmptyTextHasNoPieces) { EXPECT_TRUE(Gpt2("").empty()); }

TEST(SplitDigitsTest, MatchesHuggingFace) {
  EXPECT_THAT(Digits("abc123def", true), ElementsAreArray({"abc", "1", "2", "3", "def"}));
  EXPECT_THAT(Digits("abc123def", false), ElementsAreArray({"abc", "123", "def"}));
  EXPECT_THAT(Digits("x\u00bd\u00b2y", true), ElementsAreArray({"x", "\u00bd", "\u00b2", "y"}));
  EXPECT_THAT(Digits("x\u00bd\u00b2y", false), ElementsAreArray({"x", "\u00bd\u00b2", "y"}));
  EXPECT_THAT(Digits("12 34", true), ElementsAreArray({"1", "2", " ", "3", "4"}));
  EXPECT_THAT(Digits("12 34", false), ElementsAreArray({"12", " ", "34"}));
}

TEST(PreTokenizerTest, SequenceAddsPrefixSpaceToEveryPiece) {
  PreTokenizer::Step digits;
  digits.kind = PreTokenizer::Kind::kDigits;
  digits.individual_digits = false;
  PreTokenizer::Step byte_level;
  byte_level.add_prefix_space = true;
  const PreTokenizer pre_tokenizer({digits, byte_level});
  PreTokenizer::Buffer buffer;
  std::vector<absl::string_view> pieces;
  pre_tokenizer.Split("ab12 cd", &buffer, &pieces);
  EXPECT_THAT(std::vector<std::string>(pieces.begin(), pieces.end()),
              ElementsAreArray({" ab", " 12", " cd"}));
}

TEST(UnicodeClassesTest, KnownCodePoints) {
  EXPECT_EQ(ClassOf('a'), CharClass::kLetter);
  EXPECT_EQ(ClassOf('7'), CharClass::kNumber);
  EXPECT_EQ(ClassOf(' '), CharClass::kSpace);
  EXPECT_EQ(ClassOf('\''), CharClass::kOther);
  EXPECT_EQ(ClassOf(0x1C), CharClass::kOther);     // not \s for Oniguruma
  EXPECT_EQ(ClassOf(0x85), CharClass::kSpace);
  EXPECT_EQ(ClassOf(0x180E), CharClass::kOther);   // no longer Zs
  EXPECT_EQ(ClassOf(0x4E00), CharClass::kLetter);
  EXPECT_EQ(ClassOf(0x1CCF0), CharClass::kNumber);  // Unicode 16 digits
  EXPECT_EQ(ClassOf(0x10FFFF), CharClass::kOther);
  EXPECT_EQ(ClassOf(0x110000), CharClass::kOther);
}

}  // namespace
}  // namespace tokenizer_internal
}  // namespace ccs
