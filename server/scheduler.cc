#include "server/scheduler.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace ccs::server {

absl::Status ValidateSchedulerOptions(const SchedulerOptions& options) {
  if (options.workers < 1) {
    return absl::InvalidArgumentError(absl::StrCat("workers is ", options.workers, "; use >= 1"));
  }
  if (options.queue_capacity < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("queue_capacity is ", options.queue_capacity, "; use >= 1"));
  }
  if (options.compress_max_batch < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "compress_max_batch is ", options.compress_max_batch, "; use >= 1 (1: no batching)"));
  }
  if (options.compress_max_wait < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("compress_max_wait must not be negative");
  }
  if (options.decode_max_batch < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "decode_max_batch is ", options.decode_max_batch, "; use >= 1 (1: no batching)"));
  }
  return absl::OkStatus();
}

Scheduler::Scheduler(const SchedulerOptions& options, const model::Engine* engine,
                     ServerMetrics* metrics) {
  if (engine != nullptr && options.decode_max_batch > 1) {
    DecodeScheduler::Options decode;
    decode.max_batch = options.decode_max_batch;
    decode.capacity = options.queue_capacity;
    decode_ = std::make_unique<DecodeScheduler>(*engine, decode, [metrics](int streams) {
      metrics->ObserveBatch(BatchKind::kDecode, streams);
    });
  }
  if (engine != nullptr && options.compress_max_batch > 1) {
    CompressBatcher::Options compress;
    compress.max_batch = options.compress_max_batch;
    compress.max_wait = options.compress_max_wait;
    compress.capacity = options.queue_capacity;
    compress_ = std::make_unique<CompressBatcher>(
        compress, [engine, metrics](model::Method method,
                                    const std::vector<std::vector<int32_t>>& contexts) {
          metrics->ObserveBatch(BatchKind::kCompress, static_cast<int64_t>(contexts.size()));
          return engine->Compress(method, contexts);
        });
  }
  queue_ = std::make_unique<WorkQueue>(options.workers, options.queue_capacity);
}

Scheduler::~Scheduler() {
  queue_.reset();
  compress_.reset();
  decode_.reset();
}

int Scheduler::depth() const {
  int depth = queue_->depth();
  if (compress_ != nullptr) depth += compress_->depth();
  if (decode_ != nullptr) depth += decode_->depth();
  return depth;
}

}  // namespace ccs::server
