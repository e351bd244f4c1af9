// Internal to model/transformer: the one place where libtorch exceptions
// become absl::Status (STYLE.md habit 4). Torch-facing.
//
//   absl::StatusOr<torch::Tensor> out = internal::GuardTorch("forward", [&] {
//     return absl::StatusOr<torch::Tensor>(model.forward(x));  // may throw
//   });
//
// Thread-safety: stateless.
#ifndef CCS_MODEL_TRANSFORMER_INTERNAL_TORCH_ERRORS_H_
#define CCS_MODEL_TRANSFORMER_INTERNAL_TORCH_ERRORS_H_

#include <exception>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace ccs::model::transformer::internal {

// StatusFromException maps an exception thrown while doing `what`:
// out-of-memory (host or device) to RESOURCE_EXHAUSTED, anything else to
// INTERNAL, with libtorch's message (without its C++ backtrace).
absl::Status StatusFromException(const std::exception& e, absl::string_view what);

// GuardTorch runs `body` (returning absl::Status or absl::StatusOr<T>) and
// returns its result, or the Status of any exception it throws.
template <typename Body>
auto GuardTorch(absl::string_view what, Body&& body) -> decltype(body()) {
  try {
    return std::forward<Body>(body)();
  } catch (const std::exception& e) {
    return StatusFromException(e, what);
  }
}

}  // namespace ccs::model::transformer::internal

#endif  // CCS_MODEL_TRANSFORMER_INTERNAL_TORCH_ERRORS_H_
