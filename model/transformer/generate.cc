#include "model/transformer/generate.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "model/transformer/decode_batch.h"

namespace ccs::model::transformer {

// A batch whose sequences all join at once and run until the last one
// finishes: one implementation of decoding, shared with the server's
// continuous batch.
absl::StatusOr<std::vector<GenerationResult>> Generate(
    const Decoder& decoder, const std::vector<GenerationRequest>& requests,
    const GenerateOptions& options) {
  if (requests.empty()) return absl::InvalidArgumentError("Generate: no requests");
  DecodeBatch batch(decoder);
  absl::StatusOr<std::vector<DecodeBatch::SequenceId>> ids =
      batch.Add(requests, options.prefill_hook);
  if (!ids.ok()) return ids.status();
  // A fresh batch numbers its sequences from 0, in order: id == request index.
  std::vector<GenerationResult> results(requests.size());
  while (!batch.empty()) {
    absl::StatusOr<std::vector<DecodeBatch::Finished>> finished = batch.Step(options.on_token);
    if (!finished.ok()) return finished.status();
    for (DecodeBatch::Finished& f : *finished) results[f.id] = std::move(f.result);
  }
  return results;
}

}  // namespace ccs::model::transformer
