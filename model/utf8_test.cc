#include "model/utf8.h"

#include <string>

#include "gtest/gtest.h"

namespace ccs {
namespace {

constexpr size_t kValid = absl::string_view::npos;

TEST(FindInvalidUtf8Test, AcceptsWellFormedText) {
  EXPECT_EQ(FindInvalidUtf8(""), kValid);
  EXPECT_EQ(FindInvalidUtf8("plain ascii\n\t"), kValid);
  EXPECT_EQ(FindInvalidUtf8("caf\xC3\xA9 \xE4\xB8\xAD \xF0\x9F\x98\x80"), kValid);
  EXPECT_EQ(FindInvalidUtf8("\xF4\x8F\xBF\xBF"), kValid);  // U+10FFFF
  EXPECT_EQ(FindInvalidUtf8(std::string("a\0b", 3)), kValid);
}

TEST(FindInvalidUtf8Test, ReportsOffsetOfFirstBadByte) {
  EXPECT_EQ(FindInvalidUtf8("ab\xFF"), 2u);
  EXPECT_EQ(FindInvalidUtf8("\x80"), 0u);                // stray continuation
  EXPECT_EQ(FindInvalidUtf8("x\xC0\xAF"), 1u);           // overlong '/'
  EXPECT_EQ(FindInvalidUtf8("\xE0\x80\xAF"), 0u);        // overlong 3-byte
  EXPECT_EQ(FindInvalidUtf8("\xED\xA0\x80"), 0u);        // surrogate U+D800
  EXPECT_EQ(FindInvalidUtf8("\xF4\x90\x80\x80"), 0u);    // above U+10FFFF
  EXPECT_EQ(FindInvalidUtf8("ok\xE4\xB8"), 2u);          // truncated at end
  EXPECT_EQ(FindInvalidUtf8("\xC3\xA9\xC3"), 2u);
}

TEST(Utf8CompletePrefixTest, HoldsBackOnlyACutSequence) {
  EXPECT_EQ(Utf8CompletePrefix(""), 0u);
  EXPECT_EQ(Utf8CompletePrefix("abc"), 3u);
  EXPECT_EQ(Utf8CompletePrefix("a\xC3"), 1u);
  EXPECT_EQ(Utf8CompletePrefix("a\xC3\xA9"), 3u);
  EXPECT_EQ(Utf8CompletePrefix("a\xE0"), 1u);
  EXPECT_EQ(Utf8CompletePrefix("a\xE0\xA4"), 1u);
  EXPECT_EQ(Utf8CompletePrefix("a\xF0\x9F\x98"), 1u);
  EXPECT_EQ(Utf8CompletePrefix("a\xF0\x9F\x98\x80"), 5u);
  // Bytes that can never complete are not held back.
  EXPECT_EQ(Utf8CompletePrefix("a\xFF"), 2u);
  EXPECT_EQ(Utf8CompletePrefix("a\xE0\x80"), 3u);
}

TEST(Utf8CompletePrefixTest, EveryCutOfValidTextSplitsOnCharacters) {
  const std::string text = "x\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80y";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    const size_t keep = Utf8CompletePrefix(text.substr(0, cut));
    EXPECT_LE(keep, cut);
    EXPECT_EQ(FindInvalidUtf8(text.substr(0, keep)), kValid) << cut;
    EXPECT_GE(keep + 3, cut) << cut;
  }
}

}  // namespace
}  // namespace ccs
