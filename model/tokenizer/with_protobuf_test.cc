// The tokenizers in one process with Debian's libprotobuf, as in the server.
// Debian's libsentencepiece cannot be loaded there (it exports its own
// protobuf 3.14, and the process aborts or crashes), so the tokenizer reads
// tokenizer.model itself; this test fails if that changes.
#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.pb.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "model/tokenizer/test_util.h"
#include "model/tokenizer/tokenizer.h"

namespace ccs {
namespace {

TEST(WithProtobufTest, TokenizersAndProtobufWorkInOneProcess) {
  google::protobuf::FileDescriptorProto file;
  file.set_name("session.proto");
  file.add_message_type()->set_name("Session");
  google::protobuf::FileDescriptorProto parsed;
  ASSERT_TRUE(parsed.ParseFromString(file.SerializeAsString()));
  EXPECT_EQ(parsed.message_type(0).name(), "Session");

  absl::StatusOr<std::unique_ptr<Tokenizer>> sentencepiece =
      LoadTokenizer(testing::RunfilePath("model/tokenizer/testdata/llama_style.model"));
  ASSERT_TRUE(sentencepiece.ok()) << sentencepiece.status();
  const std::string cases_text =
      testing::ReadFile(testing::RunfilePath("model/tokenizer/testdata/llama_style_cases.json"))
          .value();
  const nlohmann::json cases = nlohmann::json::parse(cases_text);
  ASSERT_GE(cases.size(), 4u);
  for (const nlohmann::json& c : cases) {
    const std::string text = c["text"].get<std::string>();
    EXPECT_EQ((*sentencepiece)->Encode(text).value(), c["ids"].get<std::vector<int32_t>>())
        << text;
    EXPECT_EQ((*sentencepiece)->Decode(c["ids"].get<std::vector<int32_t>>()).value(), text);
  }

  absl::StatusOr<std::unique_ptr<Tokenizer>> bpe =
      LoadTokenizer(testing::RunfilePath("testdata/vocab/gpt-neox-20b/tokenizer.json"));
  ASSERT_TRUE(bpe.ok()) << bpe.status();
  EXPECT_EQ((*bpe)->Decode((*bpe)->Encode("Hello world").value()).value(), "Hello world");
  EXPECT_TRUE(parsed.ParseFromString(file.SerializeAsString()));
}

}  // namespace
}  // namespace ccs
