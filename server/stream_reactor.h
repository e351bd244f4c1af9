// StreamReactor: a server-streaming call that a worker thread feeds. Send
// queues a message (written one at a time, as gRPC requires); Close ends the
// call once everything queued is written. The reactor deletes itself when
// gRPC is done with it, which is only after Close: the feeding thread must
// not touch it after calling Close.
//
// Thread-safety: Send, Close and cancelled() may be called from any thread.
#ifndef CCS_SERVER_STREAM_REACTOR_H_
#define CCS_SERVER_STREAM_REACTOR_H_

#include <atomic>
#include <deque>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "server/request_log.h"

namespace ccs::server {

template <typename Response>
class StreamReactor final : public grpc::ServerWriteReactor<Response> {
 public:
  StreamReactor(RequestTracker& requests, const char* rpc, grpc::CallbackServerContext* context)
      : log_(requests, rpc, context) {}

  void Send(Response message) {
    bool start = false;
    {
      absl::MutexLock lock(&mutex_);
      if (closing_) return;
      queue_.push_back(std::move(message));
      start = TakeNextLocked();
    }
    // gRPC may run reactions inline: call it without holding the lock.
    if (start) this->StartWrite(&current_);
  }

  void Close(const grpc::Status& status) {
    bool finish = false;
    {
      absl::MutexLock lock(&mutex_);
      if (closing_) return;
      closing_ = true;
      final_ = status;
      finish = !writing_ && TakeFinishLocked();
    }
    if (finish) FinishNow();
  }

  // True once the client cancelled or went away.
  bool cancelled() const { return cancelled_.load(); }

  void OnWriteDone(bool ok) override {
    bool start = false, finish = false;
    {
      absl::MutexLock lock(&mutex_);
      writing_ = false;
      if (!ok) {  // the client is gone: nothing more can be written
        queue_.clear();
        cancelled_ = true;
      }
      start = TakeNextLocked();
      finish = !start && closing_ && TakeFinishLocked();
    }
    if (start) this->StartWrite(&current_);
    if (finish) FinishNow();
  }

  void OnCancel() override { cancelled_ = true; }
  void OnDone() override { delete this; }

 private:
  // Moves the next queued message into current_ if none is being written.
  bool TakeNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    if (writing_ || queue_.empty()) return false;
    current_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    return true;
  }

  bool TakeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    if (finished_) return false;
    finished_ = true;
    return true;
  }

  // Called once, without the lock; final_ no longer changes.
  void FinishNow() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    log_.Finish(final_);
    this->Finish(final_);
  }

  const RequestLog log_;
  std::atomic<bool> cancelled_{false};
  absl::Mutex mutex_;
  std::deque<Response> queue_ ABSL_GUARDED_BY(mutex_);
  Response current_;  // the message being written; only touched by its writer
  bool writing_ ABSL_GUARDED_BY(mutex_) = false;
  bool closing_ ABSL_GUARDED_BY(mutex_) = false;
  bool finished_ ABSL_GUARDED_BY(mutex_) = false;
  grpc::Status final_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace ccs::server

#endif  // CCS_SERVER_STREAM_REACTOR_H_
