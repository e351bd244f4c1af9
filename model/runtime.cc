#include "model/runtime.h"

#include <torch/torch.h>
#include <torch/version.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ccs::model {
namespace {

// Parses "cpu", "cuda" or "cuda:N" into a device index (-1 for the CPU).
absl::StatusOr<int> ParseDeviceIndex(const std::string& device) {
  if (device == "cpu") return -1;
  if (device == "cuda") return 0;
  int index = 0;
  if (absl::StartsWith(device, "cuda:") &&
      absl::SimpleAtoi(device.substr(5), &index) && index >= 0) {
    return index;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "device \"", device, "\" is not valid: use cpu, cuda or cuda:N"));
}

}  // namespace

absl::StatusOr<TorchRuntime> ConfigureTorch(const TorchOptions& options) {
  absl::StatusOr<int> index = ParseDeviceIndex(options.device);
  if (!index.ok()) return index.status();
  if (options.intra_op_threads < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "intra_op_threads is ", options.intra_op_threads,
        ": use 0 (libtorch's default) or a positive count"));
  }
  TorchRuntime runtime;
  runtime.torch_version = TORCH_VERSION;
  runtime.cuda_compiled = at::detail::getCUDAHooks().isBuilt();
  runtime.cuda_device_count = static_cast<int>(torch::cuda::device_count());
  if (*index >= 0 && *index >= runtime.cuda_device_count) {
    return absl::FailedPreconditionError(absl::StrCat(
        "device ", options.device, " asked for, but ",
        runtime.cuda_device_count, " CUDA device(s) are usable here",
        runtime.cuda_device_count == 0 ? ": use --device=cpu" : ""));
  }
  runtime.device = *index < 0 ? "cpu" : absl::StrCat("cuda:", *index);
  if (options.intra_op_threads > 0) {
    at::set_num_threads(options.intra_op_threads);
  }
  runtime.intra_op_threads = at::get_num_threads();
  return runtime;
}

}  // namespace ccs::model
