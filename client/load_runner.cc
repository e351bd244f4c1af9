#include "client/load_runner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <random>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace ccs::client {
namespace {

using Clock = std::chrono::steady_clock;

constexpr absl::string_view kPrompts[] = {
    "What is this text about?",
    "Summarize the text in one sentence.",
    "Who or what is mentioned first in the text?",
    "What happens at the end of the text?",
};

// A request as planned: what, when, and the seed of its content (drawn by
// whoever plans it, so that the content does not depend on which thread
// sends it).
struct Planned {
  Operation op;
  Clock::time_point scheduled;
  bool measured;
  uint64_t seed;
};

// Distinct, fixed generator streams per client of a closed-loop run.
uint64_t ClientSeed(uint64_t seed, int client) {
  return seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(client) + 1;
}

// The open loop's requests that are due, between the arrival thread and
// the senders.
class DueQueue {
 public:
  void Push(const Planned& planned) {
    absl::MutexLock lock(&mutex_);
    queue_.push_back(planned);
  }

  // No more arrivals; those queued may still be sent until drain_deadline.
  void Close(Clock::time_point drain_deadline) {
    absl::MutexLock lock(&mutex_);
    closed_ = true;
    drain_deadline_ = drain_deadline;
  }

  // Waits for the next request; false once closed and empty. *too_late is
  // set when it is taken after the drain deadline.
  bool Pop(Planned* planned, bool* too_late) {
    absl::MutexLock lock(&mutex_);
    mutex_.Await(absl::Condition(this, &DueQueue::Ready));
    if (queue_.empty()) return false;
    *planned = queue_.front();
    queue_.pop_front();
    *too_late = closed_ && Clock::now() > drain_deadline_;
    return true;
  }

 private:
  bool Ready() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    return !queue_.empty() || closed_;
  }

  absl::Mutex mutex_;
  std::deque<Planned> queue_ ABSL_GUARDED_BY(mutex_);
  bool closed_ ABSL_GUARDED_BY(mutex_) = false;
  Clock::time_point drain_deadline_ ABSL_GUARDED_BY(mutex_);
};

class Runner {
 public:
  Runner(Client& load, Client& setup, const ContextSource& contexts,
         const LoadConfig& config, LoadProgress* progress)
      : load_(load),
        setup_(setup),
        contexts_(contexts),
        config_(config),
        progress_(progress != nullptr ? progress : &own_progress_) {}

  absl::Status Setup();
  void Run();
  void Cleanup();
  LoadResult TakeResult();

 private:
  void RunClosedLoop();
  void RunOpenLoop();
  int64_t DrawContextBytes(std::mt19937_64& random) const;
  void Execute(const Planned& planned);
  void DeleteQuietly(const std::string& session_id);

  Client& load_;
  Client& setup_;
  const ContextSource& contexts_;
  const LoadConfig& config_;
  LoadProgress own_progress_;
  LoadProgress* const progress_;

  // Fixed by Setup and Run before any sender starts.
  std::vector<std::string> pool_;
  double bytes_per_token_ = 4.0;
  Clock::time_point measure_start_;
  Clock::time_point measure_end_;

  std::atomic<int64_t> measured_claimed_{0};
  std::atomic<int64_t> cleanup_failures_{0};
  absl::Mutex mutex_;
  std::vector<RequestRecord> records_ ABSL_GUARDED_BY(mutex_);
  int64_t warmup_requests_ ABSL_GUARDED_BY(mutex_) = 0;
  int64_t unsent_ ABSL_GUARDED_BY(mutex_) = 0;
  int sessions_created_ = 0;
  bool calibrated_ = false;
};

