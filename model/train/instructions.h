// Instruction data generated from the corpus (issue 6, stage c): a context
// of exactly `context_tokens` tokens, a question about it and its answer.
// Torch-free.
//
//   Passkey      filler text with "The pass key is 48213. Remember it. 48213
//                is the pass key." spliced in at a random depth;
//                "What is the pass key?" -> "The pass key is 48213."
//   Dictionary   consecutive "headword (pos): definition" lines;
//                "What does \"headword\" mean?" -> the definition
//   Verse        consecutive "Book C:V text" lines;
//                "What does Book C:V say?" -> the verse
//
// The asked-about line always lies wholly inside the context (never cut by
// the truncation to context_tokens). Everything is drawn from a SplitMix64
// seeded by the caller, so the same seed gives the same examples.
//
// Thread-safety: a generator is not thread-safe; the functions are pure.
#ifndef CCS_MODEL_TRAIN_INSTRUCTIONS_H_
#define CCS_MODEL_TRAIN_INSTRUCTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/tokenizer/tokenizer.h"
#include "model/train/text_windows.h"

namespace ccs::model::train {

struct InstructionExample {
  std::string kind;              // "passkey", "dictionary", "verse"
  std::vector<int32_t> context;  // exactly the asked length
  std::string question;
  std::string answer;
};

// One "line" a context is built of, and the question and answer it gives.
struct FactLine {
  std::string text;  // as it appears in the context (no newline)
  std::string question;
  std::string answer;
};

// DictionaryFacts: records with headword, pos, definition.
std::vector<FactLine> DictionaryFacts(const std::vector<JsonlRecord>& records);
// VerseFacts: records with ref, text.
std::vector<FactLine> VerseFacts(const std::vector<JsonlRecord>& records);

class InstructionGenerator {
 public:
  // `filler` is token windows of corpus text (PackWindows), for passkeys;
  // `dictionary` and `verses` are in corpus order (neighbours make the
  // context). The tokenizer must outlive the generator.
  InstructionGenerator(const Tokenizer* tokenizer, std::vector<std::vector<int32_t>> filler,
                       std::vector<FactLine> dictionary, std::vector<FactLine> verses);

  // Make draws one example of `kind` with a context of exactly
  // `context_tokens` (>= 32) tokens, from `rng`. INVALID_ARGUMENT for an
  // unknown kind or a length the sources cannot fill; FAILED_PRECONDITION
  // when a kind's source is empty.
  absl::StatusOr<InstructionExample> Make(const std::string& kind, int64_t context_tokens,
                                          SplitMix64& rng) const;

 private:
  absl::StatusOr<InstructionExample> Passkey(int64_t n, SplitMix64& rng) const;
  absl::StatusOr<InstructionExample> Facts(const std::string& kind,
                                           const std::vector<FactLine>& facts, int64_t n,
                                           SplitMix64& rng) const;
  absl::StatusOr<std::vector<int32_t>> Encode(const std::string& text) const;

  const Tokenizer* const tokenizer_;
  const std::vector<std::vector<int32_t>> filler_;
  const std::vector<FactLine> dictionary_;
  const std::vector<FactLine> verses_;
};

}  // namespace ccs::model::train

#endif  // CCS_MODEL_TRAIN_INSTRUCTIONS_H_
