// Evaluator: what compression does to quality and speed, measured over the
// serving path (model/engine: Compress, Concat, Generate, BuildPrefix,
// ScoreContinuation) for each method an engine serves, against the
// uncompressed baseline NONE. Torch-free. Every result is a JSON value;
// model/eval/evaluate.cc writes them to one file.
//
//   Evaluator evaluator(*engine, corpus, stream, options, log);
//   absl::StatusOr<nlohmann::json> bleu = evaluator.Reconstruction();
//
// The measurements (docs/evaluation.md says what each means):
//   Reconstruction  greedy Reconstruct of held-out windows, corpus BLEU-4
//                   (sacrebleu's definition, bleu.h) per window length, and
//                   the compression ratio (context tokens / memory slots).
//                   At most as many tokens as were compressed are generated.
//   Documents       greedy Reconstruct of whole short test documents (8 to
//                   document_max_tokens tokens, their corpus source drawn
//                   in turn): corpus BLEU-4, and how often the text comes
//                   back cut short (under half the reference's characters)
//                   -- where a text begins and ends, which windows cut from
//                   running text do not test. Up to 1.5x the compressed
//                   tokens are generated, so running on is seen too.
//   Passkey         a key sentence at a random depth in filler text; correct
//                   when the key's digits are in the greedy answer. Contexts
//                   enter as successive appends of options.append_tokens
//                   (Compress + Concat, as a session grows).
//   QuestionAnswering  verse reference -> verse and headword -> definition
//                   from a few lines of context: normalised exact match and
//                   token F1 (qa_metrics.h), and each method / NONE.
//   Perplexity      of a window of text given nothing, the raw previous
//                   window (NONE) or its compressed memory.
//   Speed           Compress tokens/s, and the time to build the decoder's
//                   prefix cache from the memory (what a first token waits for).
//
// Each method's entry has "status": "ok", or "n/a" with a "reason" when the
// engine answers FAILED_PRECONDITION (e.g. an IC-Former without FT cannot
// answer); lengths a method cannot hold within the decoder's positions have
// "status": "exceeds_capacity". Other engine errors fail the call.
//
// Thread-safety: const methods over a const engine; one call at a time is
// the intended use (each already uses all of libtorch's threads).
#ifndef CCS_MODEL_EVAL_EVALUATION_H_
#define CCS_MODEL_EVAL_EVALUATION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "model/engine/engine.h"
#include "model/eval/eval_sets.h"

namespace ccs::model::eval {

struct EvalOptions {
  // Methods to measure, NONE included (it is the baseline of the ratios).
  std::vector<Method> methods = {Method::kNone};
  uint64_t seed = 1;
  // Jobs per Generate call and contexts per Compress call.
  int batch = 8;
  std::vector<int64_t> reconstruction_lengths = {128, 256, 512};
  int reconstruction_samples = 8;
  int document_samples = 12;
  int64_t document_max_tokens = 256;
  // Reconstructions do not stop before this share of the compressed tokens
  // (ReconstructMinTokens, as the server's Reconstruct).
  double reconstruct_min_share = kDefaultReconstructMinShare;
  std::vector<int64_t> passkey_lengths = {1024, 2048, 4096, 8192};
  int passkey_samples = 5;
  int passkey_max_new_tokens = 24;
  // Tokens per append when a long context is built up (Compress + Concat).
  int64_t append_tokens = 512;
  int qa_samples = 20;
  int qa_context_items = 4;
  int qa_max_new_tokens = 96;
  int64_t perplexity_window = 256;
  int perplexity_samples = 8;
  std::vector<int64_t> speed_lengths = {512, 2048, 8192};
  int speed_repeats = 3;
  // Positions a prompt's template and question may take beside the memory.
  int64_t prompt_allowance = 64;
};

class Evaluator {
 public:
  using Log = std::function<void(const std::string& line)>;

  // `engine`, `corpus` and `stream` must outlive the evaluator.
  Evaluator(const Engine& engine, const EvalCorpus& corpus, const TokenStream& stream,
            EvalOptions options, Log log);

  absl::StatusOr<nlohmann::json> Reconstruction() const;
  absl::StatusOr<nlohmann::json> Documents() const;
  absl::StatusOr<nlohmann::json> Passkey() const;
  absl::StatusOr<nlohmann::json> QuestionAnswering() const;
  absl::StatusOr<nlohmann::json> Perplexity() const;
  absl::StatusOr<nlohmann::json> Speed() const;

 private:
  // BLEU-4 of `method`'s greedy Reconstruct of each context (up to
  // `length_factor` x its tokens generated), as a results row;
  // FAILED_PRECONDITION when the method cannot compress or reconstruct.
  absl::StatusOr<nlohmann::json> ReconstructAll(Method method,
                                                const std::vector<std::vector<int32_t>>& contexts,
                                                double length_factor) const;
  // `ids` as a session would hold them after appends of append_tokens each.
  absl::StatusOr<std::shared_ptr<const Memory>> CompressByAppends(
      Method method, const std::vector<int32_t>& ids) const;
  // Compress of each context, in Compress calls of at most `batch`.
  absl::StatusOr<std::vector<std::shared_ptr<const Memory>>> CompressAll(
      Method method, const std::vector<std::vector<int32_t>>& contexts) const;
  // Generate in calls of at most `batch` jobs; the outputs as text.
  absl::StatusOr<std::vector<std::string>> GenerateAll(
      const std::vector<GenerationJob>& jobs) const;
  // Memory slots `tokens` of context become, estimated before compressing.
  int64_t EstimatedSlots(Method method, int64_t tokens) const;
  std::string Text(const std::vector<int32_t>& ids) const;

  const Engine& engine_;
  const EvalCorpus& corpus_;
  const TokenStream& stream_;
  const EvalOptions options_;
  const Log log_;
};

}  // namespace ccs::model::eval

#endif  // CCS_MODEL_EVAL_EVALUATION_H_
