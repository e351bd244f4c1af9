// The decode scheduler over the tiny random model (tests/testdata): streams
// join and leave one running batch; what each generates equals what it
// generates alone, and the scheduler ends streams for the right reason.
#include "server/decode_scheduler.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccs::server {
namespace {

using ::testing::HasSubstr;

std::string TinyDir(const std::string& part) {
  return std::string(getenv("TEST_SRCDIR")) + "/ccs/tests/testdata/tiny/" + part;
}

// What one stream heard; shared between the test and its sink.
struct Record {
  absl::Mutex mutex;
  std::vector<int32_t> tokens ABSL_GUARDED_BY(mutex);
  absl::Notification done;
  absl::StatusOr<model::GenerationOutcome> outcome = absl::UnknownError("not done");

  std::vector<int32_t> Tokens() {
    absl::MutexLock lock(&mutex);
    return tokens;
  }
  bool Wait() { return done.WaitForNotificationWithTimeout(absl::Seconds(60)); }
};

// A sink that records; it can stop its stream, report a cancelled client
// after some tokens, or hold the scheduler's thread on its first token.
class RecordingSink final : public DecodeScheduler::Sink {
 public:
  struct Behaviour {
    int stop_after = -1;         // OnToken returns false at this many tokens
    int cancel_after = -1;       // Cancelled() turns true at this many tokens
    absl::Notification* hold = nullptr;    // first OnToken waits for it
    absl::Duration first_token_sleep;      // first OnToken sleeps this long
  };

  RecordingSink(Record* record, Behaviour behaviour) : record_(record), behaviour_(behaviour) {}

  bool OnToken(int32_t token) override {
    int count;
    {
      absl::MutexLock lock(&record_->mutex);
      record_->tokens.push_back(token);
      count = static_cast<int>(record_->tokens.size());
    }
    if (count == 1 && behaviour_.hold != nullptr) behaviour_.hold->WaitForNotification();
    if (count == 1) absl::SleepFor(behaviour_.first_token_sleep);
    if (count == behaviour_.cancel_after) cancelled_ = true;
    return count != behaviour_.stop_after;
  }
  bool Cancelled() const override { return cancelled_; }
  void OnDone(absl::StatusOr<model::GenerationOutcome> outcome) override {
    record_->outcome = std::move(outcome);
    record_->done.Notify();
  }

 private:
  Record* const record_;
  const Behaviour behaviour_;
  bool cancelled_ = false;  // only touched on the scheduler's thread
};

class DecodeSchedulerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model::EngineOptions options;
    options.decoder_dir = TinyDir("decoder");
    options.rcc_dir = TinyDir("rcc");
    absl::StatusOr<std::unique_ptr<model::Engine>> engine = model::Engine::Load(options);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = engine->release();
  }
  static void TearDownTestSuite() { delete engine_; }

  void SetUp() override { ASSERT_NE(engine_, nullptr); }

  // A greedy answering job over a NONE or RCC memory of `context`.
  static model::GenerationJob Job(const std::string& context, const std::string& prompt,
                                  int max_new_tokens, model::Method method = model::Method::kNone) {
    model::GenerationJob job;
    absl::StatusOr<std::vector<int32_t>> ids = engine_->Tokenize(context);
    EXPECT_TRUE(ids.ok());
    auto memories = engine_->Compress(method, {*ids});
    EXPECT_TRUE(memories.ok()) << memories.status();
    job.memory = (*memories)[0];
    job.prompt = prompt;
    job.sampling.max_new_tokens = max_new_tokens;
    return job;
  }

  static std::vector<int32_t> Alone(const model::GenerationJob& job) {
    absl::StatusOr<std::vector<model::GenerationOutcome>> out = engine_->Generate({job}, nullptr);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? (*out)[0].tokens : std::vector<int32_t>();
  }

  static DecodeScheduler::Options Options(int max_batch, int capacity = 64) {
    DecodeScheduler::Options options;
    options.max_batch = max_batch;
    options.capacity = capacity;
    return options;
  }

  static model::Engine* engine_;
};
model::Engine* DecodeSchedulerTest::engine_ = nullptr;

