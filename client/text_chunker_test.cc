#include "client/text_chunker.h"

#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ccs::client {
namespace {

std::vector<std::string> ChunkAll(const std::string& text, size_t max_bytes) {
  std::istringstream input(text);
  TextChunker chunker(&input, max_bytes);
  std::vector<std::string> chunks;
  for (;;) {
    absl::StatusOr<std::string> chunk = chunker.Next();
    EXPECT_TRUE(chunk.ok()) << chunk.status();
    if (!chunk.ok() || chunk->empty()) break;
    chunks.push_back(*chunk);
  }
  EXPECT_EQ(chunker.consumed(), static_cast<int64_t>(text.size()));
  return chunks;
}

TEST(NextChunkLengthTest, TextThatFitsIsOnePiece) {
  EXPECT_EQ(NextChunkLength("", 16), 0u);
  EXPECT_EQ(NextChunkLength("short text", 16), 10u);
  EXPECT_EQ(NextChunkLength("exactly sixteen.", 16), 16u);
}

TEST(NextChunkLengthTest, PrefersParagraphThenLineThenSpace) {
  // A blank line in the second half of the window wins over a later line
  // break and later spaces.
  const std::string paragraph = "one two three\n\nfour\nfive six seven eight";
  EXPECT_EQ(paragraph.substr(0, NextChunkLength(paragraph, 24)),
            "one two three\n\n");
  const std::string lines = "one two three\nfour five six seven";
  EXPECT_EQ(lines.substr(0, NextChunkLength(lines, 24)), "one two three\n");
  // The space starts the next piece: " seven" stays whole.
  const std::string words = "one two three four five six seven";
  EXPECT_EQ(words.substr(0, NextChunkLength(words, 24)),
            "one two three four five");
  // A space right after the window allows a cut at the full size.
  EXPECT_EQ(NextChunkLength("abcdefgh ijkl", 8), 8u);
}

TEST(NextChunkLengthTest, IgnoresBreaksInTheFirstHalf) {
  // A break this early would make tiny pieces: cut at the size instead.
  const std::string text = "a\n\nbcdefghijklmnopqrstuvwxyz";
  EXPECT_EQ(NextChunkLength(text, 16), 16u);
}

TEST(NextChunkLengthTest, NeverCutsACharacter) {
  // "é" is 2 bytes, "€" 3, "😀" 4; no spaces or breaks to cut at.
  const std::string text = "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF0\x9F\x98\x80";
  EXPECT_EQ(NextChunkLength(text, 4), 2u);   // é, not é + half of €
  EXPECT_EQ(NextChunkLength(text, 5), 5u);   // é€
  EXPECT_EQ(NextChunkLength(text, 8), 5u);   // é€, not é€ + 3 bytes of 😀
  EXPECT_EQ(NextChunkLength(text, 9), 9u);
}

TEST(NextChunkLengthTest, InvalidUtf8IsCutAtTheSize) {
  const std::string text(20, '\x80');  // continuation bytes only
  EXPECT_EQ(NextChunkLength(text, 8), 8u);
}

TEST(TextChunkerTest, EmptyInputGivesNoPiece) {
  EXPECT_TRUE(ChunkAll("", 16).empty());
}

TEST(TextChunkerTest, PiecesAreBoundedWholeCharactersAndAddUpToTheInput) {
  const std::vector<std::string> alphabet = {
      "a", "b", " ", "\n", "\n\n", "\xC3\xA9", "\xE2\x82\xAC",
      "\xF0\x9F\x98\x80", "word ", "sentence. "};
  std::mt19937 random(7);
  for (size_t max_bytes : {4, 5, 7, 16, 33, 100}) {
    std::string text;
    while (text.size() < 2000) text += alphabet[random() % alphabet.size()];
    const std::vector<std::string> chunks = ChunkAll(text, max_bytes);
    std::string joined;
    for (const std::string& chunk : chunks) {
      ASSERT_FALSE(chunk.empty());
      ASSERT_LE(chunk.size(), max_bytes);
      EXPECT_NE(static_cast<unsigned char>(chunk[0]) & 0xC0, 0x80)
          << "a piece starts inside a character";
      joined += chunk;
    }
    EXPECT_EQ(joined, text) << "max_bytes " << max_bytes;
    // Pieces are not needlessly small: all but the last reach half the size.
    for (size_t i = 0; i + 1 < chunks.size(); ++i) {
      EXPECT_GE(static_cast<int>(chunks[i].size()),
                static_cast<int>(max_bytes) / 2 - 3) << "max_bytes " << max_bytes;
    }
  }
}

TEST(TextChunkerTest, LargeInputIsReadInPieces) {
  std::string text;
  for (int line = 0; line < 5000; ++line) {
    text += "Line " + std::to_string(line) + " of a long document.\n";
  }
  const std::vector<std::string> chunks = ChunkAll(text, 4096);
  EXPECT_GE(chunks.size(), text.size() / 4096);
  EXPECT_LE(chunks.size(), text.size() / 4096 + 2);
  for (const std::string& chunk : chunks) EXPECT_EQ(chunk.back(), '\n');
}

}  // namespace
}  // namespace ccs::client
