#include "server/decode_scheduler.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace ccs::server {
namespace {

// Why a stream should end without running further: its client left, or its
// deadline passed (`while` says during what).
absl::Status Abandoned(const DecodeScheduler::Sink& sink, absl::Time deadline, absl::Time now,
                       const char* while_doing) {
  if (sink.Cancelled()) return absl::CancelledError("the client cancelled the call");
  if (deadline <= now) {
    return absl::DeadlineExceededError(
        absl::StrCat("the call's deadline passed while ", while_doing));
  }
  return absl::OkStatus();
}

}  // namespace

DecodeScheduler::DecodeScheduler(const model::Engine& engine, const Options& options,
                                 std::function<void(int)> observe_step)
    : engine_(engine),
      options_(options),
      observe_step_(std::move(observe_step)),
      batch_(engine.NewDecodeBatch()) {
  thread_ = std::thread([this] { Run(); });
}

DecodeScheduler::~DecodeScheduler() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  thread_.join();
}

absl::Status DecodeScheduler::Submit(model::GenerationJob job, absl::Time deadline,
                                     std::unique_ptr<Sink> sink) {
  absl::MutexLock lock(&mutex_);
  if (stopping_) return absl::UnavailableError("the server is shutting down");
  if (static_cast<int>(waiting_.size()) >= options_.capacity) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the server is busy: ", waiting_.size(),
        " generation streams are already waiting to join the decode batch (--queue_capacity); "
        "retry with backoff"));
  }
  waiting_.push_back({std::move(job), deadline, std::move(sink)});
  return absl::OkStatus();
}

int DecodeScheduler::depth() const {
  absl::MutexLock lock(&mutex_);
  return static_cast<int>(waiting_.size());
}

int DecodeScheduler::active() const {
  absl::MutexLock lock(&mutex_);
  return active_count_;
}

void DecodeScheduler::Run() {
  std::deque<Stream> joining;
  while (TakeJoining(&joining)) {
    Join(std::move(joining));
    joining.clear();
    DropAbandoned();
    if (!active_.empty()) Step();
    absl::MutexLock lock(&mutex_);
    active_count_ = static_cast<int>(active_.size());
  }
}

bool DecodeScheduler::TakeJoining(std::deque<Stream>* joining) {
  std::vector<std::pair<Stream, absl::Status>> abandoned;
  bool go_on = true;
  {
    absl::MutexLock lock(&mutex_);
    if (active_.empty()) {
      mutex_.Await(absl::Condition(
          +[](DecodeScheduler* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mutex_) {
            return s->stopping_ || !s->waiting_.empty();
          },
          this));
    }
    // Streams nobody waits for leave the queue at once, even while the
    // batch is full, so that they do not hold places in it.
    const absl::Time now = absl::Now();
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      absl::Status status =
          Abandoned(*it->sink, it->deadline, now, "it waited to join the decode batch");
      if (status.ok()) {
        ++it;
        continue;
      }
      abandoned.emplace_back(std::move(*it), std::move(status));
      it = waiting_.erase(it);
    }
    size_t room = static_cast<size_t>(options_.max_batch) - std::min(
        active_.size(), static_cast<size_t>(options_.max_batch));
    while (room > 0 && !waiting_.empty()) {
      joining->push_back(std::move(waiting_.front()));
      waiting_.pop_front();
      --room;
    }
    go_on = !(active_.empty() && joining->empty() && waiting_.empty() && stopping_);
  }
  for (auto& [stream, status] : abandoned) stream.sink->OnDone(status);
  return go_on;
}

void DecodeScheduler::Join(std::deque<Stream> joining) {
  std::vector<model::GenerationJob> jobs;
  std::vector<Stream> streams;
  const absl::Time now = absl::Now();
  for (Stream& stream : joining) {
    if (absl::Status status =
            Abandoned(*stream.sink, stream.deadline, now, "it waited to join the decode batch");
        !status.ok()) {
      stream.sink->OnDone(status);
      continue;
    }
    jobs.push_back(std::move(stream.job));
    streams.push_back(std::move(stream));
  }
  if (jobs.empty()) return;
  std::vector<absl::StatusOr<model::DecodeBatch::StreamId>> ids = batch_->Add(jobs);
  for (size_t i = 0; i < streams.size(); ++i) {
    if (!ids[i].ok()) {
      streams[i].sink->OnDone(ids[i].status());
      continue;
    }
    active_.emplace(*ids[i], std::move(streams[i]));
  }
}

void DecodeScheduler::DropAbandoned() {
  const absl::Time now = absl::Now();
  for (auto it = active_.begin(); it != active_.end();) {
    absl::Status status = Abandoned(*it->second.sink, it->second.deadline, now, "generating");
    if (status.ok()) {
      ++it;
      continue;
    }
    absl::StatusOr<model::GenerationOutcome> removed = batch_->Remove(it->first);
    it->second.sink->OnDone(status);
    it = active_.erase(it);
    if (!removed.ok() && removed.status().code() != absl::StatusCode::kNotFound) {
      return FailAll(removed.status());  // the batch dropped every stream
    }
  }
}

void DecodeScheduler::Step() {
  if (observe_step_) observe_step_(static_cast<int>(active_.size()));
  absl::StatusOr<std::vector<model::DecodeBatch::Finished>> finished =
      batch_->Step([this](model::DecodeBatch::StreamId id, int32_t token) {
        return active_.at(id).sink->OnToken(token);
      });
  if (!finished.ok()) return FailAll(finished.status());
  for (model::DecodeBatch::Finished& f : *finished) {
    auto it = active_.find(f.id);
    if (it == active_.end()) continue;
    it->second.sink->OnDone(std::move(f.outcome));
    active_.erase(it);
  }
}

void DecodeScheduler::FailAll(const absl::Status& status) {
  for (auto& [id, stream] : active_) stream.sink->OnDone(status);
  active_.clear();
  batch_ = engine_.NewDecodeBatch();
}

}  // namespace ccs::server
