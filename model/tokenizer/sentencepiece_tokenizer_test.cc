// Checks the SentencePiece tokenizer on small models trained here with the
// library's own trainer, against the library's own processor.
#include "model/tokenizer/sentencepiece_tokenizer.h"

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/tokenizer/internal/sentencepiece_bridge.h"
#include "model/tokenizer/internal/sentencepiece_training.h"
#include "model/tokenizer/test_util.h"
#include "model/utf8.h"

namespace ccs {
namespace {

using tokenizer_internal::SentencePieceBridge;

// A small corpus: repeated English with some other scripts, so that training
// is quick and the rarest characters fall back to byte pieces.
std::vector<std::string> Corpus() {
  const std::vector<std::string> words = {
      "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "memory",
      "context", "compression", "segment", "digest", "token", "model", "reads",
      "writes", "slowly", "and", "then", "again", "café", "naïve", "Zürich"};
  std::mt19937 rng(7);
  std::vector<std::string> sentences;
  for (int i = 0; i < 400; ++i) {
    std::string s;
    const int n = 3 + rng() % 10;
    for (int w = 0; w < n; ++w) {
      if (w > 0) s += " ";
      s += words[rng() % words.size()];
    }
    s += (i % 3 == 0) ? "." : (i % 3 == 1) ? ", 1234" : "!";
    sentences.push_back(s);
  }
  sentences.push_back("Привет мир. こんにちは世界. 안녕하세요.");
  return sentences;
}

// Texts to check, with characters the model never saw (byte fallback).
const std::vector<std::string>& Texts() {
  static const auto* texts = new std::vector<std::string>{
      "the quick brown fox",
      "  two leading spaces and  inner  runs ",
      "café naïve Zürich 2024",
      "Привет, мир! \U0001F680 \U0001F636\u200d\U0001F32B\ufe0f 你好",
      "\ttabs\nand newlines\n",
      "",
  };
  return *texts;
}

struct Model {
  std::string serialized;
  std::unique_ptr<SentencePieceBridge> library;
  std::unique_ptr<Tokenizer> tokenizer;
};

// Trains a model with `flags`, loads it through a file with LoadTokenizer.
Model Train(const std::string& name, const std::string& flags) {
  Model m;
  std::string error;
  const bool trained = tokenizer_internal::TrainSentencePieceModel(
      Corpus(),
      absl::StrCat("--model_type=bpe --vocab_size=400 --byte_fallback=true "
                   "--character_coverage=0.995 --minloglevel=2 --num_threads=1 "
                   " ",
                   flags),
      &m.serialized, &error);
  EXPECT_TRUE(trained) << error;
  m.library = SentencePieceBridge::Load(m.serialized, &error);
  EXPECT_NE(m.library, nullptr) << error;
  const std::string path = testing::TempPath(absl::StrCat(name, ".model"));
  EXPECT_TRUE(testing::WriteFile(path, m.serialized).ok());
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(path);
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  if (tokenizer.ok()) m.tokenizer = *std::move(tokenizer);
  return m;
}

std::vector<int> LibraryEncode(const Model& m, const std::string& text) {
  std::vector<int> ids;
  std::string error;
  EXPECT_TRUE(m.library->Encode(text, &ids, &error)) << error;
  return ids;
}

std::string LibraryDecode(const Model& m, const std::vector<int32_t>& ids) {
  std::string text, error;
  EXPECT_TRUE(m.library->DecodeIds(std::vector<int>(ids.begin(), ids.end()), &text, &error))
      << error;
  return text;
}

// Llama-2's settings: no normalization, spaces kept, digits split.
constexpr char kLlamaFlags[] =
    "--normalization_rule_name=identity --remove_extra_whitespaces=false "
    "--split_digits=true --add_dummy_prefix=true";

class SentencePieceTest : public ::testing::TestWithParam<const char*> {};

TEST_P(SentencePieceTest, EncodesAsTheLibraryAndDecodesAsItDoes) {
  const Model m = Train("round_trip", GetParam());
  ASSERT_NE(m.tokenizer, nullptr);
  const bool identity = std::string(GetParam()) == kLlamaFlags;
  int byte_pieces = 0;
  for (const std::string& text : Texts()) {
    const std::vector<int32_t> ids = m.tokenizer->Encode(text).value();
    const std::vector<int> expected = LibraryEncode(m, text);
    EXPECT_EQ(std::vector<int>(ids.begin(), ids.end()), expected) << absl::CEscape(text);
    for (const int32_t id : ids) byte_pieces += m.library->IsByte(id);
    const std::string decoded = m.tokenizer->Decode(ids).value();
    EXPECT_EQ(decoded, LibraryDecode(m, ids)) << absl::CEscape(text);
    if (identity) {
      EXPECT_EQ(decoded, text);  // nothing normalized away
    }
  }
  EXPECT_GT(byte_pieces, 0) << "the texts should need byte fallback";
}

TEST_P(SentencePieceTest, DecodesRandomIdsAsTheLibrary) {
  // Random sequences of every kind of piece except bytes (whose invalid
  // sequences the library turns into U+FFFD), often starting with "▁" runs.
  const Model m = Train("random_ids", GetParam());
  ASSERT_NE(m.tokenizer, nullptr);
  std::vector<int32_t> pool;
  for (int id = 0; id < m.tokenizer->vocab_size(); ++id) {
    if (!m.library->IsByte(id)) pool.push_back(id);
  }
  const std::optional<int32_t> space = m.tokenizer->TokenToId("\xE2\x96\x81");
  std::mt19937 rng(11);
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<int32_t> ids;
    if (space.has_value()) ids.insert(ids.end(), rng() % 3, *space);
    const int n = rng() % 8;
    for (int i = 0; i < n; ++i) ids.push_back(pool[rng() % pool.size()]);
    EXPECT_EQ(m.tokenizer->Decode(ids).value(), LibraryDecode(m, ids))
        << "ids: " << ::testing::PrintToString(ids);
  }
}

TEST_P(SentencePieceTest, StreamsWholeCharacters) {
  const Model m = Train("stream", GetParam());
  ASSERT_NE(m.tokenizer, nullptr);
  const std::string text = Texts()[3];
  const std::vector<int32_t> ids = m.tokenizer->Encode(text).value();
  StreamingDetokenizer stream(*m.tokenizer);
  std::string joined;
  for (const int32_t id : ids) {
    const std::string chunk = stream.Add(id).value();
    EXPECT_EQ(FindInvalidUtf8(chunk), absl::string_view::npos) << absl::CEscape(chunk);
    joined += chunk;
  }
  joined += stream.Flush();
  EXPECT_EQ(joined, m.tokenizer->Decode(ids).value());
}

INSTANTIATE_TEST_SUITE_P(Flags, SentencePieceTest,
                         ::testing::Values(kLlamaFlags, "--remove_extra_whitespaces=true"));

TEST(SentencePieceTokenizerTest, SpecialTokensAndVocabulary) {
  const Model m = Train("specials", kLlamaFlags);
  ASSERT_NE(m.tokenizer, nullptr);
  const Tokenizer& t = *m.tokenizer;
  EXPECT_EQ(t.vocab_size(), 400);
  EXPECT_EQ(t.bos_id(), m.library->bos_id());
  EXPECT_EQ(t.eos_id(), m.library->eos_id());
  EXPECT_FALSE(t.pad_id().has_value());  // the trainer's default: no <pad>
  EXPECT_TRUE(t.IsSpecial(*t.bos_id()));
  EXPECT_TRUE(t.IsSpecial(m.library->unk_id()));
  EXPECT_EQ(t.TokenToId("<s>"), t.bos_id());
  EXPECT_FALSE(t.TokenToId("no such piece").has_value());
  for (int32_t id = 0; id < t.vocab_size(); ++id) {
    EXPECT_EQ(t.TokenToId(t.IdToToken(id).value()), id);
  }

  const std::vector<int32_t> plain = t.Encode("the fox").value();
  const std::vector<int32_t> framed = t.Encode("the fox", {.add_bos = true, .add_eos = true}).value();
  ASSERT_EQ(framed.size(), plain.size() + 2);
  EXPECT_EQ(framed.front(), *t.bos_id());
  EXPECT_EQ(framed.back(), *t.eos_id());
  EXPECT_EQ(t.Decode(framed).value(), "the fox");  // control tokens are invisible

  EXPECT_EQ(t.Decode({400}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(t.Encode("bad \xFF").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SentencePieceTokenizerTest, OptionsNameOtherSpecialTokens) {
  const Model m = Train("options", kLlamaFlags);
  absl::StatusOr<std::unique_ptr<Tokenizer>> t =
      ParseSentencePieceTokenizer(m.serialized, {.pad_token = "</s>"});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)->pad_id(), m.library->eos_id());
  EXPECT_EQ(ParseSentencePieceTokenizer(m.serialized, {.bos_token = "<nope>"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ccs
