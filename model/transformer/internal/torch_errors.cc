#include "model/transformer/internal/torch_errors.h"

#include <new>
#include <string>

#include <c10/util/Exception.h>

#include "absl/strings/str_cat.h"

namespace ccs::model::transformer::internal {

absl::Status StatusFromException(const std::exception& e, absl::string_view what) {
  if (const auto* oom = dynamic_cast<const c10::OutOfMemoryError*>(&e)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        what, ": out of memory: ", oom->what_without_backtrace()));
  }
  if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": out of host memory"));
  }
  if (const auto* error = dynamic_cast<const c10::Error*>(&e)) {
    return absl::InternalError(
        absl::StrCat(what, ": libtorch: ", error->what_without_backtrace()));
  }
  return absl::InternalError(absl::StrCat(what, ": ", e.what()));
}

}  // namespace ccs::model::transformer::internal
