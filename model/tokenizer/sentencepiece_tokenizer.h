// SentencePiece models (tokenizer.model files, such as Llama-2's) behind the
// Tokenizer interface, over Debian's libsentencepiece.
//
//   absl::StatusOr<std::unique_ptr<ccs::Tokenizer>> tokenizer =
//       ccs::LoadSentencePieceTokenizer("models/llama-2/tokenizer.model");
//   absl::StatusOr<std::vector<int32_t>> ids =
//       (*tokenizer)->Encode("Hello", {.add_bos = true});   // Llama adds BOS
//
// Encode gives the library's EncodeAsIds. Decode follows the library's
// decoding (control tokens are invisible, "▁" is a space, the space that
// starts the text is dropped when the model adds a dummy prefix, the unknown
// token is " ⁇ ") but returns raw bytes: byte-fallback pieces (<0xNN>) that
// do not form valid UTF-8 are kept as they are where the library would write
// U+FFFD, so that StreamingDetokenizer can join characters split across
// tokens. Special ids: bos/eos/pad from the model unless TokenizerOptions
// name others. IsSpecial: control and unknown tokens.
//
// Thread-safe: see tokenizer.h.
#ifndef CCS_MODEL_TOKENIZER_SENTENCEPIECE_TOKENIZER_H_
#define CCS_MODEL_TOKENIZER_SENTENCEPIECE_TOKENIZER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "model/tokenizer/tokenizer.h"

namespace ccs {

// LoadSentencePieceTokenizer reads a tokenizer.model file. NOT_FOUND if it
// cannot be read, INVALID_ARGUMENT if it is not a SentencePiece model.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadSentencePieceTokenizer(
    const std::string& path, const TokenizerOptions& options = {});

// ParseSentencePieceTokenizer builds one from a model's bytes.
absl::StatusOr<std::unique_ptr<Tokenizer>> ParseSentencePieceTokenizer(
    const std::string& serialized_model, const TokenizerOptions& options = {});

}  // namespace ccs

#endif  // CCS_MODEL_TOKENIZER_SENTENCEPIECE_TOKENIZER_H_
