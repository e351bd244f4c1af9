#include "model/runtime.h"

#include "gtest/gtest.h"

namespace ccs::model {
namespace {

TEST(ConfigureTorchTest, CpuWithThreads) {
  TorchOptions options;
  options.device = "cpu";
  options.intra_op_threads = 2;
  absl::StatusOr<TorchRuntime> runtime = ConfigureTorch(options);
  ASSERT_TRUE(runtime.ok()) << runtime.status();
  EXPECT_EQ(runtime->device, "cpu");
  EXPECT_EQ(runtime->intra_op_threads, 2);
  EXPECT_EQ(runtime->torch_version.substr(0, 2), "2.");
  // The wheel is a CUDA build: the GPU path is linked even without a GPU.
  EXPECT_TRUE(runtime->cuda_compiled);
}

TEST(ConfigureTorchTest, RejectsMalformedDevice) {
  for (const char* device : {"gpu", "cuda:", "cuda:-1", "cuda:x", ""}) {
    TorchOptions options;
    options.device = device;
    absl::StatusOr<TorchRuntime> runtime = ConfigureTorch(options);
    EXPECT_EQ(runtime.status().code(), absl::StatusCode::kInvalidArgument)
        << device;
    EXPECT_NE(runtime.status().message().find("cpu, cuda or cuda:N"),
              std::string::npos);
  }
}

TEST(ConfigureTorchTest, GpuBeyondVisibleDevicesIsFailedPrecondition) {
  TorchOptions options;
  options.device = "cuda:64";
  absl::StatusOr<TorchRuntime> runtime = ConfigureTorch(options);
  EXPECT_EQ(runtime.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ConfigureTorchTest, RejectsNegativeThreads) {
  TorchOptions options;
  options.intra_op_threads = -1;
  EXPECT_EQ(ConfigureTorch(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ccs::model
