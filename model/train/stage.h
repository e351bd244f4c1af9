// What the trainer binaries (train_icformer, train_rcc) share around the
// optimiser: a training stage (its loss per step and its validation), the
// loop that runs it with progress lines, checkpoints and evaluations, and
// the small data helpers both use. Torch-facing: include only from model/
// .cc files.
//
//   Stage stage;
//   stage.train_loss = [&](int64_t step) { return Loss(Batch(windows, step * B, B)); };
//   stage.valid_loss = [&](int64_t batch) { return ValidLoss(batch); };
//   stage.valid_batches = 4;
//   absl::StatusOr<int64_t> reached = TrainStage(stage, options, {.steps = 2000},
//       model->Parameters(), out_dir, LatestCheckpoint(out_dir), save_model);
//
// Thread-safety: not thread-safe; one training loop owns a stage.
#ifndef CCS_MODEL_TRAIN_STAGE_H_
#define CCS_MODEL_TRAIN_STAGE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/tokenizer/tokenizer.h"
#include "model/train/trainer.h"

namespace ccs::model::train {

// A loss and the share of its target tokens the model guesses (greedy,
// teacher forcing).
struct LossResult {
  torch::Tensor loss;  // scalar
  double accuracy = 0;
};

// One stage's data and loss.
struct Stage {
  // The loss of training step `step` (0-based), recording autograd.
  std::function<absl::StatusOr<torch::Tensor>(int64_t step)> train_loss;
  // The loss of validation batch `batch` in [0, valid_batches).
  std::function<absl::StatusOr<LossResult>(int64_t batch)> valid_loss;
  int64_t valid_batches = 0;
  // Counted toward the progress line's tokens per second.
  int64_t tokens_per_step = 0;
  // Optional: the group a validation batch belongs to (e.g. "reconstruct",
  // "passkey"); when set, the evaluation line also gives each group's means.
  std::function<std::string(int64_t batch)> valid_group;
};

struct LoopOptions {
  int64_t steps = 1000;            // train until the trainer's step reaches this
  int64_t log_every = 10;          // steps between progress lines
  int64_t checkpoint_every = 100;  // steps between checkpoints
  int64_t eval_every = 200;        // steps between evaluations
};

// Evaluate runs every validation batch under no-grad and prints to stderr
//   eval step <step>: validation loss <mean> token accuracy <mean>
// followed, when the stage has groups, by " (<group>: loss <l> accuracy <a>;
// ...)" in the order the groups first appear.
absl::Status Evaluate(const Stage& stage, int64_t step);

// TrainStage builds a Trainer over `params` with `options`, restores its
// state from <resume_from>/trainer.pt when resume_from is set (a checkpoint
// of out_dir), evaluates once, then runs trainer steps until loop.steps: a
// progress line every log_every steps, a checkpoint every checkpoint_every
// steps (save_model(<out_dir>/ckpt-<step>), the trainer state beside it,
// then CommitCheckpoint), an evaluation every eval_every steps, and all
// three after the last step. Returns the step reached; stops at the first
// error.
absl::StatusOr<int64_t> TrainStage(const Stage& stage, const TrainerOptions& options,
                                   const LoopOptions& loop, NamedTensors params,
                                   const std::string& out_dir,
                                   const std::optional<std::string>& resume_from,
                                   const std::function<absl::Status(const std::string&)>& save_model);

// CheckpointStep is the step of a checkpoint directory ".../ckpt-<step>"
// (CheckpointPath); -1 when the name is not of that form.
int64_t CheckpointStep(const std::string& checkpoint_path);

// Batch is windows [first, first + B) of `windows` (cyclically, all of one
// length n) as a [B, n] int64 tensor.
torch::Tensor Batch(const std::vector<std::vector<int32_t>>& windows, int64_t first, int64_t B);

// LoadWindows reads the "text" of every record of the JSON Lines file
// `path` and packs it into at most `count` windows of `n` tokens
// (PackWindows with `seed`). FAILED_PRECONDITION when the file gives no
// window; otherwise the errors of ReadJsonl and PackWindows.
absl::StatusOr<std::vector<std::vector<int32_t>>> LoadWindows(const Tokenizer& tokenizer,
                                                              const std::string& path,
                                                              int64_t n, int64_t count,
                                                              uint64_t seed);

// PlainIds encodes `text` with special-token strings in it taken as plain
// text, as the engine tokenizes prompts.
absl::StatusOr<std::vector<int32_t>> PlainIds(const Tokenizer& tokenizer, const std::string& text);

}  // namespace ccs::model::train

#endif  // CCS_MODEL_TRAIN_STAGE_H_