// Streams that join while others run (the first one holds the thread until
// all are queued) are batched, and each generates what it generates alone.
TEST_F(DecodeSchedulerTest, BatchedStreamsEqualSequentialRuns) {
  std::vector<model::GenerationJob> jobs;
  for (int i = 0; i < 6; ++i) {
    jobs.push_back(Job(absl::StrCat("Context number ", i, " says something else."),
                       absl::StrCat("Question ", i, "?"), 4 + i,
                       i % 2 == 0 ? model::Method::kNone : model::Method::kRcc));
  }
  absl::Mutex mutex;
  std::vector<int> step_sizes;
  absl::Notification all_queued;
  std::vector<Record> records(jobs.size());
  {
    DecodeScheduler scheduler(*engine_, Options(4), [&](int streams) {
      absl::MutexLock lock(&mutex);
      step_sizes.push_back(streams);
    });
    for (size_t i = 0; i < jobs.size(); ++i) {
      RecordingSink::Behaviour behaviour;
      if (i == 0) behaviour.hold = &all_queued;
      ASSERT_TRUE(scheduler
                      .Submit(jobs[i], absl::InfiniteFuture(),
                              std::make_unique<RecordingSink>(&records[i], behaviour))
                      .ok());
    }
    all_queued.Notify();
    for (Record& r : records) ASSERT_TRUE(r.Wait());
  }
  for (size_t i = 0; i < jobs.size(); ++i) {
    ASSERT_TRUE(records[i].outcome.ok()) << records[i].outcome.status();
    const std::vector<int32_t> alone = Alone(jobs[i]);
    EXPECT_EQ(records[i].outcome->tokens, alone) << "stream " << i;
    EXPECT_EQ(records[i].Tokens(), alone) << "stream " << i;
  }
  absl::MutexLock lock(&mutex);
  EXPECT_EQ(*std::max_element(step_sizes.begin(), step_sizes.end()), 4);  // max_batch
}

