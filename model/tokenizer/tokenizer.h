// Tokenizers for the model core: text to token ids and back.
//
// One interface, two implementations: Hugging Face tokenizer.json files with a
// byte-level BPE model (GPT-2, GPT-NeoX / Pythia, SmolLM2), and SentencePiece
// tokenizer.model files (Llama-2). LoadTokenizer picks by file.
//
//   absl::StatusOr<std::unique_ptr<ccs::Tokenizer>> tokenizer =
//       ccs::LoadTokenizer("models/pythia/tokenizer.json");
//   if (!tokenizer.ok()) return tokenizer.status();
//   absl::StatusOr<std::vector<int32_t>> ids = (*tokenizer)->Encode("Hello world");
//   absl::StatusOr<std::string> text = (*tokenizer)->Decode(*ids);
//
//   ccs::StreamingDetokenizer stream(**tokenizer);
//   for (int32_t id : generated) {
//     absl::StatusOr<std::string> delta = stream.Add(id);  // whole characters
//     ...
//   }
//   std::string tail = stream.Flush();
//
// Thread safety: a Tokenizer is immutable once loaded; its methods are const
// and may be called from many threads at once. A StreamingDetokenizer holds
// one stream's state: use it from one thread at a time.
#ifndef CCS_MODEL_TOKENIZER_TOKENIZER_H_
#define CCS_MODEL_TOKENIZER_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace ccs {

// EncodeOptions control one Encode call. Encode with the defaults gives the
// ids of Hugging Face's `encode(text, add_special_tokens=False)` and of
// SentencePiece's `EncodeAsIds(text)`.
struct EncodeOptions {
  // Prepend the tokenizer's BOS id. Encode fails with FAILED_PRECONDITION if
  // the tokenizer defines none (bos_id() is empty).
  bool add_bos = false;
  // Append the tokenizer's EOS id; FAILED_PRECONDITION if it defines none.
  bool add_eos = false;
  // Recognise special tokens (such as "<|endoftext|>") spelled out in the
  // text, as Hugging Face does. Set to false for untrusted text: its special
  // tokens are then encoded as ordinary text. Non-special added tokens are
  // always recognised. SentencePiece has no added tokens and ignores this.
  bool parse_special_tokens = true;
};

// DecodeOptions control decoding.
struct DecodeOptions {
  // Leave out special tokens (BOS, EOS, padding and other control tokens).
  // SentencePiece control tokens decode to nothing either way.
  bool skip_special_tokens = false;
};

// TokenizerOptions name the special tokens where a file does not. Empty
// fields keep the defaults that the loaders document.
struct TokenizerOptions {
  std::string bos_token;  // e.g. "<|im_start|>"
  std::string eos_token;  // e.g. "<|im_end|>"
  std::string pad_token;  // e.g. "<|padding|>"
};

// Tokenizer is the interface the model core encodes and decodes through.
class Tokenizer {
 public:
  // DecodeState is what decoding remembers between the tokens of one text
  // (SentencePiece drops the space that starts a text). Start each text with
  // a fresh one.
  struct DecodeState {
    bool text_started = false;           // some text has been produced
    bool dropped_leading_space = false;  // the previous piece lost its space
  };

  virtual ~Tokenizer() = default;

  // Encode returns the ids of `text`. Fails with INVALID_ARGUMENT (naming the
  // byte offset) if `text` is not valid UTF-8, and FAILED_PRECONDITION if
  // options ask for a BOS or EOS that the tokenizer does not define.
  absl::StatusOr<std::vector<int32_t>> Encode(
      absl::string_view text, const EncodeOptions& options = {}) const;

  // Decode returns the bytes that `ids` stand for. The result is raw bytes:
  // ids whose bytes end or start inside a character (byte-level BPE splits
  // characters) give invalid UTF-8 unless their neighbours complete it.
  // Fails with INVALID_ARGUMENT for an id outside [0, vocab_size()) (a model
  // may have more embedding rows than the vocabulary has tokens). Ids inside
  // the range that name no token decode to nothing.
  absl::StatusOr<std::string> Decode(absl::Span<const int32_t> ids,
                                     const DecodeOptions& options = {}) const;

  // DecodeAppend appends the bytes of one token to `out`, as Decode would
  // after the tokens that `state` has seen, and updates `state`. Decode is
  // DecodeAppend over each id with one state. INVALID_ARGUMENT as Decode.
  virtual absl::Status DecodeAppend(int32_t id, const DecodeOptions& options,
                                    DecodeState* state,
                                    std::string* out) const = 0;

  // vocab_size returns one more than the largest id the tokenizer defines.
  virtual int32_t vocab_size() const = 0;

  // TokenToId returns the id of a token as the vocabulary spells it (an
  // added or special token's text such as "<|endoftext|>", or a model token
  // such as "Ġthe" or "▁the"), or nothing if there is no such token.
  virtual std::optional<int32_t> TokenToId(absl::string_view token) const = 0;

  // IdToToken returns the vocabulary's spelling of `id`, or nothing if the id
  // names no token.
  virtual std::optional<std::string> IdToToken(int32_t id) const = 0;

  // IsSpecial returns whether `id` is a special (control) token.
  virtual bool IsSpecial(int32_t id) const = 0;

  // The special ids, where the tokenizer defines them.
  virtual std::optional<int32_t> bos_id() const = 0;
  virtual std::optional<int32_t> eos_id() const = 0;
  virtual std::optional<int32_t> pad_id() const = 0;

 protected:
  // EncodeText appends the ids of `text`, which is valid UTF-8, to `ids`.
  virtual absl::Status EncodeText(absl::string_view text,
                                  bool parse_special_tokens,
                                  std::vector<int32_t>* ids) const = 0;
};

// LoadTokenizer loads the tokenizer at `path`: a Hugging Face tokenizer.json
// (byte-level BPE), a SentencePiece model (tokenizer.model), or a directory
// holding either (tokenizer.json is preferred). Files are told apart by
// name (*.json, *.model) and otherwise by content. NOT_FOUND if there is no
// such file; INVALID_ARGUMENT for a malformed file; UNIMPLEMENTED for a valid
// file that uses a feature these tokenizers do not implement.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(
    const std::string& path, const TokenizerOptions& options = {});

// StreamingDetokenizer turns ids arriving one at a time into text that always
// ends on a whole UTF-8 character: bytes of a character that is still
// incomplete are held back until the tokens that complete it arrive. The
// chunks are valid UTF-8: a byte that can never become part of a valid
// character is replaced by U+FFFD. For ids whose full Decode is valid UTF-8,
// the chunks (with Flush) concatenate to exactly that Decode.
class StreamingDetokenizer {
 public:
  // `tokenizer` must outlive this object.
  explicit StreamingDetokenizer(const Tokenizer& tokenizer,
                                const DecodeOptions& options = {});

  // Add decodes one more id and returns the text completed by it (possibly
  // empty). INVALID_ARGUMENT for an id outside the vocabulary; the stream is
  // then unchanged.
  absl::StatusOr<std::string> Add(int32_t id);

  // Flush ends the stream: returns what was held back (an incomplete
  // character at the end of the stream becomes U+FFFD) and resets the
  // detokenizer for a new text.
  std::string Flush();

 private:
  const Tokenizer& tokenizer_;
  const DecodeOptions options_;
  Tokenizer::DecodeState state_;
  std::string pending_;  // bytes decoded but not yet returned
};

}  // namespace ccs

#endif  // CCS_MODEL_TOKENIZER_TOKENIZER_H_
