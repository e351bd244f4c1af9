// Training small SentencePiece models, for tests (links libsentencepiece_train).
//
//   std::string model, error;
//   if (!TrainSentencePieceModel(sentences, "--model_type=bpe --vocab_size=300",
//                                &model, &error)) { ... }
//
// std-only for the reason given in sentencepiece_bridge.h. Not thread-safe
// (the library's trainer keeps global state).
#ifndef CCS_MODEL_TOKENIZER_INTERNAL_SENTENCEPIECE_TRAINING_H_
#define CCS_MODEL_TOKENIZER_INTERNAL_SENTENCEPIECE_TRAINING_H_

#include <string>
#include <vector>

namespace ccs {
namespace tokenizer_internal {

// TrainSentencePieceModel trains on `sentences` with the trainer flags `args`
// and sets *serialized to the model's bytes (what tokenizer.model holds).
bool TrainSentencePieceModel(const std::vector<std::string>& sentences,
                             const std::string& args, std::string* serialized,
                             std::string* error);

}  // namespace tokenizer_internal
}  // namespace ccs

#endif  // CCS_MODEL_TOKENIZER_INTERNAL_SENTENCEPIECE_TRAINING_H_
