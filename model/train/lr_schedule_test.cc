#include "model/train/lr_schedule.h"

#include "gtest/gtest.h"

namespace ccs::model::train {
namespace {

TEST(LrScheduleTest, WarmsUpLinearlyThenDecaysByCosineToTheFloor) {
  const LrSchedule s{/*peak=*/1.0, /*warmup_steps=*/4, /*total_steps=*/14, /*final_fraction=*/0.1};
  ASSERT_TRUE(ValidateLrSchedule(s).ok());
  EXPECT_DOUBLE_EQ(LearningRate(s, 0), 0.25);
  EXPECT_DOUBLE_EQ(LearningRate(s, 3), 1.0);
  EXPECT_DOUBLE_EQ(LearningRate(s, 4), 1.0);                 // decay starts at the peak
  EXPECT_NEAR(LearningRate(s, 9), 0.1 + 0.9 * 0.5, 1e-12);   // halfway: cos = 0
  EXPECT_NEAR(LearningRate(s, 14), 0.1, 1e-12);              // the floor
  EXPECT_NEAR(LearningRate(s, 1000), 0.1, 1e-12);            // flat after the end
  for (int64_t step = 4; step < 14; ++step) {
    EXPECT_GT(LearningRate(s, step), LearningRate(s, step + 1)) << step;
  }
}

TEST(LrScheduleTest, RejectsSchedulesThatCannotRun) {
  EXPECT_FALSE(ValidateLrSchedule({0.0, 1, 10, 0.1}).ok());
  EXPECT_FALSE(ValidateLrSchedule({1e-3, 10, 10, 0.1}).ok());
  EXPECT_FALSE(ValidateLrSchedule({1e-3, -1, 10, 0.1}).ok());
  EXPECT_FALSE(ValidateLrSchedule({1e-3, 1, 10, 1.5}).ok());
  EXPECT_TRUE(ValidateLrSchedule({1e-3, 0, 10, 0.0}).ok());
}

}  // namespace
}  // namespace ccs::model::train