// A client that goes away stops getting tokens at once: the scheduler takes
// its stream out before the next step. The other stream is unaffected.
TEST_F(DecodeSchedulerTest, CancelledStreamLeavesBeforeTheNextStep) {
  const model::GenerationJob job = Job("Some context to talk about.", "Go on.", 12);
  Record cancelled, kept;
  {
    DecodeScheduler scheduler(*engine_, Options(4), nullptr);
    RecordingSink::Behaviour cancel;
    cancel.cancel_after = 2;
    ASSERT_TRUE(scheduler
                    .Submit(job, absl::InfiniteFuture(),
                            std::make_unique<RecordingSink>(&cancelled, cancel))
                    .ok());
    ASSERT_TRUE(scheduler.Submit(job, absl::InfiniteFuture(),
                                 std::make_unique<RecordingSink>(&kept, RecordingSink::Behaviour()))
                    .ok());
    ASSERT_TRUE(cancelled.Wait());
    ASSERT_TRUE(kept.Wait());
  }
  EXPECT_EQ(cancelled.outcome.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(cancelled.Tokens().size(), 2u);
  ASSERT_TRUE(kept.outcome.ok());
  EXPECT_EQ(kept.outcome->tokens, Alone(job));
}

// Deadlines: one that passed before the stream could join costs no model
// time; one that passes while generating ends the stream before the next
// step.
TEST_F(DecodeSchedulerTest, DeadlinesEndStreams) {
  const model::GenerationJob job = Job("Context.", "Why?", 12);
  Record expired, mid_way;
  {
    DecodeScheduler scheduler(*engine_, Options(4), nullptr);
    ASSERT_TRUE(scheduler
                    .Submit(job, absl::Now() - absl::Seconds(1),
                            std::make_unique<RecordingSink>(&expired, RecordingSink::Behaviour()))
                    .ok());
    RecordingSink::Behaviour slow;
    slow.first_token_sleep = absl::Milliseconds(1500);
    ASSERT_TRUE(scheduler
                    .Submit(job, absl::Now() + absl::Seconds(1),
                            std::make_unique<RecordingSink>(&mid_way, slow))
                    .ok());
    ASSERT_TRUE(expired.Wait());
    ASSERT_TRUE(mid_way.Wait());
  }
  EXPECT_EQ(expired.outcome.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(expired.outcome.status().message()), HasSubstr("waited to join"));
  EXPECT_TRUE(expired.Tokens().empty());
  EXPECT_EQ(mid_way.outcome.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(mid_way.outcome.status().message()), HasSubstr("while generating"));
  EXPECT_EQ(mid_way.Tokens().size(), 1u);
}

// A sink that stops its stream (a stop string) ends it in that step, with
// the tokens it got.
TEST_F(DecodeSchedulerTest, SinkStopsItsStream) {
  const model::GenerationJob job = Job("Context.", "Count.", 12);
  Record record;
  {
    DecodeScheduler scheduler(*engine_, Options(4), nullptr);
    RecordingSink::Behaviour stop;
    stop.stop_after = 3;
    ASSERT_TRUE(scheduler
                    .Submit(job, absl::InfiniteFuture(),
                            std::make_unique<RecordingSink>(&record, stop))
                    .ok());
    ASSERT_TRUE(record.Wait());
  }
  ASSERT_TRUE(record.outcome.ok());
  EXPECT_EQ(record.outcome->finish_reason, model::FinishReason::kCancelled);
  EXPECT_EQ(record.outcome->tokens.size(), 3u);
}

// A job the engine refuses fails alone; the one joining with it runs.
TEST_F(DecodeSchedulerTest, RefusedJobFailsAlone) {
  const model::GenerationJob good = Job("Context.", "Fine?", 3);
  model::GenerationJob bad = good;
  bad.prompt = "bad \xFF byte";
  Record good_record, bad_record;
  absl::Notification all_queued;
  {
    DecodeScheduler scheduler(*engine_, Options(4), nullptr);
    RecordingSink::Behaviour hold;
    hold.hold = &all_queued;
    Record first;
    ASSERT_TRUE(scheduler
                    .Submit(good, absl::InfiniteFuture(),
                            std::make_unique<RecordingSink>(&first, hold))
                    .ok());
    const RecordingSink::Behaviour plain;
    ASSERT_TRUE(scheduler
                    .Submit(bad, absl::InfiniteFuture(),
                            std::make_unique<RecordingSink>(&bad_record, plain))
                    .ok());
    ASSERT_TRUE(scheduler
                    .Submit(good, absl::InfiniteFuture(),
                            std::make_unique<RecordingSink>(&good_record, plain))
                    .ok());
    all_queued.Notify();
    ASSERT_TRUE(first.Wait());
    ASSERT_TRUE(bad_record.Wait());
    ASSERT_TRUE(good_record.Wait());
  }
  EXPECT_EQ(bad_record.outcome.status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(good_record.outcome.ok());
  EXPECT_EQ(good_record.outcome->tokens, Alone(good));
}

// Past `capacity` streams waiting to join, Submit refuses at once.
TEST_F(DecodeSchedulerTest, FullQueueIsResourceExhausted) {
  const model::GenerationJob job = Job("Context.", "Hold on.", 2);
  absl::Notification release;
  Record running, waiting;
  {
    DecodeScheduler scheduler(*engine_, Options(/*max_batch=*/2, /*capacity=*/1), nullptr);
    RecordingSink::Behaviour hold;
    hold.hold = &release;
    ASSERT_TRUE(scheduler
                    .Submit(job, absl::InfiniteFuture(),
                            std::make_unique<RecordingSink>(&running, hold))
                    .ok());
    // Once the first stream holds the thread, the next waits in the queue.
    while (running.Tokens().empty()) absl::SleepFor(absl::Milliseconds(1));
    ASSERT_TRUE(scheduler
                    .Submit(job, absl::InfiniteFuture(),
                            std::make_unique<RecordingSink>(&waiting, RecordingSink::Behaviour()))
                    .ok());
    EXPECT_EQ(scheduler.depth(), 1);
    Record refused;
    absl::Status status = scheduler.Submit(
        job, absl::InfiniteFuture(),
        std::make_unique<RecordingSink>(&refused, RecordingSink::Behaviour()));
    EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
    EXPECT_THAT(std::string(status.message()), HasSubstr("--queue_capacity"));
    EXPECT_FALSE(refused.done.HasBeenNotified());
    release.Notify();
    ASSERT_TRUE(running.Wait());
    ASSERT_TRUE(waiting.Wait());
  }
  EXPECT_TRUE(running.outcome.ok());
  EXPECT_TRUE(waiting.outcome.ok());
}

// Destroying the scheduler runs what it accepted to the end.
TEST_F(DecodeSchedulerTest, DestructorFinishesAcceptedStreams) {
  const model::GenerationJob job = Job("Context.", "Last one.", 3);
  Record record;
  {
    DecodeScheduler scheduler(*engine_, Options(4), nullptr);
    ASSERT_TRUE(scheduler
                    .Submit(job, absl::InfiniteFuture(),
                            std::make_unique<RecordingSink>(&record, RecordingSink::Behaviour()))
                    .ok());
  }
  ASSERT_TRUE(record.done.HasBeenNotified());
  ASSERT_TRUE(record.outcome.ok());
  EXPECT_EQ(record.outcome->tokens, Alone(job));
}

}  // namespace
}  // namespace ccs::server
