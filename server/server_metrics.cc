#include "server/server_metrics.h"

#include <string>

#include "server/grpc_status.h"

namespace ccs::server {
namespace {

// Latency buckets, seconds: from a cached GetSession (~1 ms) to a long
// streamed Generate (minutes).
const std::vector<double>& LatencyBounds() {
  static const auto* bounds = new std::vector<double>{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
  return *bounds;
}

const std::vector<double>& BatchBounds() {
  static const auto* bounds = new std::vector<double>{1, 2, 4, 8, 16, 32, 64, 128, 256};
  return *bounds;
}

const char* BatchKindName(BatchKind kind) {
  return kind == BatchKind::kCompress ? "compress" : "decode";
}

// One SessionStats field as one series. To export a new field, add a row:
// rows naming the same metric share its family and must agree on its type,
// help and label name.
struct SessionStatExport {
  const char* metric;
  const char* help;
  bool counter;            // a cumulative total (else a gauge)
  const char* label_name;  // null: no label
  const char* label_value;
  int64_t SessionStats::*field;
};

// Tiers: "memory" counts what is in RAM, "disk" what is in the persistent
// tier; with one, every session is on disk and the recently used ones in RAM
// too.
constexpr SessionStatExport kSessionStatExports[] = {
    {"ccs_sessions", "Sessions held, by storage tier.", false, "tier", "memory",
     &SessionStats::ram_sessions},
    {"ccs_sessions", "Sessions held, by storage tier.", false, "tier", "disk",
     &SessionStats::disk_sessions},
    {"ccs_session_bytes", "Bytes of session memory held, by storage tier.", false, "tier",
     "memory", &SessionStats::memory_bytes},
    {"ccs_session_bytes", "Bytes of session memory held, by storage tier.", false, "tier",
     "disk", &SessionStats::disk_bytes},
    {"ccs_prefix_cache_bytes", "Bytes of cached decoder prefixes held in RAM.", false, nullptr,
     nullptr, &SessionStats::prefix_cache_bytes},
    {"ccs_session_lookups_total",
     "Session lookups by result (hit: in RAM; load: loaded from disk; miss: unknown, another "
     "tenant's, or expired).",
     true, "result", "hit", &SessionStats::hits},
    {"ccs_session_lookups_total",
     "Session lookups by result (hit: in RAM; load: loaded from disk; miss: unknown, another "
     "tenant's, or expired).",
     true, "result", "load", &SessionStats::loads},
    {"ccs_session_lookups_total",
     "Session lookups by result (hit: in RAM; load: loaded from disk; miss: unknown, another "
     "tenant's, or expired).",
     true, "result", "miss", &SessionStats::misses},
    {"ccs_session_evictions_total",
     "Session memories evicted from RAM to the persistent tier to make room.", true, nullptr,
     nullptr, &SessionStats::evictions},
    {"ccs_session_corrupt_records_total",
     "Stored session records that could not be read (reported and skipped).", true, nullptr,
     nullptr, &SessionStats::corrupt_records},
    {"ccs_session_expirations_total", "Sessions removed by the time-to-live.", true, nullptr,
     nullptr, &SessionStats::expirations},
    {"ccs_prefix_cache_evictions_total", "Cached prefixes dropped to make room in RAM.", true,
     nullptr, nullptr, &SessionStats::prefix_cache_drops},
};

}  // namespace

ServerMetrics::ServerMetrics(MetricsRegistry* registry)
    : registry_(registry),
      requests_(registry->AddCounter("ccs_requests_total",
                                     "RPCs finished, by method and gRPC status code.",
                                     {"rpc", "code"})),
      request_seconds_(registry->AddHistogram(
          "ccs_request_duration_seconds",
          "Time from an RPC's arrival to its last message, by method (queueing included).",
          {"rpc"}, LatencyBounds())),
      in_flight_(registry->AddGauge("ccs_requests_in_flight", "RPCs started and not finished.",
                                    {"rpc"})),
      batch_size_(registry->AddHistogram(
          "ccs_batch_size",
          "Requests per batch handed to the model: compress calls, or streams per decode step.",
          {"kind"}, BatchBounds())),
      compressed_tokens_(registry->AddCounter(
          "ccs_compressed_tokens_total", "Context tokens compressed, by method.", {"method"})),
      memory_slots_(registry->AddCounter("ccs_memory_slots_total",
                                         "Memory vectors produced by compression, by method.",
                                         {"method"})),
      generated_tokens_(registry->AddCounter(
          "ccs_generated_tokens_total",
          "Tokens decoded, by task (answer: Generate; reconstruct: Reconstruct).", {"task"})),
      first_token_seconds_(registry->AddHistogram(
          "ccs_time_to_first_token_seconds",
          "Time from a worker starting a stream to its first decoded token, by task.", {"task"},
          LatencyBounds())),
      queue_depth_(registry
                       ->AddGauge("ccs_work_queue_depth",
                                  "Requests waiting for a model worker (not yet running).")
                       .WithLabels({})) {}

void ServerMetrics::OnRequestStart(absl::string_view rpc) {
  in_flight_.WithLabels({std::string(rpc)}).Add(1);
}

void ServerMetrics::OnRequestDone(absl::string_view rpc, grpc::StatusCode code,
                                  absl::Duration latency) {
  const std::string name(rpc);
  in_flight_.WithLabels({name}).Add(-1);
  requests_.WithLabels({name, GrpcCodeName(code)}).Increment();
  request_seconds_.WithLabels({name}).Observe(absl::ToDoubleSeconds(latency));
}

void ServerMetrics::ObserveBatch(BatchKind kind, int64_t size) {
  batch_size_.WithLabels({BatchKindName(kind)}).Observe(static_cast<double>(size));
}

void ServerMetrics::AddCompressedTokens(absl::string_view method, int64_t tokens, int64_t slots) {
  compressed_tokens_.WithLabels({std::string(method)}).Increment(static_cast<double>(tokens));
  memory_slots_.WithLabels({std::string(method)}).Increment(static_cast<double>(slots));
}

void ServerMetrics::AddGeneratedTokens(absl::string_view task, int64_t tokens) {
  generated_tokens_.WithLabels({std::string(task)}).Increment(static_cast<double>(tokens));
}

void ServerMetrics::ObserveTimeToFirstToken(absl::string_view task, absl::Duration latency) {
  first_token_seconds_.WithLabels({std::string(task)}).Observe(absl::ToDoubleSeconds(latency));
}

void ServerMetrics::SetQueueDepth(int64_t depth) { queue_depth_.Set(static_cast<double>(depth)); }

void ServerMetrics::SetSessionStats(const SessionStats& stats) {
  for (const SessionStatExport& row : kSessionStatExports) {
    std::vector<std::string> label_names;
    LabelValues label_values;
    if (row.label_name != nullptr) {
      label_names.push_back(row.label_name);
      label_values.push_back(row.label_value);
    }
    const double value = static_cast<double>(stats.*row.field);
    if (row.counter) {
      registry_->AddCounter(row.metric, row.help, label_names).WithLabels(label_values).SetTotal(value);
    } else {
      registry_->AddGauge(row.metric, row.help, label_names).WithLabels(label_values).Set(value);
    }
  }
}

}  // namespace ccs::server
