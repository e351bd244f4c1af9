// What the model benchmarks share: timing, failing loudly, and the
// SmolLM2-shaped RCC model they measure (the base model as decoder, a copy of
// it as encoder, random projections). Torch-facing; benchmarks only.
#ifndef CCS_MODEL_BENCHMARKS_BENCH_UTIL_H_
#define CCS_MODEL_BENCHMARKS_BENCH_UTIL_H_

#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/rcc/rcc_model.h"
#include "model/transformer/decoder.h"

namespace ccs::model::bench {

// Check returns the value, or prints the error and exits: a benchmark has
// nobody to return a Status to.
template <typename T>
T Check(absl::StatusOr<T> value) {
  if (!value.ok()) {
    std::cerr << value.status() << "\n";
    std::exit(1);
  }
  return *std::move(value);
}

// Seconds is the best wall time of `repeats` runs.
double Seconds(const std::function<void()>& run, int repeats);

// Ints parses "512,1024" (positive numbers), exiting on anything else.
std::vector<int64_t> Ints(const std::string& list);

// Setup configures `threads` libtorch threads and loads `model_dir` as a
// float32 decoder, plus an RCC model whose encoder is a copy of that
// decoder and whose projections are random (seeded).
struct RccSetup {
  std::shared_ptr<const transformer::Decoder> decoder;
  std::unique_ptr<rcc::RccModel> rcc;
};
RccSetup LoadRccSetup(const std::string& model_dir, int threads);

}  // namespace ccs::model::bench

#endif  // CCS_MODEL_BENCHMARKS_BENCH_UTIL_H_
