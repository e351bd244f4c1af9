#include "server/work_queue.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace ccs::server {

WorkQueue::WorkQueue(int threads, int capacity) : capacity_(capacity) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

WorkQueue::~WorkQueue() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
}

absl::Status WorkQueue::Submit(std::function<void()> task) {
  absl::MutexLock lock(&mutex_);
  if (stopping_) return absl::UnavailableError("the server is shutting down");
  if (static_cast<int>(tasks_.size()) >= capacity_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the server is busy: ", tasks_.size(),
        " requests are already waiting for the model (--queue_capacity); retry with backoff"));
  }
  tasks_.push_back(std::move(task));
  return absl::OkStatus();
}

int WorkQueue::depth() const {
  absl::MutexLock lock(&mutex_);
  return static_cast<int>(tasks_.size());
}

void WorkQueue::Run() {
  while (true) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mutex_);
      mutex_.Await(absl::Condition(
          +[](WorkQueue* q) ABSL_EXCLUSIVE_LOCKS_REQUIRED(q->mutex_) {
            return q->stopping_ || !q->tasks_.empty();
          },
          this));
      if (tasks_.empty()) return;  // stopping, and nothing left to run
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

}  // namespace ccs::server
