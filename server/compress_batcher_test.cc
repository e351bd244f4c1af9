#include "server/compress_batcher.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccs::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A memory that remembers the first token of the context it was made from,
// so that a test can tell whose result a request received.
class FakeMemory final : public model::Memory {
 public:
  FakeMemory(model::Method method, int32_t first) : method_(method), first_(first) {}
  model::Method method() const override { return method_; }
  int64_t tokens() const override { return first_; }
  int64_t slots() const override { return 1; }
  int32_t segments() const override { return 1; }
  int64_t bytes() const override { return 4; }
  std::string dtype() const override { return "int32"; }
  bool ExportVectors(std::vector<int64_t>*, std::string*) const override { return false; }

 private:
  const model::Method method_;
  const int32_t first_;
};

constexpr int32_t kPoison = 666;  // a context holding it fails to compress

// A compress function that records the batches it is given and refuses
// every batch holding a poisoned context.
class FakeModel {
 public:
  CompressBatcher::CompressFn Fn() {
    return [this](model::Method method, const std::vector<std::vector<int32_t>>& contexts)
               -> absl::StatusOr<CompressBatcher::Memories> {
      absl::MutexLock lock(&mutex_);
      std::vector<int32_t> firsts;
      for (const auto& c : contexts) firsts.push_back(c[0]);
      batches_.push_back(firsts);
      methods_.push_back(method);
      for (const auto& c : contexts) {
        if (std::find(c.begin(), c.end(), kPoison) != c.end()) {
          return absl::InvalidArgumentError("a poisoned context");
        }
      }
      CompressBatcher::Memories out;
      for (const auto& c : contexts) out.push_back(std::make_shared<FakeMemory>(method, c[0]));
      return out;
    };
  }
  std::vector<std::vector<int32_t>> batches() {
    absl::MutexLock lock(&mutex_);
    return batches_;
  }
  std::vector<model::Method> methods() {
    absl::MutexLock lock(&mutex_);
    return methods_;
  }

 private:
  absl::Mutex mutex_;
  std::vector<std::vector<int32_t>> batches_ ABSL_GUARDED_BY(mutex_);
  std::vector<model::Method> methods_ ABSL_GUARDED_BY(mutex_);
};

// What one request heard.
struct Outcome {
  absl::Notification done;
  absl::StatusOr<std::shared_ptr<const model::Memory>> memory = absl::UnknownError("not yet");
  CompressBatcher::Timing timing;

  bool Wait() { return done.WaitForNotificationWithTimeout(absl::Seconds(30)); }
};

CompressBatcher::Request MakeRequest(int32_t first, Outcome* outcome,
                                     model::Method method = model::Method::kRcc) {
  CompressBatcher::Request request;
  request.method = method;
  request.context = {first, 1, 2};
  request.done = [outcome](absl::StatusOr<std::shared_ptr<const model::Memory>> memory,
                           const CompressBatcher::Timing& timing) {
    outcome->memory = std::move(memory);
    outcome->timing = timing;
    outcome->done.Notify();
  };
  return request;
}

CompressBatcher::Options Options(int max_batch, absl::Duration max_wait, int capacity = 64) {
  CompressBatcher::Options options;
  options.max_batch = max_batch;
  options.max_wait = max_wait;
  options.capacity = capacity;
  return options;
}

// A full batch goes at once; the window (an hour here) is only an upper bound.
TEST(CompressBatcherTest, GroupsUpToMaxBatch) {
  FakeModel model;
  CompressBatcher batcher(Options(2, absl::Hours(1)), model.Fn());
  std::vector<Outcome> outcomes(4);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(batcher.Submit(MakeRequest(10 + i, &outcomes[i])).ok());
  for (Outcome& o : outcomes) ASSERT_TRUE(o.Wait());
  EXPECT_THAT(model.batches(), ElementsAre(ElementsAre(10, 11), ElementsAre(12, 13)));
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(outcomes[i].memory.ok()) << outcomes[i].memory.status();
    EXPECT_EQ((*outcomes[i].memory)->tokens(), 10 + i);  // its own result
    EXPECT_EQ(outcomes[i].timing.batch_size, 2);
  }
}

// A lone request goes once the oldest has waited max_wait.
TEST(CompressBatcherTest, PartialBatchGoesAfterMaxWait) {
  FakeModel model;
  const absl::Duration wait = absl::Milliseconds(30);
  CompressBatcher batcher(Options(8, wait), model.Fn());
  Outcome outcome;
  ASSERT_TRUE(batcher.Submit(MakeRequest(7, &outcome)).ok());
  ASSERT_TRUE(outcome.Wait());
  ASSERT_TRUE(outcome.memory.ok());
  EXPECT_EQ(outcome.timing.batch_size, 1);
  EXPECT_GE(outcome.timing.queued, wait);
  EXPECT_THAT(model.batches(), ElementsAre(ElementsAre(7)));
}

// Only requests of the same method share a batch.
TEST(CompressBatcherTest, MethodsAreNeverMixed) {
  FakeModel model;
  CompressBatcher batcher(Options(2, absl::Hours(1)), model.Fn());
  std::vector<Outcome> outcomes(4);
  ASSERT_TRUE(batcher.Submit(MakeRequest(1, &outcomes[0], model::Method::kNone)).ok());
  ASSERT_TRUE(batcher.Submit(MakeRequest(2, &outcomes[1], model::Method::kIcFormer)).ok());
  ASSERT_TRUE(batcher.Submit(MakeRequest(3, &outcomes[2], model::Method::kNone)).ok());
  ASSERT_TRUE(batcher.Submit(MakeRequest(4, &outcomes[3], model::Method::kIcFormer)).ok());
  for (Outcome& o : outcomes) ASSERT_TRUE(o.Wait());
  EXPECT_THAT(model.batches(), ElementsAre(ElementsAre(1, 3), ElementsAre(2, 4)));
  EXPECT_THAT(model.methods(), ElementsAre(model::Method::kNone, model::Method::kIcFormer));
  EXPECT_EQ((*outcomes[1].memory)->method(), model::Method::kIcFormer);
}

