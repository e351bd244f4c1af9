#include "server/compress_batcher.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace ccs::server {

CompressBatcher::CompressBatcher(const Options& options, CompressFn compress)
    : options_(options), compress_(std::move(compress)) {
  thread_ = std::thread([this] { Run(); });
}

CompressBatcher::~CompressBatcher() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  thread_.join();
}

absl::Status CompressBatcher::Submit(Request request) {
  absl::MutexLock lock(&mutex_);
  if (stopping_) return absl::UnavailableError("the server is shutting down");
  if (static_cast<int>(queue_.size()) >= options_.capacity) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the server is busy: ", queue_.size(),
        " compress requests are already waiting for the model (--queue_capacity); retry with "
        "backoff"));
  }
  queue_.push_back({std::move(request), absl::Now()});
  return absl::OkStatus();
}

int CompressBatcher::depth() const {
  absl::MutexLock lock(&mutex_);
  return static_cast<int>(queue_.size());
}

int CompressBatcher::CountLocked(model::Method method) const {
  int count = 0;
  for (const Waiting& w : queue_) count += w.request.method == method ? 1 : 0;
  return count;
}

void CompressBatcher::Run() {
  while (true) {
    std::vector<Waiting> batch = TakeBatch();
    if (batch.empty()) return;
    RunBatch(std::move(batch));
  }
}

std::vector<CompressBatcher::Waiting> CompressBatcher::TakeBatch() {
  absl::MutexLock lock(&mutex_);
  mutex_.Await(absl::Condition(
      +[](CompressBatcher* b) ABSL_EXCLUSIVE_LOCKS_REQUIRED(b->mutex_) {
        return b->stopping_ || !b->queue_.empty();
      },
      this));
  if (queue_.empty()) return {};  // stopping, and nothing left
  // The oldest request sets the batch's method and how long it may wait.
  const model::Method method = queue_.front().request.method;
  const absl::Time window_end = queue_.front().arrived + options_.max_wait;
  struct Full {
    CompressBatcher* batcher;
    model::Method method;
  } full{this, method};
  mutex_.AwaitWithDeadline(
      absl::Condition(
          +[](Full* f) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return f->batcher->stopping_ ||
                   f->batcher->CountLocked(f->method) >= f->batcher->options_.max_batch;
          },
          &full),
      window_end);
  std::vector<Waiting> batch;
  for (auto it = queue_.begin();
       it != queue_.end() && static_cast<int>(batch.size()) < options_.max_batch;) {
    if (it->request.method != method) {
      ++it;
      continue;
    }
    batch.push_back(std::move(*it));
    it = queue_.erase(it);
  }
  return batch;
}

void CompressBatcher::RunBatch(std::vector<Waiting> batch) {
  const absl::Time start = absl::Now();
  // Requests nobody waits for any more are answered without the model.
  std::vector<Waiting> live;
  for (Waiting& w : batch) {
    const Timing waited{start, start - w.arrived, absl::ZeroDuration(), 0};
    if (w.request.cancelled && w.request.cancelled()) {
      w.request.done(absl::CancelledError("the client cancelled the call"), waited);
    } else if (w.request.deadline <= start) {
      w.request.done(absl::DeadlineExceededError(absl::StrCat(
                         "the call's deadline passed while it waited ",
                         absl::FormatDuration(waited.queued), " in the compress queue")),
                     waited);
    } else {
      live.push_back(std::move(w));
    }
  }
  if (live.empty()) return;
  std::vector<std::vector<int32_t>> contexts;
  for (const Waiting& w : live) contexts.push_back(w.request.context);
  absl::StatusOr<Memories> memories = compress_(live[0].request.method, contexts);
  if (memories.ok() && memories->size() != live.size()) {
    memories = absl::InternalError(absl::StrCat("compression returned ", memories->size(),
                                                " memories for ", live.size(), " contexts"));
  }
  const absl::Duration compute = absl::Now() - start;
  if (memories.ok() || live.size() == 1) {
    for (size_t i = 0; i < live.size(); ++i) {
      const Timing timing{start, start - live[i].arrived, compute, static_cast<int>(live.size())};
      if (memories.ok()) {
        live[i].request.done((*memories)[i], timing);
      } else {
        live[i].request.done(memories.status(), timing);
      }
    }
    return;
  }
  // The batch failed: find whose context it was by compressing each alone.
  for (Waiting& w : live) {
    const absl::Time alone_start = absl::Now();
    absl::StatusOr<Memories> one = compress_(w.request.method, {w.request.context});
    const Timing timing{start, start - w.arrived, absl::Now() - alone_start, 1};
    if (one.ok() && one->size() != 1) {
      one = absl::InternalError(
          absl::StrCat("compression returned ", one->size(), " memories for 1 context"));
    }
    if (one.ok()) {
      w.request.done((*one)[0], timing);
    } else {
      w.request.done(one.status(), timing);
    }
  }
}

}  // namespace ccs::server
