// What the load tool sends: the mix of operations, the sizes of contexts,
// and the contexts themselves (slices of a corpus file, or generated text).
//
//   absl::StatusOr<Mix> mix = ParseMix("compress:1,generate:3,reconstruct:1");
//   Operation op = mix->Draw(unit_random);      // generate 3 times in 5
//   ContextSource contexts = ContextSource::Generated();
//   std::mt19937_64 random(seed);
//   std::string text = contexts.Draw(4096, random);
//
// Everything is drawn from an explicitly seeded std::mt19937_64, so that a
// run is repeatable: the same seed gives the same operations, contexts and
// arrival times.
//
// Thread-safety: Mix and ContextSource are immutable after construction and
// may be shared; each thread brings its own generator.
#ifndef CCS_CLIENT_LOAD_WORKLOAD_H_
#define CCS_CLIENT_LOAD_WORKLOAD_H_

#include <array>
#include <cstdint>
#include <random>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ccs::client {

enum class Operation { kCompress = 0, kGenerate = 1, kReconstruct = 2 };
inline constexpr int kOperationCount = 3;

// "compress", "generate", "reconstruct".
absl::string_view OperationName(Operation op);

// Uniform in [0, 1) from `random`.
double UnitRandom(std::mt19937_64& random);

class Mix {
 public:
  // ParseMix: "name:weight,..." with names from OperationName and
  // non-negative weights, at least one positive; operations left out weigh
  // 0. Errors: INVALID_ARGUMENT saying what is allowed.
  static absl::StatusOr<Mix> Parse(absl::string_view text);

  // The operation for a uniform `unit_random` in [0, 1).
  Operation Draw(double unit_random) const;
  double weight(Operation op) const { return weights_[static_cast<int>(op)]; }
  // Whether any operation needs a stored session (Generate, Reconstruct).
  bool NeedsSessions() const;
  // "compress:1,generate:3,reconstruct:1".
  std::string ToString() const;

 private:
  std::array<double, kOperationCount> weights_{};
};

// A closed range of sizes, "MIN:MAX" or "N".
struct SizeRange {
  int64_t min = 0;
  int64_t max = 0;

  // Parse: MIN and MAX positive, MIN <= MAX.
  static absl::StatusOr<SizeRange> Parse(absl::string_view text);
  // Uniform in [min, max].
  int64_t Draw(std::mt19937_64& random) const;
};

class ContextSource {
 public:
  // Slices of `corpus` (UTF-8 text, at least 1 byte; held in memory).
  // Errors: INVALID_ARGUMENT for an empty corpus.
  static absl::StatusOr<ContextSource> FromCorpus(std::string corpus);
  // English-like sentences from a fixed vocabulary.
  static ContextSource Generated();

  // A text of `bytes` bytes, or up to 3 fewer so as to end on a character
  // boundary: a slice starting at a random word of the corpus, wrapping
  // around to its start (after a blank line) when it runs off the end; or
  // generated sentences.
  std::string Draw(int64_t bytes, std::mt19937_64& random) const;

  bool is_corpus() const { return !corpus_.empty(); }

 private:
  explicit ContextSource(std::string corpus) : corpus_(std::move(corpus)) {}
  std::string DrawFromCorpus(int64_t bytes, std::mt19937_64& random) const;
  static std::string Generate(int64_t bytes, std::mt19937_64& random);

  std::string corpus_;  // empty: generated text
};

}  // namespace ccs::client

#endif  // CCS_CLIENT_LOAD_WORKLOAD_H_
