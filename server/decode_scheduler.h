// DecodeScheduler: continuous batching of generation. Every accepted stream
// (a Generate or Reconstruct call) joins one running model::DecodeBatch on
// the scheduler's own thread; between two decode steps, waiting streams are
// prefilled and join (up to `max_batch` streams in the batch), and streams
// that finished, whose client cancelled or went away, or whose deadline
// passed leave. So a cancelled call stops costing model time within one
// step, and a new call waits for one step, not for the others to finish.
//
//   DecodeScheduler::Options options;
//   options.max_batch = 16;
//   DecodeScheduler decode(engine, options, [&](int streams) {
//     metrics.ObserveBatch(BatchKind::kDecode, streams);
//   });
//   absl::Status accepted = decode.Submit(job, deadline, std::make_unique<MySink>(...));
//
// Thread-safety: Submit and the counters may be called from any thread. A
// sink's methods run on the scheduler's thread. The destructor stops taking
// streams, runs every accepted one to its end (a server drains its calls,
// which cancels them, before destroying it), and joins the thread.
#ifndef CCS_SERVER_DECODE_SCHEDULER_H_
#define CCS_SERVER_DECODE_SCHEDULER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "model/engine/engine.h"

namespace ccs::server {

class DecodeScheduler {
 public:
  // What a stream's owner hears, always on the scheduler's thread.
  class Sink {
   public:
    virtual ~Sink() = default;
    // OnToken: the stream's next token (stop tokens excepted); false ends the
    // stream now (its outcome then says kCancelled), e.g. at a stop string.
    virtual bool OnToken(int32_t token) = 0;
    // Cancelled: whether the client cancelled or went away; asked before
    // the stream joins and between steps.
    virtual bool Cancelled() const = 0;
    // OnDone: exactly once, last. The outcome, or why the stream ended
    // without one: CANCELLED, DEADLINE_EXCEEDED, the engine's error. The
    // sink is destroyed right after.
    virtual void OnDone(absl::StatusOr<model::GenerationOutcome> outcome) = 0;
  };

  struct Options {
    // Streams decoded together, >= 1.
    int max_batch = 16;
    // Streams that may wait to join; more are refused (RESOURCE_EXHAUSTED).
    int capacity = 64;
  };

  // `engine` must outlive the scheduler. `observe_step` (may be empty) hears
  // the number of streams of every decode step.
  DecodeScheduler(const model::Engine& engine, const Options& options,
                  std::function<void(int streams)> observe_step);
  ~DecodeScheduler();
  DecodeScheduler(const DecodeScheduler&) = delete;
  DecodeScheduler& operator=(const DecodeScheduler&) = delete;

  // Submit queues a stream to join the batch. RESOURCE_EXHAUSTED when
  // `capacity` streams wait already, UNAVAILABLE once shutting down; the
  // sink is then dropped without being called.
  absl::Status Submit(model::GenerationJob job, absl::Time deadline, std::unique_ptr<Sink> sink);

  // Streams waiting to join.
  int depth() const;
  // Streams in the running batch.
  int active() const;

 private:
  struct Stream {
    model::GenerationJob job;
    absl::Time deadline;
    std::unique_ptr<Sink> sink;
  };

  void Run();
  // Waits for work; takes the streams that may join now. False once
  // stopping with nothing left to do.
  bool TakeJoining(std::deque<Stream>* joining);
  // Prefills `joining` into the batch (those still wanted).
  void Join(std::deque<Stream> joining);
  // Drops the streams whose client left or whose deadline passed.
  void DropAbandoned();
  // One decode step of the batch.
  void Step();
  // Ends every stream in the batch with `status` and starts a new batch.
  void FailAll(const absl::Status& status);

  const model::Engine& engine_;
  const Options options_;
  const std::function<void(int)> observe_step_;

  mutable absl::Mutex mutex_;
  std::deque<Stream> waiting_ ABSL_GUARDED_BY(mutex_);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  int active_count_ ABSL_GUARDED_BY(mutex_) = 0;

  // Owned by the scheduler's thread.
  std::unique_ptr<model::DecodeBatch> batch_;
  std::map<model::DecodeBatch::StreamId, Stream> active_;
  std::thread thread_;
};

}  // namespace ccs::server

#endif  // CCS_SERVER_DECODE_SCHEDULER_H_
