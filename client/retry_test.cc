#include "client/retry.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccs::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A clock that moves only when the loop sleeps, and a fixed "random" value.
class FakeEnvironment final : public RetryEnvironment {
 public:
  explicit FakeEnvironment(double unit_random) : unit_random_(unit_random) {}
  absl::Time Now() override { return now_; }
  void SleepFor(absl::Duration duration) override {
    sleeps.push_back(duration);
    now_ += duration;
  }
  double UnitRandom() override { return unit_random_; }

  std::vector<absl::Duration> sleeps;

 private:
  absl::Time now_ = absl::UnixEpoch();
  const double unit_random_;
};

RetryPolicy Policy(int max_attempts) {
  RetryPolicy policy;
  policy.max_attempts = max_attempts;
  policy.initial_backoff = absl::Milliseconds(100);
  policy.multiplier = 2.0;
  policy.max_backoff = absl::Seconds(1);
  return policy;
}

const absl::Time kFarDeadline = absl::UnixEpoch() + absl::Hours(1);

// Fails with each of `codes` in turn, then succeeds.
class ScriptedCall {
 public:
  explicit ScriptedCall(std::vector<absl::StatusCode> codes)
      : codes_(std::move(codes)) {}
  absl::Status operator()(int attempt, bool*) {
    attempts.push_back(attempt);
    if (static_cast<size_t>(attempt) > codes_.size()) return absl::OkStatus();
    return absl::Status(codes_[attempt - 1], "scripted failure");
  }
  std::vector<int> attempts;

 private:
  const std::vector<absl::StatusCode> codes_;
};

TEST(IsRetryableTest, OnlyUnavailableAndResourceExhausted) {
  EXPECT_TRUE(IsRetryable(absl::StatusCode::kUnavailable));
  EXPECT_TRUE(IsRetryable(absl::StatusCode::kResourceExhausted));
  for (absl::StatusCode code :
       {absl::StatusCode::kInvalidArgument, absl::StatusCode::kNotFound,
        absl::StatusCode::kFailedPrecondition, absl::StatusCode::kInternal,
        absl::StatusCode::kDeadlineExceeded, absl::StatusCode::kCancelled,
        absl::StatusCode::kUnimplemented, absl::StatusCode::kUnauthenticated,
        absl::StatusCode::kPermissionDenied, absl::StatusCode::kAborted,
        absl::StatusCode::kDataLoss, absl::StatusCode::kUnknown}) {
    EXPECT_FALSE(IsRetryable(code)) << absl::StatusCodeToString(code);
  }
}

TEST(BackoffTest, GrowsExponentiallyUpToTheCapWithFullJitter) {
  RetryPolicy policy = Policy(10);
  policy.max_backoff = absl::Milliseconds(700);
  EXPECT_EQ(BackoffBeforeRetry(policy, 1, 1.0), absl::Milliseconds(100));
  EXPECT_EQ(BackoffBeforeRetry(policy, 2, 1.0), absl::Milliseconds(200));
  EXPECT_EQ(BackoffBeforeRetry(policy, 3, 1.0), absl::Milliseconds(400));
  EXPECT_EQ(BackoffBeforeRetry(policy, 4, 1.0), absl::Milliseconds(700));
  EXPECT_EQ(BackoffBeforeRetry(policy, 9, 1.0), absl::Milliseconds(700));
  EXPECT_EQ(BackoffBeforeRetry(policy, 3, 0.5), absl::Milliseconds(200));
  EXPECT_EQ(BackoffBeforeRetry(policy, 3, 0.0), absl::ZeroDuration());
}

TEST(CallWithRetriesTest, SucceedsAfterUnavailableAndResourceExhausted) {
  FakeEnvironment environment(0.5);
  ScriptedCall call({absl::StatusCode::kUnavailable,
                     absl::StatusCode::kResourceExhausted});
  absl::Status status =
      CallWithRetries(Policy(4), kFarDeadline, environment, std::ref(call));
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_THAT(call.attempts, ElementsAre(1, 2, 3));
  // Half of 100 ms, then half of 200 ms.
  EXPECT_THAT(environment.sleeps,
              ElementsAre(absl::Milliseconds(50), absl::Milliseconds(100)));
}

