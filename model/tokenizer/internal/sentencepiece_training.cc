// Includes SentencePiece's headers: no abseil here (see sentencepiece_bridge.h).
#include "model/tokenizer/internal/sentencepiece_training.h"

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
  sentencepiece::util::Status status() const override {
    return sentencepiece::util::Status();
  }

 private:
  const std::vector<std::string>& sentences_;
  size_t index_ = 0;
};

}  // namespace

bool TrainSentencePieceModel(const std::vector<std::string>& sentences,
                             const std::string& args, std::string* serialized,
                             std::string* error) {
  VectorIterator iterator(sentences);
  const sentencepiece::util::Status status =
      sentencepiece::SentencePieceTrainer::Train(args, &iterator, serialized);
  if (!status.ok()) *error = status.ToString();
  return status.ok();
}

}  // namespace tokenizer_internal
}  // namespace ccs
