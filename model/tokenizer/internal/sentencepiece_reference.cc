// Includes SentencePiece's headers: no abseil here (see the header).
#include "model/tokenizer/internal/sentencepiece_reference.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

namespace ccs {
namespace tokenizer_internal {
namespace {

class VectorIterator : public sentencepiece::SentenceIterator {
 public:
  explicit VectorIterator(const std::vector<std::string>& sentences)
      : sentences_(sentences) {}
  bool done() const override { return index_ >= sentences_.size(); }
  void Next() override { ++index_; }
  const std::string& value() const override { return sentences_[index_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  const std::vector<std::string>& sentences_;
  size_t index_ = 0;
};

bool Check(const sentencepiece::util::Status& status, std::string* error) {
  if (!status.ok()) *error = status.ToString();
  return status.ok();
}

}  // namespace

bool TrainSentencePieceModel(const std::vector<std::string>& sentences,
                             const std::string& args, std::string* serialized,
                             std::string* error) {
  VectorIterator iterator(sentences);
  return Check(sentencepiece::SentencePieceTrainer::Train(args, &iterator, serialized), error);
}

SentencePieceReference::SentencePieceReference()
    : processor_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {}

SentencePieceReference::~SentencePieceReference() = default;

std::unique_ptr<SentencePieceReference> SentencePieceReference::Load(
    const std::string& serialized, std::string* error) {
  std::unique_ptr<SentencePieceReference> sp(new SentencePieceReference());
  if (!Check(sp->processor_->LoadFromSerializedProto(serialized), error)) return nullptr;
  return sp;
}

bool SentencePieceReference::Encode(std::string_view text, std::vector<int>* ids,
                                    std::string* error) const {
  return Check(processor_->Encode(text, ids), error);
}

bool SentencePieceReference::Decode(const std::vector<int>& ids, std::string* text,
                                    std::string* error) const {
  return Check(processor_->Decode(ids, text), error);
}

int SentencePieceReference::piece_size() const { return processor_->GetPieceSize(); }
bool SentencePieceReference::IsByte(int id) const { return processor_->IsByte(id); }
int SentencePieceReference::bos_id() const { return processor_->bos_id(); }
int SentencePieceReference::eos_id() const { return processor_->eos_id(); }
int SentencePieceReference::pad_id() const { return processor_->pad_id(); }
int SentencePieceReference::unk_id() const { return processor_->unk_id(); }

}  // namespace tokenizer_internal
}  // namespace ccs
