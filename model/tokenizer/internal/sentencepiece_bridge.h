// A narrow, std-only view of libsentencepiece's processor.
//
// SentencePiece's headers define absl::string_view as std::string_view, which
// clashes with Debian's abseil: no translation unit may include both. This
// header has neither, so abseil code (the Tokenizer) can use SentencePiece
// through it; only sentencepiece_bridge.cc includes the library's headers.
//
//   std::string error;
//   std::unique_ptr<SentencePieceBridge> sp = SentencePieceBridge::Load(bytes, &error);
//   std::vector<int> ids;
//   if (!sp->Encode(text, &ids, &error)) ...
//
// Const methods are thread-safe (SentencePieceProcessor's are).
#ifndef CCS_MODEL_TOKENIZER_INTERNAL_SENTENCEPIECE_BRIDGE_H_
#define CCS_MODEL_TOKENIZER_INTERNAL_SENTENCEPIECE_BRIDGE_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}  // namespace sentencepiece

namespace ccs {
namespace tokenizer_internal {

class SentencePieceBridge {
 public:
  // Load parses a serialized ModelProto (the bytes of a tokenizer.model);
  // on failure returns null and sets *error.
  static std::unique_ptr<SentencePieceBridge> Load(const std::string& serialized,
                                                   std::string* error);
  ~SentencePieceBridge();

  // Encode sets *ids to the library's ids of `text` (no BOS or EOS).
  bool Encode(std::string_view text, std::vector<int>* ids, std::string* error) const;
  // DecodeIds is the library's own decoding (it replaces invalid UTF-8).
  bool DecodeIds(const std::vector<int>& ids, std::string* text, std::string* error) const;

  int piece_size() const;
  const std::string& IdToPiece(int id) const;
  // PieceToId returns -1 for a piece that is not in the vocabulary.
  int PieceToId(std::string_view piece) const;
  bool IsControl(int id) const;
  bool IsUnknown(int id) const;
  bool IsByte(int id) const;
  // The special ids, -1 where the model has none.
  int bos_id() const;
  int eos_id() const;
  int pad_id() const;
  int unk_id() const;

  // From the model's NormalizerSpec: whether encoding prepends a space
  // ("▁") and whether it collapses runs of white space. Decoding drops the
  // space that starts a text if either is set.
  bool add_dummy_prefix() const { return add_dummy_prefix_; }
  bool remove_extra_whitespaces() const { return remove_extra_whitespaces_; }
  // What the unknown token decodes to (" ⁇ " unless the model says otherwise).
  const std::string& unk_surface() const { return unk_surface_; }

 private:
  SentencePieceBridge();

  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  bool add_dummy_prefix_ = true;
  bool remove_extra_whitespaces_ = true;
  std::string unk_surface_;
};

}  // namespace tokenizer_internal
}  // namespace ccs

#endif  // CCS_MODEL_TOKENIZER_INTERNAL_SENTENCEPIECE_BRIDGE_H_
