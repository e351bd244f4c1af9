// SentencePiece BPE models (tokenizer.model files, such as Llama-2's) behind
// the Tokenizer interface.
//
//   absl::StatusOr<std::unique_ptr<ccs::Tokenizer>> tokenizer =
//       ccs::LoadSentencePieceTokenizer("models/llama-2/tokenizer.model");
//   absl::StatusOr<std::vector<int32_t>> ids =
//       (*tokenizer)->Encode("Hello", {.add_bos = true});   // Llama adds BOS
//
// The model file is read and applied here, not by libsentencepiece: Debian's
// library carries its own protobuf and cannot share a process with gRPC's
// (see internal/sentencepiece_model.h). Encode gives the ids of the library's
// EncodeAsIds (checked against it in tests) for BPE models without a
// normalization character map, as Llama's: dummy prefix, extra white space
// removal, user-defined symbols, byte fallback. Unigram models and character
// maps (e.g. nmt_nfkc) are refused with UNIMPLEMENTED at load time.
//
// Decode follows the library's decoding (control tokens are invisible, "▁"
// is a space, the space that starts the text is dropped when the model adds
// a dummy prefix, the unknown token is " ⁇ ") but returns raw bytes:
// byte-fallback pieces (<0xNN>) that do not form valid UTF-8 are kept where
// the library writes U+FFFD, so that StreamingDetokenizer can join
// characters split across tokens. Special ids: the model's <s>, </s> and
// <pad> control pieces unless TokenizerOptions name others. IsSpecial:
// control and unknown pieces.
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
// cannot be read, INVALID_ARGUMENT if it is not a SentencePiece model,
// UNIMPLEMENTED for a model these tokenizers cannot apply exactly.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadSentencePieceTokenizer(
    const std::string& path, const TokenizerOptions& options = {});

// ParseSentencePieceTokenizer builds one from a model's bytes.
absl::StatusOr<std::unique_ptr<Tokenizer>> ParseSentencePieceTokenizer(
    const std::string& serialized_model, const TokenizerOptions& options = {});

}  // namespace ccs

#endif  // CCS_MODEL_TOKENIZER_SENTENCEPIECE_TOKENIZER_H_
