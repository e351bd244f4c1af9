// Training text: documents read from the corpus files that
// deploy/build_corpus.py writes (JSON Lines, one object per document), and
// the fixed-length token windows the trainers learn from. Torch-free.
//
//   absl::StatusOr<std::vector<JsonlRecord>> docs =
//       ReadJsonl("data/corpus/train.jsonl", {"text"});
//   absl::StatusOr<std::vector<std::vector<int32_t>>> windows =
//       PackWindows(*tokenizer, Texts(*docs, "text"), {.length = 128, .max_windows = 50000});
//
// Thread-safety: pure functions.
#ifndef CCS_MODEL_TRAIN_TEXT_WINDOWS_H_
#define CCS_MODEL_TRAIN_TEXT_WINDOWS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/tokenizer/tokenizer.h"

namespace ccs::model::train {

// One JSON Lines object's string fields.
using JsonlRecord = std::map<std::string, std::string>;

// ReadJsonl reads `fields` (each a JSON string) of every line of `path`, at
// most `max_records` lines (0: all); blank lines are skipped. NOT_FOUND when
// the file cannot be opened; INVALID_ARGUMENT naming the line for malformed
// JSON or a missing or non-string field.
absl::StatusOr<std::vector<JsonlRecord>> ReadJsonl(const std::string& path,
                                                   const std::vector<std::string>& fields,
                                                   int64_t max_records = 0);

// Texts returns field `field` of every record, in order.
std::vector<std::string> Texts(const std::vector<JsonlRecord>& records, const std::string& field);

struct WindowOptions {
  int64_t length = 128;      // tokens per window
  int64_t max_windows = 0;   // stop after this many (0: as many as the texts give)
  uint64_t seed = 1;         // the document order
  std::string separator = "\n\n";  // between consecutive documents
};

// PackWindows tokenizes the texts in an order shuffled by `seed` (special
// tokens in them are ordinary text), joins them with `separator` into one
// token stream and cuts it into consecutive windows of exactly `length`
// tokens (the stream's tail shorter than a window is dropped). The same
// inputs give the same windows. INVALID_ARGUMENT for length < 1 or a text
// that is not valid UTF-8.
absl::StatusOr<std::vector<std::vector<int32_t>>> PackWindows(const Tokenizer& tokenizer,
                                                              std::vector<std::string> texts,
                                                              const WindowOptions& options);

// ShortDocuments tokenizes (special tokens as ordinary text) the texts of
// `records` whose `source` field is the same, per source, in an order
// shuffled by `seed`, and keeps the whole ones of min_tokens to max_tokens
// tokens, at most per_source of each source: whole short documents, each
// from its first token to its last, grouped by source so that a caller can
// draw sources evenly (the corpus is mostly dictionary entries). Texts of
// more than 8 bytes per allowed token are skipped untokenized. Sources
// that keep nothing are left out. INVALID_ARGUMENT for min_tokens < 1,
// max_tokens < min_tokens, per_source < 1, or text that is not UTF-8.
absl::StatusOr<std::vector<std::vector<std::vector<int32_t>>>> ShortDocuments(
    const Tokenizer& tokenizer, const std::vector<JsonlRecord>& records, int64_t min_tokens,
    int64_t max_tokens, int64_t per_source, uint64_t seed);

// Shuffle permutes `items` with a Fisher-Yates shuffle driven by seed (the
// same on every platform, unlike std::shuffle).
template <typename T>
void Shuffle(std::vector<T>& items, uint64_t seed);

// SplitMix64: a small, fully specified pseudo-random generator.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n), n >= 1 (the modulo bias is below 2^-40 for n < 2^24).
  uint64_t Below(uint64_t n) { return Next() % n; }

 private:
  uint64_t state_;
};

template <typename T>
void Shuffle(std::vector<T>& items, uint64_t seed) {
  SplitMix64 rng(seed);
  for (size_t i = items.size(); i > 1; --i) {
    std::swap(items[i - 1], items[rng.Below(i)]);
  }
}

}  // namespace ccs::model::train

#endif  // CCS_MODEL_TRAIN_TEXT_WINDOWS_H_
