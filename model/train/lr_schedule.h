// LrSchedule: the learning rate of every optimiser step: a linear warm-up
// from 0 to `peak` over `warmup_steps`, then a cosine decay to
// `peak * final_fraction` at `total_steps` (and flat after). Torch-free.
//
//   LrSchedule schedule{.peak = 3e-4, .warmup_steps = 100, .total_steps = 3000};
//   double lr = LearningRate(schedule, step);  // step is 0-based
//
// Thread-safety: plain values and a pure function.
#ifndef CCS_MODEL_TRAIN_LR_SCHEDULE_H_
#define CCS_MODEL_TRAIN_LR_SCHEDULE_H_

#include <cstdint>

#include "absl/status/status.h"

namespace ccs::model::train {

struct LrSchedule {
  double peak = 3e-4;
  int64_t warmup_steps = 100;
  int64_t total_steps = 1000;
  double final_fraction = 0.1;
};

// ValidateLrSchedule: INVALID_ARGUMENT unless peak > 0, 0 <= warmup_steps <
// total_steps and 0 <= final_fraction <= 1.
absl::Status ValidateLrSchedule(const LrSchedule& schedule);

// LearningRate of 0-based `step`: peak * (step + 1) / warmup_steps during the
// warm-up (so the first step already moves), then
// peak * (f + (1 - f) * (1 + cos(pi * progress)) / 2) with progress the
// fraction of the decay steps done, clamped to [0, 1].
double LearningRate(const LrSchedule& schedule, int64_t step);

}  // namespace ccs::model::train

#endif  // CCS_MODEL_TRAIN_LR_SCHEDULE_H_
