#include "model/train/trainer.h"

#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace ccs::model::train {
namespace {

std::string TempDir(const std::string& name) {
  const std::string dir = std::string(getenv("TEST_TMPDIR")) + "/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// A least-squares problem: learn w so that x w = y.
struct Problem {
  torch::Tensor x = torch::randn({64, 4}, torch::TensorOptions().dtype(torch::kFloat));
  torch::Tensor y = x.matmul(torch::tensor({1.0f, -2.0f, 0.5f, 3.0f}));
  absl::StatusOr<torch::Tensor> Loss(const torch::Tensor& w, int64_t step) const {
    const torch::Tensor rows = torch::arange(8 * (step % 8), 8 * (step % 8) + 8);
    return (x.index_select(0, rows).matmul(w) - y.index_select(0, rows)).pow(2).mean();
  }
};

TrainerOptions Options(int64_t total_steps) {
  TrainerOptions o;
  o.schedule = {/*peak=*/0.1, /*warmup_steps=*/2, total_steps, /*final_fraction=*/0.1};
  o.weight_decay = 0.0;
  return o;
}

TEST(TrainerTest, AdamWLowersTheLossAndCountsSteps) {
  torch::manual_seed(0);
  const Problem p;
  torch::Tensor w = torch::zeros({4});
  Trainer trainer(Options(200), {{"w", w}});
  double first = 0, last = 0;
  for (int64_t s = 0; s < 200; ++s) {
    absl::StatusOr<StepStats> stats = trainer.Step([&] { return p.Loss(w, s); }, 8);
    ASSERT_TRUE(stats.ok()) << stats.status();
    if (s == 0) first = stats->loss;
    last = stats->loss;
  }
  EXPECT_EQ(trainer.step(), 200);
  EXPECT_LT(last, first * 1e-3);
  EXPECT_NEAR(w[1].item<double>(), -2.0, 0.05);
  EXPECT_NE(trainer.ProgressLine().find("step 200/200"), std::string::npos);
}

TEST(TrainerTest, NonFiniteLossChangesNothing) {
  torch::Tensor w = torch::ones({2});
  Trainer trainer(Options(10), {{"w", w}});
  absl::StatusOr<StepStats> stats = trainer.Step(
      [&]() -> absl::StatusOr<torch::Tensor> { return (w * std::nan("")).sum(); }, 1);
  EXPECT_EQ(stats.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(trainer.step(), 0);
  EXPECT_TRUE(torch::equal(w, torch::ones({2})));
}

TEST(TrainerTest, ClippingBoundsTheUpdateAndReportsTheNormBefore) {
  torch::Tensor w = torch::zeros({2});
  TrainerOptions o = Options(10);
  o.clip_norm = 1.0;
  Trainer trainer(o, {{"w", w}});
  absl::StatusOr<StepStats> stats = trainer.Step(
      [&]() -> absl::StatusOr<torch::Tensor> { return (w * torch::tensor({300.0f, 400.0f})).sum(); },
      1);
  ASSERT_TRUE(stats.ok());
  EXPECT_NEAR(stats->grad_norm, 500.0, 1e-3);
}

// Stopping, saving and resuming gives what running straight through gives.
TEST(TrainerTest, ResumeFromSavedStateEqualsAnUninterruptedRun) {
  torch::manual_seed(1);
  const Problem p;
  torch::Tensor straight = torch::zeros({4});
  {
    Trainer trainer(Options(20), {{"w", straight}});
    for (int64_t s = 0; s < 20; ++s) ASSERT_TRUE(trainer.Step([&] { return p.Loss(straight, s); }, 8).ok());
  }
  const std::string dir = TempDir("resume");
  torch::Tensor resumed = torch::zeros({4});
  {
    Trainer trainer(Options(20), {{"w", resumed}});
    for (int64_t s = 0; s < 12; ++s) ASSERT_TRUE(trainer.Step([&] { return p.Loss(resumed, s); }, 8).ok());
    std::filesystem::create_directories(CheckpointPath(dir, 12));
    ASSERT_TRUE(trainer.SaveState(CheckpointPath(dir, 12) + "/trainer.pt").ok());
    ASSERT_TRUE(CommitCheckpoint(dir, 12).ok());
  }
  torch::Tensor copy = resumed.detach().clone();  // as a model loader would give
  Trainer trainer(Options(20), {{"w", copy}});
  const std::optional<std::string> latest = LatestCheckpoint(dir);
  ASSERT_TRUE(latest.has_value());
  ASSERT_TRUE(trainer.LoadState(*latest + "/trainer.pt").ok());
  EXPECT_EQ(trainer.step(), 12);
  for (int64_t s = trainer.step(); s < 20; ++s) {
    ASSERT_TRUE(trainer.Step([&] { return p.Loss(copy, s); }, 8).ok());
  }
  EXPECT_TRUE(torch::allclose(copy, straight, 1e-6, 1e-7)) << copy << straight;
}

TEST(TrainerTest, CommitKeepsTheNewestTwoCheckpoints) {
  const std::string dir = TempDir("commit");
  EXPECT_FALSE(LatestCheckpoint(dir).has_value());
  for (int64_t step : {10, 20, 30}) {
    // Checkpoints hold files, and directories (removing them must recurse).
    std::filesystem::create_directories(CheckpointPath(dir, step) + "/sub");
    std::ofstream(CheckpointPath(dir, step) + "/trainer.pt") << "state";
    std::ofstream(CheckpointPath(dir, step) + "/sub/model.safetensors") << "weights";
    ASSERT_TRUE(CommitCheckpoint(dir, step).ok());
  }
  EXPECT_EQ(LatestCheckpoint(dir), CheckpointPath(dir, 30));
  EXPECT_FALSE(std::filesystem::exists(CheckpointPath(dir, 10)));
  EXPECT_TRUE(std::filesystem::exists(CheckpointPath(dir, 20)));
  EXPECT_EQ(FormatDuration(3 * 3600 + 2 * 60 + 10), "3h02m");
}

}  // namespace
}  // namespace ccs::model::train