absl::Status Runner::Setup() {
  const bool need_pool = config_.mix.NeedsSessions();
  if (!need_pool && !config_.context_in_tokens) return absl::OkStatus();
  // One Compress calibrates bytes per token when no pool is needed.
  const int wanted = need_pool ? std::max(1, config_.sessions) : 1;
  std::mt19937_64 random(ClientSeed(config_.seed, -1));
  int64_t total_bytes = 0;
  int64_t total_tokens = 0;
  for (int i = 0; i < wanted; ++i) {
    v1::CompressRequest request;
    request.set_text(contexts_.Draw(DrawContextBytes(random), random));
    request.set_method(config_.method);
    request.set_model(config_.model);
    absl::StatusOr<v1::CompressResponse> reply = setup_.Compress(request);
    if (!reply.ok()) {
      return absl::Status(
          reply.status().code(),
          absl::StrCat("set-up: Compress of a ", request.text().size(),
                       "-byte context failed: ", reply.status().message()));
    }
    ++sessions_created_;
    total_bytes += static_cast<int64_t>(request.text().size());
    total_tokens += reply->tokens_in();
    if (total_tokens > 0) {
      bytes_per_token_ = static_cast<double>(total_bytes) / total_tokens;
      calibrated_ = true;
    }
    if (need_pool) {
      pool_.push_back(reply->session_id());
    } else {
      DeleteQuietly(reply->session_id());
    }
  }
  return absl::OkStatus();
}

int64_t Runner::DrawContextBytes(std::mt19937_64& random) const {
  const int64_t size = config_.context_size.Draw(random);
  if (!config_.context_in_tokens) return size;
  return std::max<int64_t>(1, std::llround(size * bytes_per_token_));
}

void Runner::DeleteQuietly(const std::string& session_id) {
  if (config_.keep_sessions) return;
  v1::DeleteSessionRequest request;
  request.set_session_id(session_id);
  if (!setup_.DeleteSession(request).ok()) ++cleanup_failures_;
}

void Runner::Execute(const Planned& planned) {
  std::mt19937_64 random(planned.seed);
  RequestRecord record;
  record.op = planned.op;
  ++progress_->in_flight;
  ++progress_->sent;
  const Clock::time_point sent = Clock::now();
  Clock::time_point first_message{};
  bool got_message = false;
  auto on_message = [&](const auto&) {
    if (got_message) return;
    got_message = true;
    first_message = Clock::now();
  };
  absl::Status status;
  std::string made_session;
  switch (planned.op) {
    case Operation::kCompress: {
      v1::CompressRequest request;
      request.set_text(contexts_.Draw(DrawContextBytes(random), random));
      request.set_method(config_.method);
      request.set_model(config_.model);
      absl::StatusOr<v1::CompressResponse> reply = load_.Compress(request);
      status = reply.status();
      if (reply.ok()) {
        record.tokens = reply->tokens_in();
        made_session = reply->session_id();
      }
      break;
    }
    case Operation::kGenerate: {
      v1::GenerateRequest request;
      request.set_session_id(pool_[random() % pool_.size()]);
      request.set_prompt(std::string(kPrompts[random() % std::size(kPrompts)]));
      request.mutable_sampling()->set_max_new_tokens(config_.max_new_tokens);
      absl::StatusOr<v1::GenerateResponse> last =
          load_.Generate(request, on_message);
      status = last.status();
      if (last.ok()) record.tokens = last->usage().generated_tokens();
      break;
    }
    case Operation::kReconstruct: {
      v1::ReconstructRequest request;
      request.set_session_id(pool_[random() % pool_.size()]);
      request.set_max_tokens(config_.reconstruct_tokens);
      absl::StatusOr<v1::ReconstructResponse> last =
          load_.Reconstruct(request, on_message);
      status = last.status();
      if (last.ok()) record.tokens = last->usage().generated_tokens();
      break;
    }
  }
  const Clock::time_point end = Clock::now();
  --progress_->in_flight;
  ++(status.ok() ? progress_->succeeded : progress_->failed);
  if (!made_session.empty()) DeleteQuietly(made_session);

  record.code = status.code();
  record.latency = absl::FromChrono(end - planned.scheduled);
  record.send_lag = absl::FromChrono(sent - planned.scheduled);
  if (got_message) {
    record.first_message = absl::FromChrono(first_message - planned.scheduled);
  }
  record.ended = absl::FromChrono(end - measure_start_);
  absl::MutexLock lock(&mutex_);
  if (planned.measured) {
    records_.push_back(record);
  } else {
    ++warmup_requests_;
  }
}

