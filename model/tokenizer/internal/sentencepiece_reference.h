// The SentencePiece library itself, for tests: trains small models and
// encodes and decodes with the library's own processor, the reference the
// tokenizer's own implementation is checked against.
//
//   std::string model, error;
//   TrainSentencePieceModel(sentences, "--model_type=bpe --vocab_size=300", &model, &error);
//   std::unique_ptr<SentencePieceReference> sp = SentencePieceReference::Load(model, &error);
//   std::vector<int> ids;
//   sp->Encode("text", &ids, &error);
//
// Test-only: libsentencepiece bundles protobuf 3.14, which crashes a process
// that also loads libprotobuf (see sentencepiece_model.h). Its headers define
// absl::string_view as std::string_view and clash with Debian's abseil, so
// this header is std-only and only sentencepiece_reference.cc includes them.
// Const methods are thread-safe; training is not.
#ifndef CCS_MODEL_TOKENIZER_INTERNAL_SENTENCEPIECE_REFERENCE_H_
#define CCS_MODEL_TOKENIZER_INTERNAL_SENTENCEPIECE_REFERENCE_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}  // namespace sentencepiece

namespace ccs {
namespace tokenizer_internal {

// TrainSentencePieceModel trains on `sentences` with the trainer flags `args`
// and sets *serialized to the model's bytes (what tokenizer.model holds).
bool TrainSentencePieceModel(const std::vector<std::string>& sentences,
                             const std::string& args, std::string* serialized,
                             std::string* error);

class SentencePieceReference {
 public:
  // Load parses a model's bytes; on failure returns null and sets *error.
  static std::unique_ptr<SentencePieceReference> Load(const std::string& serialized,
                                                      std::string* error);
  ~SentencePieceReference();

  bool Encode(std::string_view text, std::vector<int>* ids, std::string* error) const;
  bool Decode(const std::vector<int>& ids, std::string* text, std::string* error) const;
  int piece_size() const;
  bool IsByte(int id) const;
  int bos_id() const;
  int eos_id() const;
  int pad_id() const;
  int unk_id() const;

 private:
  SentencePieceReference();
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
};

}  // namespace tokenizer_internal
}  // namespace ccs

#endif  // CCS_MODEL_TOKENIZER_INTERNAL_SENTENCEPIECE_REFERENCE_H_
