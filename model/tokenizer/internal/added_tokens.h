// Finds a tokenizer's added tokens in raw text, as Hugging Face's
// AddedVocabulary does before pre-tokenization.
//
//   AddedTokenMatcher matcher(tokens);
//   std::vector<TextSegment> segments;
//   matcher.Split(text, /*parse_special_tokens=*/true, &segments);
//   for (const TextSegment& s : segments) { s.id >= 0 ? token : text to encode }
//
// Immutable after construction; thread-safe.
#ifndef CCS_MODEL_TOKENIZER_INTERNAL_ADDED_TOKENS_H_
#define CCS_MODEL_TOKENIZER_INTERNAL_ADDED_TOKENS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace ccs {
namespace tokenizer_internal {

// AddedToken is one entry of tokenizer.json's "added_tokens".
struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;
  bool lstrip = false;      // the match takes the white space before it
  bool rstrip = false;      // the match takes the white space after it
  bool normalized = false;  // matched in the second pass (see Split)
};

// TextSegment is a piece of the input: an added token (id >= 0) or text
// between added tokens (id < 0) that the model encodes.
struct TextSegment {
  absl::string_view text;
  int32_t id = -1;
};

class AddedTokenMatcher {
 public:
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);

  // Split cuts `text` at added tokens and appends the segments, in order, to
  // `segments`; empty text segments are left out. As in Hugging Face, tokens
  // with normalized == false are found first in the whole text, then tokens
  // with normalized == true in the text between those (no normalizer is
  // supported, so both passes match raw text). Each pass takes, scanning left
  // to right, the leftmost match, the longest one there, without overlaps.
  // With `parse_special_tokens` false, special tokens are not matched.
  void Split(absl::string_view text, bool parse_special_tokens,
             std::vector<TextSegment>* segments) const;

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> children;  // sorted by byte
    int32_t token = -1;  // index into tokens_ of the token ending here
  };

  // Appends the segments of one pass over `text`.
  void SplitPass(absl::string_view text, bool normalized, bool parse_special_tokens,
                 std::vector<TextSegment>* segments) const;
  // The longest allowed token starting at text[start], or -1.
  int32_t LongestMatch(absl::string_view text, size_t start, bool normalized,
                       bool parse_special_tokens, size_t* length) const;
  int32_t Child(int32_t node, unsigned char byte) const;

  std::vector<AddedToken> tokens_;
  std::vector<Node> trie_;      // trie_[0] is the root
  bool first_byte_[256] = {};  // whether a token starts with this byte
};

}  // namespace tokenizer_internal
}  // namespace ccs

#endif  // CCS_MODEL_TOKENIZER_INTERNAL_ADDED_TOKENS_H_
