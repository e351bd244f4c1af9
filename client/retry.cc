#include "client/retry.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace ccs::client {

bool IsRetryable(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable ||
         code == absl::StatusCode::kResourceExhausted;
}

absl::Duration BackoffBeforeRetry(const RetryPolicy& policy, int retry,
                                  double unit_random) {
  const double growth = std::pow(policy.multiplier, std::max(0, retry - 1));
  const absl::Duration ceiling =
      std::min(policy.max_backoff, policy.initial_backoff * growth);
  return ceiling * std::clamp(unit_random, 0.0, 1.0);
}

double RealRetryEnvironment::UnitRandom() {
  absl::MutexLock lock(&mutex_);
  return absl::Uniform(random_, 0.0, 1.0);
}

namespace {

// The same status with "(after N attempts)" added, so that a caller reading
// the message knows the failure was not a one-off.
absl::Status AfterAttempts(const absl::Status& status, int attempts) {
  if (status.ok() || attempts <= 1) return status;
  absl::Status annotated(
      status.code(),
      absl::StrCat(status.message(), " (after ", attempts, " attempts)"));
  status.ForEachPayload(
      [&](absl::string_view type_url, const absl::Cord& payload) {
        annotated.SetPayload(type_url, payload);
      });
  return annotated;
}

}  // namespace

absl::Status CallWithRetries(const RetryPolicy& policy, absl::Time deadline,
                             RetryEnvironment& environment,
                             AttemptFunction attempt) {
  for (int number = 1;; ++number) {
    bool delivered_output = false;
    const absl::Status status = attempt(number, &delivered_output);
    if (status.ok() || delivered_output || !IsRetryable(status.code()) ||
        number >= policy.max_attempts) {
      return AfterAttempts(status, number);
    }
    const absl::Duration backoff =
        BackoffBeforeRetry(policy, number, environment.UnitRandom());
    if (environment.Now() + backoff >= deadline) {
      return AfterAttempts(status, number);
    }
    environment.SleepFor(backoff);
  }
}

}  // namespace ccs::client
