#include "model/tokenizer/internal/added_tokens.h"

#include <algorithm>

#include "model/tokenizer/internal/unicode_classes.h"

namespace ccs {
namespace tokenizer_internal {
namespace {

bool IsSpaceAt(absl::string_view text, size_t i, size_t* length) {
  return ClassOf(DecodeUtf8(text, i, length)) == CharClass::kSpace;
}

// The start of the run of white space that ends `text` (text.size() if none).
size_t TrailingSpaceStart(absl::string_view text) {
  size_t end = text.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) {
      --start;
    }
    size_t length;
    if (!IsSpaceAt(text, start, &length)) break;
    end = start;
  }
  return end;
}

// The length of the run of white space that starts `text`.
size_t LeadingSpaceLength(absl::string_view text) {
  size_t i = 0, length;
  while (i < text.size() && IsSpaceAt(text, i, &length)) i += length;
  return i;
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens)
    : tokens_(std::move(tokens)), trie_(1) {
  for (size_t t = 0; t < tokens_.size(); ++t) {
    const std::string& content = tokens_[t].content;
    if (content.empty()) continue;
    first_byte_[static_cast<unsigned char>(content[0])] = true;
    int32_t node = 0;
    for (const char c : content) {
      const unsigned char byte = static_cast<unsigned char>(c);
      int32_t next = Child(node, byte);
      if (next < 0) {
        next = static_cast<int32_t>(trie_.size());
        trie_.emplace_back();
        auto& children = trie_[node].children;
        children.insert(std::lower_bound(children.begin(), children.end(),
                                         std::make_pair(byte, int32_t{0})),
                        {byte, next});
      }
      node = next;
    }
    trie_[node].token = static_cast<int32_t>(t);  // a later duplicate wins
  }
}

int32_t AddedTokenMatcher::Child(int32_t node, unsigned char byte) const {
  const auto& children = trie_[node].children;
  const auto it = std::lower_bound(children.begin(), children.end(),
                                   std::make_pair(byte, int32_t{0}));
  return it != children.end() && it->first == byte ? it->second : -1;
}

int32_t AddedTokenMatcher::LongestMatch(absl::string_view text, size_t start,
                                        bool normalized, bool parse_special_tokens,
                                        size_t* length) const {
  int32_t best = -1;
  int32_t node = 0;
  for (size_t i = start; i < text.size(); ++i) {
    node = Child(node, static_cast<unsigned char>(text[i]));
    if (node < 0) break;
    const int32_t t = trie_[node].token;
    if (t >= 0 && tokens_[t].normalized == normalized &&
        (parse_special_tokens || !tokens_[t].special)) {
      best = t;
      *length = i + 1 - start;
    }
  }
  return best;
}

void AddedTokenMatcher::SplitPass(absl::string_view text, bool normalized,
                                  bool parse_special_tokens,
                                  std::vector<TextSegment>* segments) const {
  size_t done = 0;  // text[0, done) is in segments already
  size_t pos = 0;   // where the search for the next match starts
  while (pos < text.size()) {
    size_t length = 0;
    const int32_t t = first_byte_[static_cast<unsigned char>(text[pos])]
                          ? LongestMatch(text, pos, normalized, parse_special_tokens,
                                         &length)
                          : -1;
    if (t < 0) {
      ++pos;
      continue;
    }
    const AddedToken& token = tokens_[t];
    size_t start = pos, stop = pos + length;
    if (token.lstrip) start = std::max(TrailingSpaceStart(text.substr(0, start)), done);
    if (token.rstrip) stop += LeadingSpaceLength(text.substr(stop));
    if (done < start) segments->push_back({text.substr(done, start - done), -1});
    segments->push_back({text.substr(start, stop - start), token.id});
    done = pos = stop;
  }
  if (done < text.size()) segments->push_back({text.substr(done), -1});
}

void AddedTokenMatcher::Split(absl::string_view text, bool parse_special_tokens,
                              std::vector<TextSegment>* segments) const {
  if (tokens_.empty()) {
    if (!text.empty()) segments->push_back({text, -1});
    return;
  }
  std::vector<TextSegment> first;
  SplitPass(text, /*normalized=*/false, parse_special_tokens, &first);
  for (const TextSegment& segment : first) {
    if (segment.id >= 0) {
      segments->push_back(segment);
    } else {
      SplitPass(segment.text, /*normalized=*/true, parse_special_tokens, segments);
    }
  }
}

}  // namespace tokenizer_internal
}  // namespace ccs
