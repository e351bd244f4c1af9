// The client's retry rules, apart from gRPC so that tests can drive them with
// an injected call function, clock and randomness.
//
//   RetryPolicy policy;                      // 4 attempts, 100 ms .. 5 s
//   RealRetryEnvironment environment;
//   absl::Status status = CallWithRetries(
//       policy, absl::Now() + absl::Seconds(30), environment,
//       [&](int attempt, bool* delivered_output) { return OneTry(); });
//
// The rules:
//   - only UNAVAILABLE and RESOURCE_EXHAUSTED are retried (the server did not
//     do the work, or asks to come back later); INVALID_ARGUMENT, NOT_FOUND,
//     DEADLINE_EXCEEDED, INTERNAL and every other code are returned at once;
//   - a try that delivered output to the caller (a stream that passed a
//     message on) is never retried, whatever its code: the caller would see
//     that output twice;
//   - before retry n (1-based) the loop sleeps a uniformly random time in
//     [0, min(max_backoff, initial_backoff * multiplier^(n-1))] ("full
//     jitter"), so that many clients failing together do not retry together;
//   - it stops after max_attempts tries, or when the sleep would reach the
//     deadline (the call's deadline covers its retries).
// A status returned after more than one try says so in its message.
//
// Note on appends: a Compress that appends to a session is not idempotent.
// RESOURCE_EXHAUSTED (queue full) means the work was not done, but an
// UNAVAILABLE from a connection lost after the server acted could, rarely,
// make a retried append land twice. Set CompressRequest's
// expected_session_tokens (the `ccs` CLI does) and such a retry fails with
// ABORTED instead, having stored nothing.
#ifndef CCS_CLIENT_RETRY_H_
#define CCS_CLIENT_RETRY_H_

#include "absl/functional/function_ref.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace ccs::client {

struct RetryPolicy {
  // Tries in all, the first included; 1 disables retries.
  int max_attempts = 4;
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  // At least 1.0.
  double multiplier = 2.0;
};

// IsRetryable: whether a failed call may be retried under the rules above.
bool IsRetryable(absl::StatusCode code);

// BackoffBeforeRetry: the sleep before retry number `retry` (1-based), for a
// `unit_random` drawn uniformly from [0, 1).
absl::Duration BackoffBeforeRetry(const RetryPolicy& policy, int retry,
                                  double unit_random);

// Time and randomness of the retry loop. Implementations must be
// thread-safe when shared by concurrent calls.
class RetryEnvironment {
 public:
  virtual ~RetryEnvironment() = default;
  virtual absl::Time Now() = 0;
  virtual void SleepFor(absl::Duration duration) = 0;
  // Uniform in [0, 1).
  virtual double UnitRandom() = 0;
};

// The wall clock, real sleeps and a seeded-from-entropy generator.
class RealRetryEnvironment final : public RetryEnvironment {
 public:
  absl::Time Now() override { return absl::Now(); }
  void SleepFor(absl::Duration duration) override { absl::SleepFor(duration); }
  double UnitRandom() override;

 private:
  absl::Mutex mutex_;
  absl::BitGen random_ ABSL_GUARDED_BY(mutex_);
};

// One try of a call: `attempt` is 1 for the first. Sets *delivered_output
// once it has passed output to the caller. Returns the try's status.
using AttemptFunction =
    absl::FunctionRef<absl::Status(int attempt, bool* delivered_output)>;

// CallWithRetries: runs `attempt` under the rules above and returns the
// status of the last try.
absl::Status CallWithRetries(const RetryPolicy& policy, absl::Time deadline,
                             RetryEnvironment& environment,
                             AttemptFunction attempt);

}  // namespace ccs::client

#endif  // CCS_CLIENT_RETRY_H_
