#include "client/text_chunker.h"

#include <algorithm>

namespace ccs::client {
namespace {

// Reads go in blocks of at most this size, so that a huge max_bytes (one
// piece for the whole input) does not allocate it all up front.
constexpr size_t kReadBlockBytes = size_t{1} << 20;

bool IsContinuationByte(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// The largest position <= limit that starts a character (or ends the text),
// looking back at most 3 bytes; `limit` itself when none is that close
// (invalid UTF-8).
size_t CharacterBoundaryAtOrBefore(absl::string_view text, size_t limit) {
  for (size_t back = 0; back < 4 && back < limit; ++back) {
    const size_t position = limit - back;
    if (position >= text.size() || !IsContinuationByte(text[position])) {
      return position;
    }
  }
  return limit;
}

}  // namespace

size_t NextChunkLength(absl::string_view text, size_t max_bytes) {
  max_bytes = std::max(max_bytes, kMinChunkBytes);
  if (text.size() <= max_bytes) return text.size();
  const absl::string_view window = text.substr(0, max_bytes);
  const size_t earliest = max_bytes / 2;
  // After a blank line: the cut falls just past "\n\n".
  size_t found = window.rfind("\n\n");
  if (found != absl::string_view::npos && found + 2 >= earliest) {
    return found + 2;
  }
  // After a line break (a window ending in '\n' gives max_bytes).
  found = window.rfind('\n');
  if (found != absl::string_view::npos && found + 1 >= earliest) {
    return found + 1;
  }
  // Before a space, which then starts the next piece. The text past the
  // window matters too: a space at position max_bytes allows a full cut.
  found = text.substr(0, max_bytes + 1).rfind(' ');
  if (found != absl::string_view::npos && found >= earliest && found > 0) {
    return found;
  }
  return CharacterBoundaryAtOrBefore(text, max_bytes);
}

TextChunker::TextChunker(std::istream* input, size_t max_bytes)
    : input_(input),
      max_bytes_(std::clamp(max_bytes, kMinChunkBytes, kMaxChunkBytes)) {}

absl::StatusOr<std::string> TextChunker::Next() {
  // Keep more than max_bytes in hand, so that NextChunkLength sees what
  // follows the window (a space right after it) and the end of the input
  // is known when the rest fits in one piece.
  while (!at_end_ && pending_.size() <= max_bytes_) {
    const size_t block = std::min(max_bytes_ + 1, kReadBlockBytes);
    const size_t old_size = pending_.size();
    pending_.resize(old_size + block);
    input_->read(pending_.data() + old_size, static_cast<std::streamsize>(block));
    pending_.resize(old_size + static_cast<size_t>(input_->gcount()));
    if (input_->bad()) {
      return absl::DataLossError("reading the input failed");
    }
    if (input_->eof() || input_->fail()) at_end_ = true;
  }
  const size_t length = NextChunkLength(pending_, max_bytes_);
  std::string chunk = pending_.substr(0, length);
  pending_.erase(0, length);
  consumed_ += static_cast<int64_t>(length);
  return chunk;
}

}  // namespace ccs::client
