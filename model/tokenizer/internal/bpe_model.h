// The byte-level BPE model: the vocabulary, the merge ranks and the merging
// of one pre-token's bytes into ids (Hugging Face's BPE model behind a
// ByteLevel pre-tokenizer).
//
//   BpeModel::Config config;  // vocab, merges, flags from tokenizer.json
//   absl::StatusOr<BpeModel> model = BpeModel::Create(std::move(config));
//   model->EncodeWord("hello", &ids);   // raw bytes of one pre-token
//
// Immutable after construction; thread-safe.
#ifndef CCS_MODEL_TOKENIZER_INTERNAL_BPE_MODEL_H_
#define CCS_MODEL_TOKENIZER_INTERNAL_BPE_MODEL_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ccs {
namespace tokenizer_internal {

// ByteToUnicode returns GPT-2's printable stand-in for a byte, as UTF-8
// (byte 0x20, the space, is "Ġ"; printable ASCII stands for itself).
std::string ByteToUnicode(uint8_t byte);

// ByteLevelDecode returns the bytes a token string stands for: each character
// mapped back through ByteToUnicode, or, if any character is not one of the
// 256 stand-ins, the token's own UTF-8 (Hugging Face's ByteLevel decoder).
std::string ByteLevelDecode(absl::string_view token);

class BpeModel {
 public:
  struct Config {
    // Token (as the vocabulary spells it, byte-level characters) -> id.
    std::vector<std::pair<std::string, int32_t>> vocab;
    // Merges in rank order: the pair's two tokens.
    std::vector<std::pair<std::string, std::string>> merges;
    std::optional<std::string> unk_token;
    bool fuse_unk = false;
    // A pre-token that is itself in the vocabulary becomes that one id.
    bool ignore_merges = false;
  };

  // Create checks that every merge names two vocabulary tokens whose
  // concatenation is one too (INVALID_ARGUMENT naming the merge otherwise).
  static absl::StatusOr<BpeModel> Create(Config config);

  // EncodeWord appends the ids of one pre-token, given as raw bytes. Bytes
  // whose stand-in is not in the vocabulary become the unknown token, or
  // nothing if there is none (as in Hugging Face).
  void EncodeWord(absl::string_view bytes, std::vector<int32_t>* ids) const;

  std::optional<int32_t> TokenToId(absl::string_view token) const;

 private:
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  static uint64_t PairKey(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  const Merge* FindMerge(int32_t left, int32_t right) const;

  absl::flat_hash_map<std::string, int32_t> vocab_;
  absl::flat_hash_map<uint64_t, Merge> merges_;
  // Raw bytes of each vocabulary token made of byte stand-ins -> id; used
  // with ignore_merges.
  absl::flat_hash_map<std::string, int32_t> bytes_to_id_;
  std::array<int32_t, 256> byte_id_{};  // -1: the byte's stand-in is unknown
  int32_t unk_id_ = -1;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
};

}  // namespace tokenizer_internal
}  // namespace ccs

#endif  // CCS_MODEL_TOKENIZER_INTERNAL_BPE_MODEL_H_
