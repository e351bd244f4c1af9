// Pre-tokenization for byte-level BPE: cuts text into the pieces that BPE
// encodes one by one, as Hugging Face's pre-tokenizers ByteLevel, Digits and
// Sequence do.
//
//   PreTokenizer pre_tokenizer({{PreTokenizer::Kind::kDigits, true},
//                               {PreTokenizer::Kind::kByteLevel}});
//   PreTokenizer::Buffer buffer;
//   std::vector<absl::string_view> pieces;
//   pre_tokenizer.Split(text, &buffer, &pieces);
//
// Immutable after construction; thread-safe.
#ifndef CCS_MODEL_TOKENIZER_INTERNAL_PRE_TOKENIZER_H_
#define CCS_MODEL_TOKENIZER_INTERNAL_PRE_TOKENIZER_H_

#include <deque>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace ccs {
namespace tokenizer_internal {

// SplitGpt2 appends to `pieces` the matches, in order, of the GPT-2 regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// over `text` (valid UTF-8). Every character is in some match.
void SplitGpt2(absl::string_view text, std::vector<absl::string_view>* pieces);

// SplitDigits appends the pieces of `text` with every character of class
// number isolated (`individual`) or every run of them isolated.
void SplitDigits(absl::string_view text, bool individual,
                 std::vector<absl::string_view>* pieces);

class PreTokenizer {
 public:
  enum class Kind { kDigits, kByteLevel };
  struct Step {
    Kind kind = Kind::kByteLevel;
    bool individual_digits = false;  // kDigits
    bool add_prefix_space = false;   // kByteLevel
    bool use_regex = true;           // kByteLevel
  };

  // Buffer owns the text that pieces may point into (prefix spaces added by
  // ByteLevel); keep it alive while the pieces are used.
  using Buffer = std::deque<std::string>;

  // `steps` run in order, each over the pieces of the one before.
  explicit PreTokenizer(std::vector<Step> steps) : steps_(std::move(steps)) {}

  // Split appends the pieces of `text` to `pieces`. Empty pieces are dropped.
  void Split(absl::string_view text, Buffer* buffer,
             std::vector<absl::string_view>* pieces) const;

 private:
  void RunStep(const Step& step, absl::string_view piece, Buffer* buffer,
               std::vector<absl::string_view>* out) const;

  const std::vector<Step> steps_;
};

}  // namespace tokenizer_internal
}  // namespace ccs

#endif  // CCS_MODEL_TOKENIZER_INTERNAL_PRE_TOKENIZER_H_
