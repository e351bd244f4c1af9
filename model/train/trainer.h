// Trainer: the optimisation loop every model's training shares: AdamW with
// a warm-up and cosine learning-rate schedule, gradient clipping by global
// norm, checkpoint and resume, and a progress line. Torch-facing: include
// only from model/ .cc files.
//
//   Trainer trainer(options, former->Parameters());  // marks them trainable
//   if (resuming) trainer.LoadState(dir + "/trainer.pt");
//   while (trainer.step() < options.schedule.total_steps) {
//     absl::StatusOr<StepStats> stats = trainer.Step(
//         [&] { return Loss(batch(trainer.step())); }, /*tokens=*/B * n);
//     if (trainer.step() % 10 == 0) LOG(trainer.ProgressLine());
//   }
//
// Checkpoints live in a directory of their own: ckpt-<step>/ holds the
// model's files and trainer.pt (optimiser moments and the step), and the file
// LATEST names the newest complete one (it is replaced atomically after the
// checkpoint is written, so a run killed while saving resumes from the one
// before).
//
// Thread-safety: not thread-safe; one training loop owns it.
#ifndef CCS_MODEL_TRAIN_TRAINER_H_
#define CCS_MODEL_TRAIN_TRAINER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "model/train/lr_schedule.h"
#include "model/weights/weights.h"

namespace ccs::model::train {

struct TrainerOptions {
  LrSchedule schedule;
  double weight_decay = 0.01;  // decoupled (AdamW); not applied to 1-D tensors (norms)
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double clip_norm = 1.0;  // the global gradient norm is clipped to this; <= 0: off
};

struct StepStats {
  double loss = 0;
  double grad_norm = 0;  // before clipping
  double lr = 0;
};

class Trainer {
 public:
  // The tensors must be floating leaves; they are marked requires_grad and
  // updated in place. Tensors with "norm" in their name or of one
  // dimension get no weight decay.
  Trainer(const TrainerOptions& options, NamedTensors params);

  // Step runs one optimiser step on the loss that `loss_fn` returns (a
  // scalar that depends on the parameters): backward, clip, set the
  // scheduled learning rate, update. `tokens` counts toward the throughput.
  // The step counter advances only on success; a non-finite loss is
  // FAILED_PRECONDITION and changes nothing.
  absl::StatusOr<StepStats> Step(const std::function<absl::StatusOr<torch::Tensor>()>& loss_fn,
                                 int64_t tokens);

  int64_t step() const { return step_; }

  // SaveState writes the optimiser state and the step to `path`;
  // LoadState reads them back (the parameters must be the same, in the same
  // order). INTERNAL / NOT_FOUND / INVALID_ARGUMENT as the file allows.
  absl::Status SaveState(const std::string& path) const;
  absl::Status LoadState(const std::string& path);

  // ProgressLine: "step 120/3000 loss 4.213 (avg 4.350) lr 2.40e-04 |g| 1.12
  // 1234 tok/s elapsed 0h10m eta 3h02m", the average over the steps since
  // the previous call and the rate since this process started.
  std::string ProgressLine();

 private:
  const TrainerOptions options_;
  const NamedTensors params_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  int64_t step_ = 0;
  int64_t first_step_ = 0;  // of this process (after a resume)
  int64_t tokens_ = 0;      // since this process started
  double loss_sum_ = 0;     // since the last ProgressLine
  int64_t loss_count_ = 0;
  StepStats last_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// CheckpointPath is <dir>/ckpt-<step>.
std::string CheckpointPath(const std::string& dir, int64_t step);

// CommitCheckpoint makes <dir>/ckpt-<step> (already complete) the newest:
// rewrites LATEST atomically and removes older checkpoints but the one
// before it.
absl::Status CommitCheckpoint(const std::string& dir, int64_t step);

// LatestCheckpoint is the path LATEST names, or nothing when there is none.
std::optional<std::string> LatestCheckpoint(const std::string& dir);

// FormatDuration: "3h02m".
std::string FormatDuration(double seconds);

}  // namespace ccs::model::train

#endif  // CCS_MODEL_TRAIN_TRAINER_H_
