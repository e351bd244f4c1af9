#include "client/client.h"

#include "gtest/gtest.h"

namespace ccs::client {
namespace {

TEST(IsRetryableTest, OnlyUnavailableAndResourceExhausted) {
  EXPECT_TRUE(IsRetryable(absl::StatusCode::kUnavailable));
  EXPECT_TRUE(IsRetryable(absl::StatusCode::kResourceExhausted));
  for (absl::StatusCode code :
       {absl::StatusCode::kInvalidArgument, absl::StatusCode::kNotFound,
        absl::StatusCode::kFailedPrecondition, absl::StatusCode::kInternal,
        absl::StatusCode::kDeadlineExceeded, absl::StatusCode::kCancelled,
        absl::StatusCode::kUnimplemented, absl::StatusCode::kUnauthenticated}) {
    EXPECT_FALSE(IsRetryable(code)) << absl::StatusCodeToString(code);
  }
}

TEST(BackoffTest, GrowsExponentiallyUpToTheCapWithFullJitter) {
  RetryPolicy policy;
  policy.initial_backoff = absl::Milliseconds(100);
  policy.multiplier = 2.0;
  policy.max_backoff = absl::Milliseconds(700);
  // unit_random close to 1 gives the ceiling of each retry.
  EXPECT_EQ(BackoffBeforeRetry(policy, 1, 1.0), absl::Milliseconds(100));
  EXPECT_EQ(BackoffBeforeRetry(policy, 2, 1.0), absl::Milliseconds(200));
  EXPECT_EQ(BackoffBeforeRetry(policy, 3, 1.0), absl::Milliseconds(400));
  EXPECT_EQ(BackoffBeforeRetry(policy, 4, 1.0), absl::Milliseconds(700));
  EXPECT_EQ(BackoffBeforeRetry(policy, 9, 1.0), absl::Milliseconds(700));
  EXPECT_EQ(BackoffBeforeRetry(policy, 3, 0.5), absl::Milliseconds(200));
  EXPECT_EQ(BackoffBeforeRetry(policy, 3, 0.0), absl::ZeroDuration());
}

TEST(ConnectTest, RejectsBadOptions) {
  ClientOptions options;
  options.target = "";
  EXPECT_EQ(Client::Connect(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.target = "localhost:1";
  options.timeout = absl::ZeroDuration();
  EXPECT_EQ(Client::Connect(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.timeout = absl::Seconds(1);
  options.retry.max_attempts = 0;
  EXPECT_EQ(Client::Connect(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ConnectTest, UnreachableServerIsUnavailableAfterRetries) {
  ClientOptions options;
  options.target = "127.0.0.1:1";  // nothing listens on port 1
  options.timeout = absl::Seconds(5);
  options.retry.max_attempts = 3;
  options.retry.initial_backoff = absl::Milliseconds(1);
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
  ASSERT_TRUE(client.ok());
  absl::StatusOr<v1::ListModelsResponse> models = (*client)->ListModels();
  EXPECT_EQ(models.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace ccs::client
