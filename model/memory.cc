#include "model/memory.h"

namespace ccs::model {

absl::string_view MethodName(Method method) {
  switch (method) {
    case Method::kRcc:
      return "RCC";
    case Method::kIcFormer:
      return "IC_FORMER";
    case Method::kNone:
      return "NONE";
  }
  return "UNKNOWN";
}

}  // namespace ccs::model
