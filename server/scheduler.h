// Scheduler: where the service's model work runs, off gRPC's threads, and
// how it is batched. Three bounded queues, each refusing work past
// `queue_capacity` (RESOURCE_EXHAUSTED) rather than growing:
//
//   - the work queue (WorkQueue, `workers` threads): each request's own
//     preparation (session look-up, tokenization, memory prefix), and its
//     model work when batching is off;
//   - the compress batcher (CompressBatcher, one thread; on when
//     compress_max_batch > 1): compressions of concurrent Compress calls,
//     grouped into one Engine::Compress call per method;
//   - the decode scheduler (DecodeScheduler, one thread; on when
//     decode_max_batch > 1): the decode steps of concurrent Generate and
//     Reconstruct streams, batched continuously.
//
//   SchedulerOptions options;
//   options.compress_max_batch = 8;
//   options.decode_max_batch = 16;
//   Scheduler scheduler(options, engine, &metrics);
//   scheduler.Run([] { ... prepare, then ... });
//   if (scheduler.compress_batcher() != nullptr) scheduler.compress_batcher()->Submit(...);
//
// With both batch sizes 1 every request runs alone on a worker.
//
// Thread-safety: every method may be called from any thread. The destructor
// drains the work queue first (its tasks may hand work to the batchers),
// then the compress batcher, then the decode scheduler.
#ifndef CCS_SERVER_SCHEDULER_H_
#define CCS_SERVER_SCHEDULER_H_

#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "model/engine/engine.h"
#include "server/compress_batcher.h"
#include "server/decode_scheduler.h"
#include "server/server_metrics.h"
#include "server/work_queue.h"

namespace ccs::server {

struct SchedulerOptions {
  // Threads preparing requests (and running them, unbatched), >= 1.
  int workers = 1;
  // Requests that may wait in each queue, >= 1.
  int queue_capacity = 64;
  // Contexts per batched compress call, >= 1; 1: off.
  int compress_max_batch = 1;
  // How long a compress request may wait for others to join its batch.
  absl::Duration compress_max_wait = absl::Microseconds(2000);
  // Streams decoded together, >= 1; 1: off (each stream alone on a worker).
  int decode_max_batch = 1;
};

// ValidateSchedulerOptions: INVALID_ARGUMENT naming the first bad field.
absl::Status ValidateSchedulerOptions(const SchedulerOptions& options);

class Scheduler {
 public:
  // `engine` may be null (no model: nothing to batch); `metrics` must not
  // be. Both must outlive the scheduler. `options` must be valid.
  Scheduler(const SchedulerOptions& options, const model::Engine* engine,
            ServerMetrics* metrics);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Run queues `task` for a worker: RESOURCE_EXHAUSTED when the work queue
  // is full, UNAVAILABLE once shutting down.
  absl::Status Run(std::function<void()> task) { return queue_->Submit(std::move(task)); }

  // Null when compress batching (decode batching) is off.
  CompressBatcher* compress_batcher() const { return compress_.get(); }
  DecodeScheduler* decode_scheduler() const { return decode_.get(); }

  // Requests waiting in any queue.
  int depth() const;

 private:
  std::unique_ptr<DecodeScheduler> decode_;
  std::unique_ptr<CompressBatcher> compress_;
  std::unique_ptr<WorkQueue> queue_;
};

}  // namespace ccs::server

#endif  // CCS_SERVER_SCHEDULER_H_
