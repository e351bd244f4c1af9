#include "model/train/text_windows.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccs::model::train {
namespace {

using ::testing::HasSubstr;

std::string WriteTemp(const std::string& name, const std::string& text) {
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/" + name;
  std::ofstream(path) << text;
  return path;
}

std::unique_ptr<Tokenizer> NeoxTokenizer() {
  absl::StatusOr<std::unique_ptr<Tokenizer>> t = LoadTokenizer(
      std::string(getenv("TEST_SRCDIR")) + "/ccs/testdata/vocab/gpt-neox-20b/tokenizer.json");
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *std::move(t) : nullptr;
}

TEST(ReadJsonlTest, ReadsFieldsAndNamesTheBadLine) {
  const std::string good = WriteTemp(
      "good.jsonl", "{\"id\": \"a\", \"text\": \"one\"}\n\n{\"id\": \"b\", \"text\": \"two\", \"x\": 1}\n");
  absl::StatusOr<std::vector<JsonlRecord>> records = ReadJsonl(good, {"id", "text"});
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ(Texts(*records, "text"), (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(ReadJsonl(good, {"text"}, /*max_records=*/1)->size(), 1u);

  const std::string bad = WriteTemp("bad.jsonl", "{\"text\": \"one\"}\n{\"text\": 5}\n");
  records = ReadJsonl(bad, {"text"});
  EXPECT_EQ(records.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(records.status().message()), HasSubstr("bad.jsonl:2"));
  EXPECT_EQ(ReadJsonl(WriteTemp("junk.jsonl", "{not json\n"), {"text"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadJsonl("/nonexistent.jsonl", {"text"}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(PackWindowsTest, CutsOneStreamIntoEqualWindowsReproducibly) {
  std::unique_ptr<Tokenizer> tokenizer = NeoxTokenizer();
  ASSERT_NE(tokenizer, nullptr);
  std::vector<std::string> texts;
  for (int i = 0; i < 20; ++i) {
    texts.push_back("Document " + std::to_string(i) + " says hello to the world <|endoftext|>.");
  }
  WindowOptions options;
  options.length = 7;
  options.seed = 3;
  absl::StatusOr<std::vector<std::vector<int32_t>>> windows = PackWindows(*tokenizer, texts, options);
  ASSERT_TRUE(windows.ok()) << windows.status();
  // The stream: every document's ids plus a separator between neighbours.
  EncodeOptions plain;
  plain.parse_special_tokens = false;
  size_t stream = 0;
  for (const std::string& t : texts) stream += tokenizer->Encode(t, plain)->size();
  stream += (texts.size() - 1) * tokenizer->Encode("\n\n", plain)->size();
  size_t packed = 0;
  for (const auto& w : *windows) packed += w.size();
  EXPECT_EQ(windows->size(), stream / 7) << "stream " << stream << " packed " << packed << " sep " << tokenizer->Encode("\n\n", plain)->size();
  for (const auto& w : *windows) EXPECT_EQ(w.size(), 7u);
  // Special tokens in corpus text are plain text, never the control id.
  const int32_t eot = *tokenizer->TokenToId("<|endoftext|>");
  for (const auto& w : *windows) {
    for (int32_t id : w) EXPECT_NE(id, eot);
  }
  EXPECT_EQ(*PackWindows(*tokenizer, texts, options), *windows);  // reproducible
  options.seed = 4;
  EXPECT_NE(*PackWindows(*tokenizer, texts, options), *windows);  // another order
  options.max_windows = 3;
  EXPECT_EQ(PackWindows(*tokenizer, texts, options)->size(), 3u);
  options.length = 0;
  EXPECT_EQ(PackWindows(*tokenizer, texts, options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ShortDocumentsTest, KeepsWholeShortDocumentsGroupedBySource) {
  std::unique_ptr<Tokenizer> tokenizer = NeoxTokenizer();
  ASSERT_NE(tokenizer, nullptr);
  EncodeOptions plain;
  plain.parse_special_tokens = false;
  std::vector<JsonlRecord> records;
  for (int i = 0; i < 6; ++i) {
    records.push_back({{"source", "dict"}, {"text", "word " + std::to_string(i) + ": a thing"}});
  }
  records.push_back({{"source", "verse"}, {"text", "In the beginning <|endoftext|> was"}});
  records.push_back({{"source", "long"}, {"text", std::string(400, 'x') + " and more words"}});
  records.push_back({{"source", "tiny"}, {"text", "a"}});
  absl::StatusOr<std::vector<std::vector<std::vector<int32_t>>>> kept =
      ShortDocuments(*tokenizer, records, /*min_tokens=*/2, /*max_tokens=*/12,
                     /*per_source=*/4, /*seed=*/5);
  ASSERT_TRUE(kept.ok()) << kept.status();
  // "long" is over 12 tokens and "tiny" under 2: only dict (capped) and verse.
  ASSERT_EQ(kept->size(), 2u);
  EXPECT_EQ((*kept)[0].size(), 4u);
  ASSERT_EQ((*kept)[1].size(), 1u);
  // Whole documents, special tokens as plain text.
  EXPECT_EQ((*kept)[1][0], *tokenizer->Encode("In the beginning <|endoftext|> was", plain));
  for (const auto& d : (*kept)[0]) {
    const std::string text = *tokenizer->Decode(d);
    EXPECT_EQ(text.rfind("word ", 0), 0u) << text;
  }
  EXPECT_EQ(*ShortDocuments(*tokenizer, records, 2, 12, 4, 5), *kept);  // reproducible
  EXPECT_EQ(ShortDocuments(*tokenizer, records, 0, 12, 4, 5).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ShortDocuments(*tokenizer, records, 5, 4, 4, 5).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ShuffleTest, IsAPermutationFixedBySeed) {
  std::vector<int> a(50), b;
  for (int i = 0; i < 50; ++i) a[i] = i;
  b = a;
  Shuffle(a, 9);
  Shuffle(b, 9);
  EXPECT_EQ(a, b);
  std::vector<int> identity(50);
  for (int i = 0; i < 50; ++i) identity[i] = i;
  EXPECT_NE(a, identity);  // moved
  b = identity;
  Shuffle(b, 10);
  EXPECT_NE(a, b);  // another seed, another order
  std::sort(a.begin(), a.end());
  EXPECT_EQ(a, identity);  // a permutation
}

}  // namespace
}  // namespace ccs::model::train
