// The evaluation data, made from the corpus's held-out test split
// (docs/corpus.md): token windows of running text, passkey-retrieval
// contexts, and question-answering items (verse reference -> verse,
// dictionary headword -> definition). Everything is drawn from a seeded
// generator, so the same corpus, tokenizer and seed give the same sets.
// Torch-free.
//
//   absl::StatusOr<EvalCorpus> corpus = ReadEvalCorpus("data/corpus");
//   absl::StatusOr<TokenStream> stream =
//       TokenStream::Make(tokenizer, Texts(corpus->documents, "text"), 7);
//   std::vector<int32_t> window = stream->Window(512, &rng);
//   std::vector<QaItem> qa = MakeVerseQa(corpus->verses, 20, 4, 7);
//
// Thread-safety: plain values; TokenStream is immutable after Make.
#ifndef CCS_MODEL_EVAL_EVAL_SETS_H_
#define CCS_MODEL_EVAL_EVAL_SETS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/tokenizer/tokenizer.h"
#include "model/train/text_windows.h"

namespace ccs::model::eval {

struct EvalCorpus {
  std::vector<train::JsonlRecord> documents;       // test.jsonl: source, text
  std::vector<train::JsonlRecord> verses;          // verses.test.jsonl: ref, text
  std::vector<train::JsonlRecord> dictionary;      // dictionary.test.jsonl: headword, pos, definition
};

// ReadEvalCorpus reads the three test files of `dir`. NOT_FOUND naming a
// missing file; INVALID_ARGUMENT for malformed lines or an empty file.
absl::StatusOr<EvalCorpus> ReadEvalCorpus(const std::string& dir);

// TokenStream is the test documents, tokenized once and joined with "\n\n"
// in an order shuffled by the seed, as one circular stream of tokens.
class TokenStream {
 public:
  // INVALID_ARGUMENT when the texts give no tokens.
  static absl::StatusOr<TokenStream> Make(const Tokenizer& tokenizer,
                                          const std::vector<std::string>& texts, uint64_t seed);

  // Window is `length` consecutive tokens from a random offset (wrapping
  // around the end of the stream; a window longer than the stream repeats it).
  std::vector<int32_t> Window(int64_t length, train::SplitMix64* rng) const;

  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }

 private:
  explicit TokenStream(std::vector<int32_t> tokens) : tokens_(std::move(tokens)) {}
  std::vector<int32_t> tokens_;
};

// A passkey-retrieval context: filler text with the key sentence
// "The pass key is NNNNN. Remember it. NNNNN is the pass key." inserted.
struct PasskeyCase {
  std::vector<int32_t> context;  // exactly the requested length in tokens
  std::string key;               // the five digits
  double depth = 0;              // where the sentence starts, as a fraction of the context
};

// MakePasskeyCase draws a key and a depth from `rng` and fills the rest of
// `length` tokens from `stream`. INVALID_ARGUMENT when `length` cannot hold
// the key sentence.
absl::StatusOr<PasskeyCase> MakePasskeyCase(const Tokenizer& tokenizer, const TokenStream& stream,
                                            int64_t length, train::SplitMix64* rng);

// PasskeyQuestion is the question asked after a passkey context.
inline constexpr char kPasskeyQuestion[] = "What is the pass key?";

// A question about a short context whose answer is a line of it.
struct QaItem {
  std::string context;
  std::string question;
  std::string answer;
};

// MakeVerseQa: contexts of `items_per_context` consecutive verses, one per
// line as "<ref> <text>"; the question "What does <ref> say?" about one of
// them; the answer its text. `count` items (fewer when the verses are fewer
// than items_per_context).
std::vector<QaItem> MakeVerseQa(const std::vector<train::JsonlRecord>& verses, int count,
                                int items_per_context, uint64_t seed);

// MakeDictionaryQa: contexts of consecutive entries "<headword> (<pos>):
// <definition>"; the question "What is the definition of \"<headword>\"?";
// the answer the definition.
std::vector<QaItem> MakeDictionaryQa(const std::vector<train::JsonlRecord>& entries, int count,
                                     int items_per_context, uint64_t seed);

}  // namespace ccs::model::eval

#endif  // CCS_MODEL_EVAL_EVAL_SETS_H_
