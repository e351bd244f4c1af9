// Cuts a long text into pieces of bounded size for successive Compress
// appends to one session, without ever cutting a UTF-8 character in two.
//
//   std::ifstream file(path, std::ios::binary);
//   TextChunker chunker(&file, 64 << 10);
//   for (;;) {
//     absl::StatusOr<std::string> chunk = chunker.Next();
//     if (!chunk.ok()) ...;              // read error
//     if (chunk->empty()) break;         // end of input
//     ... send *chunk ...
//   }
//
// Where it cuts, in order of preference, within the second half of the
// allowed size: after a paragraph break (a blank line), after a line break,
// before a space (so that " word" stays whole, as tokenizers see it), and
// otherwise at the last character boundary that fits. Each append is
// tokenized on its own, so cutting where a tokenizer would cut anyway keeps
// the appended session close to one made from the whole text.
//
// Invalid UTF-8 is passed through unchanged (the server reports it); a cut
// then falls at max_bytes when no character boundary is near.
//
// Not thread-safe; one reader.
#ifndef CCS_CLIENT_TEXT_CHUNKER_H_
#define CCS_CLIENT_TEXT_CHUNKER_H_

#include <cstddef>
#include <cstdint>
#include <istream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ccs::client {

// The smallest max_bytes: one UTF-8 character of 4 bytes must fit.
inline constexpr size_t kMinChunkBytes = 4;
// The largest max_bytes; larger values are taken as this ("no limit").
inline constexpr size_t kMaxChunkBytes = size_t{1} << 40;

// NextChunkLength: the length of the first piece of `text` under the rules
// above: all of it when it fits in max_bytes (>= kMinChunkBytes), otherwise
// a length in (0, max_bytes].
size_t NextChunkLength(absl::string_view text, size_t max_bytes);

class TextChunker {
 public:
  // Reads from `input` (not owned; must outlive the chunker) and holds at
  // most about 2 * max_bytes of it at a time. max_bytes >= kMinChunkBytes.
  TextChunker(std::istream* input, size_t max_bytes);

  // The next piece, at most max_bytes long; "" at the end of the input.
  // Errors: DATA_LOSS when reading the input fails.
  absl::StatusOr<std::string> Next();

  // Bytes returned by Next so far.
  int64_t consumed() const { return consumed_; }

 private:
  std::istream* const input_;
  const size_t max_bytes_;
  std::string pending_;
  bool at_end_ = false;
  int64_t consumed_ = 0;
};

}  // namespace ccs::client

#endif  // CCS_CLIENT_TEXT_CHUNKER_H_
