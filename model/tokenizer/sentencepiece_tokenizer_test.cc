// Checks the SentencePiece tokenizer, which reads tokenizer.model itself,
// against the SentencePiece library on small models trained here with the
// library's own trainer: the same ids for random texts and the same text for
// random ids.
#include "model/tokenizer/sentencepiece_tokenizer.h"

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/tokenizer/internal/sentencepiece_reference.h"
#include "model/tokenizer/test_util.h"
#include "model/utf8.h"

namespace ccs {
namespace {

using tokenizer_internal::SentencePieceReference;

const std::vector<std::string>& Words() {
  static const auto* words = new std::vector<std::string>{
      "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "memory",
      "context", "compression", "segment", "digest", "token", "model", "reads",
      "writes", "slowly", "and", "then", "again", "café", "naïve", "Zürich", "abab"};
  return *words;
}

// A small corpus, so that training takes a fraction of a second and rare
// characters are left to byte fallback.
std::vector<std::string> Corpus() {
  std::mt19937 rng(7);
  std::vector<std::string> sentences;
  for (int i = 0; i < 400; ++i) {
    std::string s;
    const int n = 3 + rng() % 10;
    for (int w = 0; w < n; ++w) {
      if (w > 0) s += " ";
      s += Words()[rng() % Words().size()];
    }
    s += (i % 3 == 0) ? "." : (i % 3 == 1) ? ", 1234" : "!";
    sentences.push_back(s);
  }
  sentences.push_back("Привет мир. こんにちは世界. 안녕하세요.");
  return sentences;
}

// Random texts: words, runs of spaces, tabs and newlines, other scripts,
// emoji, digits, the user-defined and control symbols, random characters.
std::vector<std::string> RandomTexts(int count) {
  const std::vector<std::string> others = {
      " ", "  ", "   ", "\t", "\n", " \n ", "\u00a0", "\u3000", "Привет", "你好世界",
      "\U0001F680", "\U0001F636\u200d\U0001F32B\ufe0f", "e\u0301", "12345", "3.14",
      "<tool>", "[MASK]", "<ctl>", "<s>", "</s>", "<unk>", "\xE2\x96\x81", "ab", "!", ",",
      "\u2047", "\U0010FFFF", "\x01"};
  std::mt19937 rng(13);
  std::vector<std::string> texts = {"", " ", "  ", "a", " a ", "  two  spaces  ",
                                    "the quick brown fox", "\n"};
  for (int i = 0; i < count; ++i) {
    std::string text;
    const int n = 1 + rng() % 12;
    for (int p = 0; p < n; ++p) {
      const int kind = rng() % 4;
      if (kind == 0) text += " ";
      if (kind <= 1) {
        text += Words()[rng() % Words().size()];
      } else if (kind == 2) {
        text += others[rng() % others.size()];
      } else {  // a random character from the BMP or beyond
        char32_t c;
        do {
          c = rng() % 2 ? 0x20 + rng() % 0x3000 : rng() % 0x110000;
        } while (c >= 0xD800 && c <= 0xDFFF);
        std::string utf8;
        if (c < 0x80) {
          utf8 = std::string(1, static_cast<char>(c));
        } else if (c < 0x800) {
          utf8 = {static_cast<char>(0xC0 | (c >> 6)), static_cast<char>(0x80 | (c & 0x3F))};
        } else if (c < 0x10000) {
          utf8 = {static_cast<char>(0xE0 | (c >> 12)), static_cast<char>(0x80 | ((c >> 6) & 0x3F)),
                  static_cast<char>(0x80 | (c & 0x3F))};
        } else {
          utf8 = {static_cast<char>(0xF0 | (c >> 18)), static_cast<char>(0x80 | ((c >> 12) & 0x3F)),
                  static_cast<char>(0x80 | ((c >> 6) & 0x3F)),
                  static_cast<char>(0x80 | (c & 0x3F))};
        }
        text += utf8;
      }
    }
    texts.push_back(text);
  }
  return texts;
}

struct Model {
  std::string serialized;
  std::unique_ptr<SentencePieceReference> library;
  std::unique_ptr<Tokenizer> tokenizer;
};

// Trains on Corpus(); `flags` may override --model_type and --vocab_size.
std::string Train(const std::string& flags) {
  std::string serialized, error;
  const bool trained = tokenizer_internal::TrainSentencePieceModel(
      Corpus(),
      absl::StrCat(absl::StrContains(flags, "--model_type") ? "" : "--model_type=bpe ",
                   absl::StrContains(flags, "--vocab_size") ? "" : "--vocab_size=400 ",
                   "--character_coverage=0.995 --minloglevel=2 --num_threads=1 ", flags),
      &serialized, &error);
  EXPECT_TRUE(trained) << error;
  return serialized;
}

// Trains a model with `flags` and loads it through a file with LoadTokenizer.
Model TrainAndLoad(const std::string& name, const std::string& flags) {
  Model m;
  m.serialized = Train(flags);
  std::string error;
  m.library = SentencePieceReference::Load(m.serialized, &error);
  EXPECT_NE(m.library, nullptr) << error;
  const std::string path = testing::TempPath(absl::StrCat(name, ".model"));
  EXPECT_TRUE(testing::WriteFile(path, m.serialized).ok());
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(path);
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  if (tokenizer.ok()) m.tokenizer = *std::move(tokenizer);
  return m;
}

std::vector<int32_t> LibraryEncode(const Model& m, const std::string& text) {
  std::vector<int> ids;
  std::string error;
  EXPECT_TRUE(m.library->Encode(text, &ids, &error)) << error;
  return std::vector<int32_t>(ids.begin(), ids.end());
}

std::string LibraryDecode(const Model& m, const std::vector<int32_t>& ids) {
  std::string text, error;
  EXPECT_TRUE(m.library->Decode(std::vector<int>(ids.begin(), ids.end()), &text, &error))
      << error;
  return text;
}

// Llama-2's settings: no normalization, spaces kept, digits split, bytes.
constexpr char kLlamaFlags[] =
    "--normalization_rule_name=identity --remove_extra_whitespaces=false "
    "--split_digits=true --add_dummy_prefix=true --byte_fallback=true";
// Extra white space removed, no dummy prefix, user-defined and control symbols.
constexpr char kUserSymbolFlags[] =
    "--normalization_rule_name=identity --remove_extra_whitespaces=true "
    "--add_dummy_prefix=false --byte_fallback=true "
    "--user_defined_symbols=<tool>,[MASK],ab --control_symbols=<ctl>";
// No byte fallback: unknown characters become <unk>.
constexpr char kNoByteFallbackFlags[] = "--normalization_rule_name=identity --vocab_size=250";

class SentencePieceTest : public ::testing::TestWithParam<const char*> {};

TEST_P(SentencePieceTest, EncodesAndDecodesAsTheLibrary) {
  const Model m = TrainAndLoad("round_trip", GetParam());
  ASSERT_NE(m.tokenizer, nullptr);
  const bool llama = std::string(GetParam()) == kLlamaFlags;
  int mismatches = 0, byte_pieces = 0;
  for (const std::string& text : RandomTexts(400)) {
    const std::vector<int32_t> ids = m.tokenizer->Encode(text).value();
    const std::vector<int32_t> expected = LibraryEncode(m, text);
    if (ids != expected) ++mismatches;
    EXPECT_EQ(ids, expected) << absl::CEscape(text);
    for (const int32_t id : ids) byte_pieces += m.library->IsByte(id);
    const std::string decoded = m.tokenizer->Decode(ids).value();
    EXPECT_EQ(decoded, LibraryDecode(m, ids)) << absl::CEscape(text);
    if (llama && !absl::StrContains(text, "\xE2\x96\x81")) {
      EXPECT_EQ(decoded, text);  // nothing normalized away, nothing unknown; a
                                 // literal "▁" comes back as a space
    }
  }
  EXPECT_EQ(mismatches, 0);
  if (std::string(GetParam()) != kNoByteFallbackFlags) {
    EXPECT_GT(byte_pieces, 0) << "the texts should need byte fallback";
  }
}

TEST_P(SentencePieceTest, DecodesRandomIdsAsTheLibrary) {
  // Random sequences of every kind of piece except bytes (whose invalid
  // sequences the library turns into U+FFFD), often starting with "▁" runs.
  const Model m = TrainAndLoad("random_ids", GetParam());
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
  const Model m = TrainAndLoad("stream", GetParam());
  ASSERT_NE(m.tokenizer, nullptr);
  const std::string text =
      "Привет, мир! \U0001F680 \U0001F636\u200d\U0001F32B\ufe0f 你好 the fox";
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
                         ::testing::Values(kLlamaFlags, kUserSymbolFlags, kNoByteFallbackFlags));

TEST(SentencePieceTokenizerTest, SpecialTokensAndVocabulary) {
  const Model m = TrainAndLoad("specials", kLlamaFlags);
  ASSERT_NE(m.tokenizer, nullptr);
  const Tokenizer& t = *m.tokenizer;
  EXPECT_EQ(t.vocab_size(), 400);
  EXPECT_EQ(t.bos_id(), m.library->bos_id());
  EXPECT_EQ(t.eos_id(), m.library->eos_id());
  EXPECT_EQ(m.library->pad_id(), -1);
  EXPECT_FALSE(t.pad_id().has_value());
  EXPECT_TRUE(t.IsSpecial(*t.bos_id()));
  EXPECT_TRUE(t.IsSpecial(m.library->unk_id()));
  EXPECT_EQ(t.TokenToId("<s>"), t.bos_id());
  EXPECT_FALSE(t.TokenToId("no such piece").has_value());
  for (int32_t id = 0; id < t.vocab_size(); ++id) {
    EXPECT_EQ(t.TokenToId(t.IdToToken(id).value()), id);
  }

  const std::vector<int32_t> plain = t.Encode("the fox").value();
  const std::vector<int32_t> framed =
      t.Encode("the fox", {.add_bos = true, .add_eos = true}).value();
  ASSERT_EQ(framed.size(), plain.size() + 2);
  EXPECT_EQ(framed.front(), *t.bos_id());
  EXPECT_EQ(framed.back(), *t.eos_id());
  EXPECT_EQ(t.Decode(framed).value(), "the fox");  // control tokens are invisible
  EXPECT_EQ(t.Decode(framed).value(), LibraryDecode(m, framed));

  EXPECT_EQ(t.Decode({400}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(t.Encode("bad \xFF").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SentencePieceTokenizerTest, OptionsNameOtherSpecialTokens) {
  const std::string model = Train(kLlamaFlags);
  absl::StatusOr<std::unique_ptr<Tokenizer>> t =
      ParseSentencePieceTokenizer(model, {.pad_token = "</s>"});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)->pad_id(), (*t)->eos_id());
  EXPECT_EQ(ParseSentencePieceTokenizer(model, {.bos_token = "<nope>"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SentencePieceTokenizerTest, RefusesWhatItDoesNotImplement) {
  // The trainer's default normalization (nmt_nfkc) needs its character map.
  absl::StatusOr<std::unique_ptr<Tokenizer>> nfkc =
      ParseSentencePieceTokenizer(Train("--byte_fallback=true"));
  EXPECT_EQ(nfkc.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(nfkc.status().message(), ::testing::HasSubstr("nmt_nfkc"));
  absl::StatusOr<std::unique_ptr<Tokenizer>> unigram = ParseSentencePieceTokenizer(
      Train("--normalization_rule_name=identity --model_type=unigram --vocab_size=60"));
  EXPECT_EQ(unigram.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(unigram.status().message(), ::testing::HasSubstr("unigram"));
}

TEST(SentencePieceTokenizerTest, RejectsMalformedModels) {
  const std::string model = Train(kLlamaFlags);
  EXPECT_EQ(ParseSentencePieceTokenizer("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseSentencePieceTokenizer(model.substr(0, model.size() / 2)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseSentencePieceTokenizer("{\"model\": {}}").status().code(),
            absl::StatusCode::kInvalidArgument);

  // Corrupted models load or fail cleanly, and what loads encodes safely.
  std::mt19937 rng(5);
  int loaded = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::string corrupt = model;
    for (int k = 1 + rng() % 4; k > 0; --k) corrupt[rng() % corrupt.size()] = rng() % 256;
    absl::StatusOr<std::unique_ptr<Tokenizer>> t = ParseSentencePieceTokenizer(corrupt);
    if (!t.ok()) continue;
    ++loaded;
    for (const std::string& text : {"the quick fox", "  caf\u00e9 \U0001F680 <tool>"}) {
      absl::StatusOr<std::vector<int32_t>> ids = (*t)->Encode(text);
      ASSERT_TRUE(ids.ok()) << ids.status();
      EXPECT_TRUE((*t)->Decode(*ids).ok());
    }
  }
  EXPECT_GT(loaded, 0);
}

}  // namespace
}  // namespace ccs
