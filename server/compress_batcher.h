// CompressBatcher: dynamic batching of compression. Requests wait in a
// bounded queue; a batch is the oldest waiting request and the others of the
// same method behind it, up to `max_batch` contexts, taken as soon as that
// many wait or `max_wait` after the oldest arrived, whichever comes first.
// Each batch is one call of the compress function (Engine::Compress), on the
// batcher's own thread, and each request hears its own result.
//
//   CompressBatcher::Options options;
//   options.max_batch = 8;
//   options.max_wait = absl::Microseconds(2000);
//   CompressBatcher batcher(options, [&](model::Method m, const auto& contexts) {
//     return engine.Compress(m, contexts);
//   });
//   CompressBatcher::Request request;
//   request.method = model::Method::kRcc;
//   request.context = ids;
//   request.deadline = deadline;
//   request.done = [](absl::StatusOr<std::shared_ptr<const model::Memory>> memory,
//                     const CompressBatcher::Timing& timing) { ... reply ... };
//   absl::Status accepted = batcher.Submit(std::move(request));
//
// Errors go to the request that caused them: when a batch of several fails,
// each of its requests is compressed again alone (a context the model
// refuses fails only its own request). A request whose deadline passed, or
// whose client cancelled, while it waited is answered DEADLINE_EXCEEDED or
// CANCELLED without running the model.
//
// Thread-safety: Submit and depth may be called from any thread. `done` runs
// on the batcher's thread, exactly once per accepted request. The destructor
// stops taking requests, runs every one it accepted (without waiting for
// more), and joins the thread.
#ifndef CCS_SERVER_COMPRESS_BATCHER_H_
#define CCS_SERVER_COMPRESS_BATCHER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "model/memory.h"

namespace ccs::server {

class CompressBatcher {
 public:
  using Memories = std::vector<std::shared_ptr<const model::Memory>>;
  // Compresses each context of one batch: one memory per context, in order.
  using CompressFn = std::function<absl::StatusOr<Memories>(
      model::Method method, const std::vector<std::vector<int32_t>>& contexts)>;

  struct Options {
    // Contexts per compress call, >= 1. 1: every request alone.
    int max_batch = 8;
    // How long the oldest request may wait for others to join it, >= 0.
    absl::Duration max_wait = absl::Microseconds(2000);
    // Requests that may wait; more are refused (RESOURCE_EXHAUSTED).
    int capacity = 64;
  };

  // What a request's batch was like, for its response and logs.
  struct Timing {
    absl::Time started;      // when its batch started
    absl::Duration queued;   // arrival to `started`
    absl::Duration compute;  // its batch's compression (the retry alone, after a failure)
    int batch_size = 0;      // contexts compressed in that call (0: none, it did not run)
  };

  using Done = std::function<void(absl::StatusOr<std::shared_ptr<const model::Memory>> memory,
                                  const Timing& timing)>;

  struct Request {
    model::Method method = model::Method::kNone;  // requests batch with their own method only
    std::vector<int32_t> context;
    absl::Time deadline = absl::InfiniteFuture();
    // True once the client has gone; may be empty.
    std::function<bool()> cancelled;
    Done done;
  };

  CompressBatcher(const Options& options, CompressFn compress);
  ~CompressBatcher();
  CompressBatcher(const CompressBatcher&) = delete;
  CompressBatcher& operator=(const CompressBatcher&) = delete;

  // Submit queues `request`. RESOURCE_EXHAUSTED when `capacity` requests
  // wait already, UNAVAILABLE once shutting down; `done` is then not called.
  absl::Status Submit(Request request);

  // Requests waiting (not yet in a running batch).
  int depth() const;

 private:
  struct Waiting {
    Request request;
    absl::Time arrived;
  };

  void Run();
  // Takes the next batch off the queue, waiting for it to fill; empty once
  // stopping with nothing left.
  std::vector<Waiting> TakeBatch();
  // Compresses `batch` (all of one method) and answers every request.
  void RunBatch(std::vector<Waiting> batch);
  int CountLocked(model::Method method) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  const Options options_;
  const CompressFn compress_;
  mutable absl::Mutex mutex_;
  std::deque<Waiting> queue_ ABSL_GUARDED_BY(mutex_);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread thread_;
};

}  // namespace ccs::server

#endif  // CCS_SERVER_COMPRESS_BATCHER_H_
