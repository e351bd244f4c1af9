#include "model/train/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace ccs::model::train {

absl::Status ValidateLrSchedule(const LrSchedule& s) {
  if (!(s.peak > 0) || s.warmup_steps < 0 || s.warmup_steps >= s.total_steps ||
      !(s.final_fraction >= 0 && s.final_fraction <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "learning-rate schedule needs peak > 0 (got ", s.peak, "), 0 <= warmup_steps (",
        s.warmup_steps, ") < total_steps (", s.total_steps, ") and final_fraction in [0, 1] (",
        s.final_fraction, ")"));
  }
  return absl::OkStatus();
}

double LearningRate(const LrSchedule& s, int64_t step) {
  if (step < s.warmup_steps) {
    return s.peak * static_cast<double>(step + 1) / static_cast<double>(s.warmup_steps);
  }
  const double decay_steps = static_cast<double>(std::max<int64_t>(1, s.total_steps - s.warmup_steps));
  const double progress =
      std::clamp(static_cast<double>(step - s.warmup_steps) / decay_steps, 0.0, 1.0);
  const double cosine = 0.5 * (1.0 + std::cos(M_PI * progress));
  return s.peak * (s.final_fraction + (1.0 - s.final_fraction) * cosine);
}

}  // namespace ccs::model::train
