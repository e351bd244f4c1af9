// Hugging Face tokenizer.json files with a byte-level BPE model: GPT-2,
// GPT-NeoX (Pythia) and SmolLM2.
//
//   absl::StatusOr<std::unique_ptr<ccs::Tokenizer>> tokenizer =
//       ccs::LoadHuggingFaceTokenizer("models/pythia/tokenizer.json");
//
// Supported: model "BPE" (vocab; merges as "a b" strings or [a, b] arrays;
// unk_token, fuse_unk, ignore_merges); added_tokens (special or not, lstrip,
// rstrip, normalized; matched in the raw text before pre-tokenization,
// leftmost-longest); pre_tokenizer "ByteLevel" (add_prefix_space, use_regex)
// or a "Sequence" of "Digits" (individual_digits) steps ending in ByteLevel;
// no normalizer; decoder "ByteLevel". Anything else is refused at load time
// with UNIMPLEMENTED (a known type or option these tokenizers lack) or
// INVALID_ARGUMENT (a malformed file), never silently mis-encoded. The
// post_processor is not applied: Encode gives what Hugging Face's
// encode(text, add_special_tokens=False) gives; EncodeOptions add BOS/EOS.
//
// Special ids: the names in TokenizerOptions; else bos_token, eos_token and
// pad_token of a tokenizer_config.json beside the file; else by convention
// the special tokens "<|endoftext|>" (BOS and EOS, as in GPT-2 and GPT-NeoX),
// "<s>", "</s>", "<|padding|>" and "<pad>" where present.
//
// Thread-safe: see tokenizer.h.
#ifndef CCS_MODEL_TOKENIZER_BYTE_LEVEL_BPE_H_
#define CCS_MODEL_TOKENIZER_BYTE_LEVEL_BPE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/tokenizer/tokenizer.h"

namespace ccs {

// LoadHuggingFaceTokenizer reads a tokenizer.json file (and the
// tokenizer_config.json beside it, if any). NOT_FOUND if it cannot be read.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadHuggingFaceTokenizer(
    const std::string& path, const TokenizerOptions& options = {});

// ParseHuggingFaceTokenizer builds a tokenizer from tokenizer.json text;
// `config_json`, if not empty, is the text of a tokenizer_config.json.
absl::StatusOr<std::unique_ptr<Tokenizer>> ParseHuggingFaceTokenizer(
    absl::string_view json, const TokenizerOptions& options = {},
    absl::string_view config_json = "");

}  // namespace ccs

#endif  // CCS_MODEL_TOKENIZER_BYTE_LEVEL_BPE_H_
