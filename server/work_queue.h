// WorkQueue: the threads that run model work, off gRPC's threads, behind a
// bounded queue. A full queue refuses new work (RESOURCE_EXHAUSTED) instead
// of growing without bound.
//
//   WorkQueue queue(/*threads=*/2, /*capacity=*/64);
//   absl::Status accepted = queue.Submit([] { ... model work ... });
//
// Each task is one request's work; batching happens elsewhere (the
// CompressBatcher and DecodeScheduler, see scheduler.h).
//
// Thread-safety: Submit may be called from any thread. The destructor stops
// taking work, runs what was accepted, and joins the threads.
#ifndef CCS_SERVER_WORK_QUEUE_H_
#define CCS_SERVER_WORK_QUEUE_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace ccs::server {

class WorkQueue {
 public:
  WorkQueue(int threads, int capacity);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Submit queues `task`; RESOURCE_EXHAUSTED when `capacity` tasks wait
  // already, UNAVAILABLE once shutting down.
  absl::Status Submit(std::function<void()> task);

  // Tasks waiting (not running).
  int depth() const;

 private:
  void Run();

  const int capacity_;
  mutable absl::Mutex mutex_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mutex_);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace ccs::server

#endif  // CCS_SERVER_WORK_QUEUE_H_