TEST(CallWithRetriesTest, NeverRetriesOtherCodes) {
  for (absl::StatusCode code :
       {absl::StatusCode::kInvalidArgument, absl::StatusCode::kNotFound,
        absl::StatusCode::kFailedPrecondition,
        absl::StatusCode::kDeadlineExceeded, absl::StatusCode::kInternal,
        absl::StatusCode::kUnauthenticated}) {
    FakeEnvironment environment(0.5);
    ScriptedCall call({code, code});
    absl::Status status =
        CallWithRetries(Policy(4), kFarDeadline, environment, std::ref(call));
    EXPECT_EQ(status.code(), code);
    EXPECT_EQ(status.message(), "scripted failure");
    EXPECT_THAT(call.attempts, ElementsAre(1));
    EXPECT_TRUE(environment.sleeps.empty());
  }
}

TEST(CallWithRetriesTest, StopsAfterMaxAttemptsAndSaysSo) {
  FakeEnvironment environment(1.0);
  ScriptedCall call(std::vector<absl::StatusCode>(
      10, absl::StatusCode::kUnavailable));
  absl::Status status =
      CallWithRetries(Policy(4), kFarDeadline, environment, std::ref(call));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("(after 4 attempts)"));
  EXPECT_THAT(call.attempts, ElementsAre(1, 2, 3, 4));
  EXPECT_THAT(environment.sleeps,
              ElementsAre(absl::Milliseconds(100), absl::Milliseconds(200),
                          absl::Milliseconds(400)));
}

TEST(CallWithRetriesTest, OneAttemptMeansNoRetry) {
  FakeEnvironment environment(1.0);
  ScriptedCall call({absl::StatusCode::kUnavailable});
  absl::Status status =
      CallWithRetries(Policy(1), kFarDeadline, environment, std::ref(call));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(status.message(), "scripted failure");
  EXPECT_THAT(call.attempts, ElementsAre(1));
}

TEST(CallWithRetriesTest, NeverSleepsPastTheDeadline) {
  FakeEnvironment environment(1.0);
  ScriptedCall call(std::vector<absl::StatusCode>(
      10, absl::StatusCode::kUnavailable));
  // 100 ms + 200 ms fit before 350 ms; the 400 ms sleep would not.
  absl::Status status =
      CallWithRetries(Policy(10), absl::UnixEpoch() + absl::Milliseconds(350),
                      environment, std::ref(call));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(call.attempts, ElementsAre(1, 2, 3));
  EXPECT_THAT(environment.sleeps,
              ElementsAre(absl::Milliseconds(100), absl::Milliseconds(200)));
}

TEST(CallWithRetriesTest, NeverRetriesAfterOutputWasDelivered) {
  FakeEnvironment environment(1.0);
  std::vector<int> attempts;
  absl::Status status = CallWithRetries(
      Policy(4), kFarDeadline, environment,
      [&](int attempt, bool* delivered_output) {
        attempts.push_back(attempt);
        *delivered_output = true;  // a stream that passed a message on
        return absl::UnavailableError("connection lost mid-stream");
      });
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(attempts, ElementsAre(1));
}

TEST(CallWithRetriesTest, KeepsPayloadsWhenAnnotating) {
  FakeEnvironment environment(0.0);
  absl::Status status = CallWithRetries(
      Policy(2), kFarDeadline, environment, [&](int, bool*) {
        absl::Status failure = absl::UnavailableError("down");
        failure.SetPayload("type.test/id", absl::Cord("abc"));
        return failure;
      });
  EXPECT_THAT(status.message(), HasSubstr("(after 2 attempts)"));
  ASSERT_TRUE(status.GetPayload("type.test/id").has_value());
  EXPECT_EQ(std::string(*status.GetPayload("type.test/id")), "abc");
}

}  // namespace
}  // namespace ccs::client
