// Checks the Tokenizer interface's shared behaviour on the GPT-NeoX
// tokenizer: choosing the file, UTF-8 validation, and streaming decoding.
#include "model/tokenizer/tokenizer.h"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/tokenizer/test_util.h"
#include "model/utf8.h"

namespace ccs {
namespace {

using ::testing::HasSubstr;

constexpr char kNeoxDir[] = "testdata/vocab/gpt-neox-20b";

// Text in many scripts, with emoji joined by ZWJ, combining marks and
// characters that byte-level BPE cuts into several tokens.
constexpr char kMultilingual[] =
    "Hello, world! Grüße aus Zürich, naïve café. Привет, мир! Γειά σου κόσμε. "
    "שלום עולם. مرحبا بالعالم. नमस्ते दुनिया। こんにちは世界。你好，世界！안녕하세요 세계. "
    "ព្រះរាជាណាចក្រកម្ពុជា \U0001F680 \U0001F636\u200d\U0001F32B\ufe0f "
    "\U0001F468\u200d\U0001F469\u200d\U0001F467 e\u0301 \U0001F1E9\U0001F1EA 42\u00bd\n\t end";

// The GPT-NeoX tokenizer, loaded once for all tests (null if it fails).
const Tokenizer* Neox() {
  static const Tokenizer* const tokenizer = [] {
    absl::StatusOr<std::unique_ptr<Tokenizer>> loaded =
        LoadTokenizer(testing::RunfilePath(absl::StrCat(kNeoxDir, "/tokenizer.json")));
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return loaded.ok() ? loaded->release() : nullptr;
  }();
  return tokenizer;
}

TEST(LoadTokenizerTest, PicksByFileOrDirectory) {
  const Tokenizer* from_file = Neox();
  ASSERT_NE(from_file, nullptr);
  absl::StatusOr<std::unique_ptr<Tokenizer>> from_dir =
      LoadTokenizer(testing::RunfilePath(kNeoxDir));
  ASSERT_TRUE(from_dir.ok()) << from_dir.status();
  EXPECT_EQ((*from_dir)->vocab_size(), from_file->vocab_size());

  // A JSON file under another name is still read as tokenizer.json.
  const std::string renamed = testing::TempPath("vocab.bin");
  ASSERT_TRUE(testing::WriteFile(renamed, testing::ReadFile(testing::RunfilePath(
                                              absl::StrCat(kNeoxDir, "/tokenizer.json")))
                                              .value())
                  .ok());
  absl::StatusOr<std::unique_ptr<Tokenizer>> sniffed = LoadTokenizer(renamed);
  ASSERT_TRUE(sniffed.ok()) << sniffed.status();
  EXPECT_EQ((*sniffed)->Encode("Hello world").value(), from_file->Encode("Hello world").value());
}

TEST(LoadTokenizerTest, ReadsSpecialTokensFromTokenizerConfigBeside) {
  const std::string dir = testing::TempPath("with_config");
  std::filesystem::create_directories(dir);
  ASSERT_TRUE(testing::WriteFile(dir + "/tokenizer.json",
                                 testing::ReadFile(testing::RunfilePath(
                                                       absl::StrCat(kNeoxDir, "/tokenizer.json")))
                                     .value())
                  .ok());
  ASSERT_TRUE(testing::WriteFile(dir + "/tokenizer_config.json",
                                 R"({"bos_token": "<|padding|>", "eos_token": "<|endoftext|>"})")
                  .ok());
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(dir);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->bos_id(), 1);
  EXPECT_EQ((*tokenizer)->eos_id(), 0);