void Runner::Run() {
  const Clock::time_point start = Clock::now();
  measure_start_ = start + absl::ToChronoNanoseconds(config_.warmup);
  measure_end_ = measure_start_ + absl::ToChronoNanoseconds(config_.duration);
  if (config_.mode == LoadConfig::Mode::kClosedLoop) {
    RunClosedLoop();
  } else {
    RunOpenLoop();
  }
}

void Runner::RunClosedLoop() {
  std::vector<std::thread> clients;
  for (int c = 0; c < config_.concurrency; ++c) {
    clients.emplace_back([this, c] {
      std::mt19937_64 random(ClientSeed(config_.seed, c));
      for (;;) {
        const Clock::time_point now = Clock::now();
        if (now >= measure_end_) return;
        const bool measured = now >= measure_start_;
        if (measured && config_.max_requests > 0 &&
            measured_claimed_.fetch_add(1) >= config_.max_requests) {
          return;
        }
        const Operation op = config_.mix.Draw(UnitRandom(random));
        Execute(Planned{op, now, measured, random()});
      }
    });
  }
  for (std::thread& client : clients) client.join();
}

void Runner::RunOpenLoop() {
  DueQueue due;
  std::vector<std::thread> senders;
  for (int i = 0; i < config_.max_in_flight; ++i) {
    senders.emplace_back([this, &due] {
      Planned planned;
      bool too_late = false;
      while (due.Pop(&planned, &too_late)) {
        if (!too_late) {
          Execute(planned);
        } else if (planned.measured) {
          absl::MutexLock lock(&mutex_);
          ++unsent_;
        }
      }
    });
  }
  // Arrivals: a Poisson process, i.e. exponential gaps of mean 1 / rate.
  std::mt19937_64 random(config_.seed);
  std::exponential_distribution<double> gap_seconds(config_.rate);
  Clock::time_point next = Clock::now();
  int64_t measured = 0;
  for (;;) {
    next += std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(gap_seconds(random)));
    if (next >= measure_end_) break;
    const bool is_measured = next >= measure_start_;
    if (is_measured && config_.max_requests > 0 &&
        measured >= config_.max_requests) {
      break;
    }
    measured += is_measured ? 1 : 0;
    const Operation op = config_.mix.Draw(UnitRandom(random));
    const uint64_t seed = random();
    std::this_thread::sleep_until(next);
    due.Push(Planned{op, next, is_measured, seed});
  }
  due.Close(Clock::now() + absl::ToChronoNanoseconds(config_.timeout));
  for (std::thread& sender : senders) sender.join();
}

void Runner::Cleanup() {
  for (const std::string& session_id : pool_) DeleteQuietly(session_id);
  pool_.clear();
}

LoadResult Runner::TakeResult() {
  LoadResult result;
  absl::MutexLock lock(&mutex_);
  result.records = std::move(records_);
  result.warmup_requests = warmup_requests_;
  result.unsent = unsent_;
  for (const RequestRecord& record : result.records) {
    result.window = std::max(result.window, record.ended);
  }
  result.bytes_per_token = calibrated_ ? bytes_per_token_ : 0;
  result.sessions_created = sessions_created_;
  result.cleanup_failures = cleanup_failures_.load();
  return result;
}

}  // namespace

absl::StatusOr<LoadResult> RunLoad(Client& load, Client& setup,
                                   const ContextSource& contexts,
                                   const LoadConfig& config,
                                   LoadProgress* progress) {
  if (config.concurrency < 1 || config.max_in_flight < 1 || !(config.rate > 0) ||
      config.duration <= absl::ZeroDuration() ||
      config.warmup < absl::ZeroDuration() || config.max_requests < 0) {
    return absl::InvalidArgumentError(
        "concurrency, max_in_flight, rate and duration must be positive; "
        "warmup and max_requests not negative");
  }
  Runner runner(load, setup, contexts, config, progress);
  if (absl::Status status = runner.Setup(); !status.ok()) {
    runner.Cleanup();
    return status;
  }
  runner.Run();
  runner.Cleanup();
  return runner.TakeResult();
}

}  // namespace ccs::client
