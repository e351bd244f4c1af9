// ServerMetrics: what the server counts, as families in a MetricsRegistry
// (served at /metrics by MonitoringServer). Every name is listed in
// README.md ("Metrics").
//
//   MetricsRegistry registry;
//   ServerMetrics metrics(&registry);
//   RequestTracker requests(&metrics);          // counts every RPC
//   metrics.ObserveBatch(BatchKind::kCompress, batch.size());
//   metrics.AddCompressedTokens("RCC", tokens_in, slots_out);
//   // at scrape time, from a collector:
//   metrics.SetQueueDepth(queue.depth());
//   metrics.SetSessionStats(store.stats());
//
// No label carries a tenant, a session id or anything a client chose, so
// the number of series stays bounded and /metrics reveals no tenant's data.
//
// Thread-safety: every method may be called from any thread.
#ifndef CCS_SERVER_SERVER_METRICS_H_
#define CCS_SERVER_SERVER_METRICS_H_

#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/metrics.h"
#include "server/request_log.h"
#include "server/session_store.h"

namespace ccs::server {

// What a batch of model work did: compress contexts, or take decode steps.
enum class BatchKind { kCompress, kDecode };

class ServerMetrics final : public RequestObserver {
 public:
  // Registers the families in `registry`, which must outlive this object.
  explicit ServerMetrics(MetricsRegistry* registry);
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  MetricsRegistry& registry() const { return *registry_; }

  // RequestObserver: ccs_requests_total{rpc,code},
  // ccs_request_duration_seconds{rpc}, ccs_requests_in_flight{rpc}.
  void OnRequestStart(absl::string_view rpc) override;
  void OnRequestDone(absl::string_view rpc, grpc::StatusCode code,
                     absl::Duration latency) override;

  // ObserveBatch records the size of one batch handed to the model
  // (ccs_batch_size{kind}). The scheduler calls it once per batch it runs.
  void ObserveBatch(BatchKind kind, int64_t size);

  // Tokens compressed into memory, and the memory vectors they became
  // (ccs_compressed_tokens_total{method}, ccs_memory_slots_total{method}).
  void AddCompressedTokens(absl::string_view method, int64_t tokens, int64_t slots);
  // Tokens decoded by Generate ("answer") or Reconstruct ("reconstruct")
  // (ccs_generated_tokens_total{task}); rate() of it is tokens per second.
  void AddGeneratedTokens(absl::string_view task, int64_t tokens);
  // ccs_time_to_first_token_seconds{task}.
  void ObserveTimeToFirstToken(absl::string_view task, absl::Duration latency);

  // Copies of values kept elsewhere, set by collectors at scrape time.
  void SetQueueDepth(int64_t depth);
  void SetSessionStats(const SessionStats& stats);

 private:
  MetricsRegistry* const registry_;
  CounterFamily& requests_;
  HistogramFamily& request_seconds_;
  GaugeFamily& in_flight_;
  HistogramFamily& batch_size_;
  CounterFamily& compressed_tokens_;
  CounterFamily& memory_slots_;
  CounterFamily& generated_tokens_;
  HistogramFamily& first_token_seconds_;
  Gauge& queue_depth_;
};

}  // namespace ccs::server

#endif  // CCS_SERVER_SERVER_METRICS_H_