  ASSERT_TRUE(testing::WriteFile(dir + "/tokenizer_config.json", "{\"bos_token\": 7").ok());
  EXPECT_EQ(LoadTokenizer(dir).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LoadTokenizerTest, ErrorsSayWhatIsWrong) {
  EXPECT_EQ(LoadTokenizer(testing::TempPath("no-such-file.json")).status().code(),
            absl::StatusCode::kNotFound);
  const std::string empty_dir = testing::TempPath("empty_dir");
  std::filesystem::create_directories(empty_dir);
  EXPECT_EQ(LoadTokenizer(empty_dir).status().code(), absl::StatusCode::kNotFound);

  const std::string garbage = testing::TempPath("tokenizer.model");
  ASSERT_TRUE(testing::WriteFile(garbage, "\x01\x02 this is no model").ok());
  absl::StatusOr<std::unique_ptr<Tokenizer>> model = LoadTokenizer(garbage);
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(model.status().message(), HasSubstr("tokenizer.model"));

  const std::string bad_json = testing::TempPath("tokenizer.json");
  ASSERT_TRUE(testing::WriteFile(bad_json, "{\"model\": 1").ok());
  EXPECT_EQ(LoadTokenizer(bad_json).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TokenizerTest, RejectsInvalidUtf8NamingTheOffset) {
  const Tokenizer* tokenizer = Neox();
  ASSERT_NE(tokenizer, nullptr);
  struct Case {
    std::string text;
    size_t offset;
  };
  const std::vector<Case> cases = {
      {"abc\xFF", 3},              // never valid
      {"\x80hello", 0},            // a lone continuation byte
      {"ok \xC0\xAF", 3},          // overlong "/"
      {"ok \xED\xA0\x80", 3},      // a surrogate
      {"ok \xF4\x90\x80\x80", 3},  // above U+10FFFF
      {"caf\xC3", 3},              // cut short at the end
      {"\xE4\xB8 x", 0},           // cut short before more text
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::vector<int32_t>> ids = tokenizer->Encode(c.text);
    EXPECT_EQ(ids.status().code(), absl::StatusCode::kInvalidArgument) << absl::CEscape(c.text);
    EXPECT_THAT(ids.status().message(), HasSubstr(absl::StrCat("byte offset ", c.offset)))
        << absl::CEscape(c.text);
  }
}

TEST(StreamingDetokenizerTest, YieldsTheFullDecodeInWholeCharacters) {
  const Tokenizer* tokenizer = Neox();
  ASSERT_NE(tokenizer, nullptr);
  const std::vector<int32_t> ids = tokenizer->Encode(kMultilingual).value();
  const std::string full = tokenizer->Decode(ids).value();
  ASSERT_EQ(full, kMultilingual);

  StreamingDetokenizer stream(*tokenizer);
  std::string joined;
  int held_back = 0;  // tokens that ended inside a character
  for (const int32_t id : ids) {
    absl::StatusOr<std::string> chunk = stream.Add(id);
    ASSERT_TRUE(chunk.ok()) << chunk.status();
    EXPECT_EQ(FindInvalidUtf8(*chunk), absl::string_view::npos) << absl::CEscape(*chunk);
    if (tokenizer->Decode({id}).value() != *chunk) ++held_back;
    joined += *chunk;
  }
  const std::string tail = stream.Flush();
  EXPECT_EQ(tail, "");
  EXPECT_EQ(joined, full);
  EXPECT_GT(held_back, 0) << "the text should split characters across tokens";
}

TEST(StreamingDetokenizerTest, IncompleteAndInvalidBytesBecomeReplacementCharacters) {
  const Tokenizer* tokenizer = Neox();
  ASSERT_NE(tokenizer, nullptr);
  // Byte-level stand-ins: "ä" is byte 0xE4 (starts a 3-byte character) and
  // "©" is byte 0xA9 (a continuation byte, invalid on its own).
  const std::optional<int32_t> lead = tokenizer->TokenToId("\xC3\xA4");
  const std::optional<int32_t> invalid = tokenizer->TokenToId("\xC2\xA9");
  ASSERT_TRUE(lead.has_value() && invalid.has_value());
  EXPECT_EQ(tokenizer->Decode({*lead}).value(), "\xE4");

  StreamingDetokenizer stream(*tokenizer);
  EXPECT_EQ(stream.Add(*lead).value(), "");
  EXPECT_EQ(stream.Flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(stream.Add(*invalid).value(), "\xEF\xBF\xBD");
  EXPECT_EQ(stream.Flush(), "");
  // A lead byte followed by a letter can never be completed.
  EXPECT_EQ(stream.Add(*lead).value(), "");
  const int32_t a = tokenizer->TokenToId("a").value();
  EXPECT_EQ(stream.Add(a).value(), "\xEF\xBF\xBD" "a");
}

TEST(StreamingDetokenizerTest, BadIdLeavesTheStreamUnchanged) {
  const Tokenizer* tokenizer = Neox();
  ASSERT_NE(tokenizer, nullptr);
  const std::vector<int32_t> ids = tokenizer->Encode("\U0001F680 go").value();
  StreamingDetokenizer stream(*tokenizer);
  std::string joined = stream.Add(ids[0]).value();
  EXPECT_EQ(stream.Add(tokenizer->vocab_size()).status().code(),
            absl::StatusCode::kInvalidArgument);
  for (size_t i = 1; i < ids.size(); ++i) joined += stream.Add(ids[i]).value();
  joined += stream.Flush();
  EXPECT_EQ(joined, "\U0001F680 go");
}

TEST(StreamingDetokenizerTest, SkipsSpecialTokensWhenAsked) {
  const Tokenizer* tokenizer = Neox();
  ASSERT_NE(tokenizer, nullptr);
  const std::vector<int32_t> ids = tokenizer->Encode("<|endoftext|>hi<|padding|>").value();
  StreamingDetokenizer keep(*tokenizer);
  StreamingDetokenizer skip(*tokenizer, {.skip_special_tokens = true});
  std::string kept, skipped;
  for (const int32_t id : ids) {
    kept += keep.Add(id).value();
    skipped += skip.Add(id).value();
  }
  EXPECT_EQ(kept, "<|endoftext|>hi<|padding|>");
  EXPECT_EQ(skipped, "hi");
}

}  // namespace
}  // namespace ccs
