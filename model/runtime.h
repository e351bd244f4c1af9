// Process-wide libtorch settings and facts, behind a torch-free header.
//
//   ccs::model::TorchOptions options;
//   options.device = "cpu";
//   options.intra_op_threads = 2;
//   absl::StatusOr<ccs::model::TorchRuntime> runtime =
//       ccs::model::ConfigureTorch(options);
//
// ConfigureTorch is called once, by main(), before any model is built: it sets
// libtorch's thread pools, which libtorch allows only before first use.
// Thread-safety: the returned struct is a plain value.
#ifndef CCS_MODEL_RUNTIME_H_
#define CCS_MODEL_RUNTIME_H_

#include <string>

#include "absl/status/statusor.h"

namespace ccs::model {

struct TorchOptions {
  // "cpu", "cuda" (the first GPU) or "cuda:N".
  std::string device = "cpu";
  // Threads of libtorch's intra-op pool (one matrix product split across
  // them). 0 keeps libtorch's default, which may be a single thread.
  int intra_op_threads = 0;
};

// What libtorch reports about this process after ConfigureTorch.
struct TorchRuntime {
  std::string torch_version;    // e.g. "2.9.1"
  bool cuda_compiled = false;   // libtorch was built with CUDA support
  int cuda_device_count = 0;    // GPUs visible now (0 without a driver)
  std::string device;           // normalised: "cpu" or "cuda:N"
  int intra_op_threads = 0;     // threads actually in use
};

// ConfigureTorch applies `options` and reports the result. Errors:
// INVALID_ARGUMENT for a malformed device string or a negative thread count;
// FAILED_PRECONDITION when a GPU is asked for and none is usable, naming the
// devices that are.
absl::StatusOr<TorchRuntime> ConfigureTorch(const TorchOptions& options);

}  // namespace ccs::model

#endif  // CCS_MODEL_RUNTIME_H_