// A batch that fails is retried request by request: the error reaches the
// request that caused it, and the others get their memories.
TEST(CompressBatcherTest, ErrorsReachTheRequestThatCausedThem) {
  FakeModel model;
  CompressBatcher batcher(Options(3, absl::Hours(1)), model.Fn());
  std::vector<Outcome> outcomes(3);
  ASSERT_TRUE(batcher.Submit(MakeRequest(20, &outcomes[0])).ok());
  ASSERT_TRUE(batcher.Submit(MakeRequest(kPoison, &outcomes[1])).ok());
  ASSERT_TRUE(batcher.Submit(MakeRequest(22, &outcomes[2])).ok());
  for (Outcome& o : outcomes) ASSERT_TRUE(o.Wait());
  ASSERT_TRUE(outcomes[0].memory.ok());
  EXPECT_EQ((*outcomes[0].memory)->tokens(), 20);
  EXPECT_EQ(outcomes[1].memory.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(outcomes[1].memory.status().message()), HasSubstr("poisoned"));
  ASSERT_TRUE(outcomes[2].memory.ok());
  EXPECT_EQ((*outcomes[2].memory)->tokens(), 22);
  EXPECT_THAT(model.batches(), ElementsAre(ElementsAre(20, kPoison, 22), ElementsAre(20),
                                           ElementsAre(kPoison), ElementsAre(22)));
}

// A compress function returning the wrong number of memories is an internal
// error for every request of the batch, never a wrong answer.
TEST(CompressBatcherTest, WrongResultCountIsInternal) {
  CompressBatcher batcher(Options(1, absl::ZeroDuration()),
                          [](model::Method, const std::vector<std::vector<int32_t>>&) {
                            return absl::StatusOr<CompressBatcher::Memories>(
                                CompressBatcher::Memories());
                          });
  Outcome outcome;
  ASSERT_TRUE(batcher.Submit(MakeRequest(1, &outcome)).ok());
  ASSERT_TRUE(outcome.Wait());
  EXPECT_EQ(outcome.memory.status().code(), absl::StatusCode::kInternal);
}

// Requests nobody waits for any more never reach the model.
TEST(CompressBatcherTest, ExpiredAndCancelledRequestsSkipTheModel) {
  FakeModel model;
  CompressBatcher batcher(Options(3, absl::Hours(1)), model.Fn());
  std::vector<Outcome> outcomes(3);
  CompressBatcher::Request expired = MakeRequest(1, &outcomes[0]);
  expired.deadline = absl::Now() - absl::Seconds(1);
  CompressBatcher::Request cancelled = MakeRequest(2, &outcomes[1]);
  cancelled.cancelled = [] { return true; };
  ASSERT_TRUE(batcher.Submit(std::move(expired)).ok());
  ASSERT_TRUE(batcher.Submit(std::move(cancelled)).ok());
  ASSERT_TRUE(batcher.Submit(MakeRequest(3, &outcomes[2])).ok());
  for (Outcome& o : outcomes) ASSERT_TRUE(o.Wait());
  EXPECT_EQ(outcomes[0].memory.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(outcomes[0].memory.status().message()), HasSubstr("compress queue"));
  EXPECT_EQ(outcomes[1].memory.status().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(outcomes[2].memory.ok());
  EXPECT_THAT(model.batches(), ElementsAre(ElementsAre(3)));
}

// Past `capacity` waiting requests, Submit refuses at once.
TEST(CompressBatcherTest, FullQueueIsResourceExhausted) {
  absl::Notification release;
  absl::Notification running;
  CompressBatcher batcher(
      Options(1, absl::ZeroDuration(), /*capacity=*/2),
      [&](model::Method method, const std::vector<std::vector<int32_t>>& contexts) {
        if (!running.HasBeenNotified()) running.Notify();  // the first batch only
        release.WaitForNotification();
        CompressBatcher::Memories out;
        for (const auto& c : contexts) out.push_back(std::make_shared<FakeMemory>(method, c[0]));
        return absl::StatusOr<CompressBatcher::Memories>(out);
      });
  std::vector<Outcome> outcomes(4);
  ASSERT_TRUE(batcher.Submit(MakeRequest(1, &outcomes[0])).ok());
  ASSERT_TRUE(running.WaitForNotificationWithTimeout(absl::Seconds(30)));  // 1 is running
  EXPECT_TRUE(batcher.Submit(MakeRequest(2, &outcomes[1])).ok());
  EXPECT_TRUE(batcher.Submit(MakeRequest(3, &outcomes[2])).ok());
  EXPECT_EQ(batcher.depth(), 2);
  absl::Status refused = batcher.Submit(MakeRequest(4, &outcomes[3]));
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(refused.message()), HasSubstr("--queue_capacity"));
  release.Notify();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(outcomes[i].Wait());
  EXPECT_FALSE(outcomes[3].done.HasBeenNotified());
}

// Shutting down runs what was accepted without waiting out the window.
TEST(CompressBatcherTest, DestructorRunsAcceptedRequests) {
  FakeModel model;
  Outcome outcome;
  {
    CompressBatcher batcher(Options(8, absl::Hours(1)), model.Fn());
    ASSERT_TRUE(batcher.Submit(MakeRequest(5, &outcome)).ok());
  }
  ASSERT_TRUE(outcome.done.HasBeenNotified());
  EXPECT_TRUE(outcome.memory.ok());
}

}  // namespace
}  // namespace ccs::server
