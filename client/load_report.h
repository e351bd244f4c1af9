// The load tool's report: what a run measured, as JSON (for scripts and
// for comparing runs) and as a table for people.
//
//   nlohmann::json report = BuildReport(config, target, result);
//   std::cout << RenderTable(report);
//
// JSON layout (times in milliseconds, rates per second of the measurement
// window; latency summaries cover succeeded requests, and are null when
// there were none):
//   { "target", "mode", "concurrency" | "rate" + "max_in_flight", "mix",
//     "seed", "warmup_s", "duration_s", "max_requests", "window_s",
//     "context": {"unit", "min", "max", "source", "bytes_per_token"},
//     "sent", "succeeded", "failed", "failed_by_code": {"UNAVAILABLE": n},
//     "unsent", "warmup_requests", "cleanup_failures",
//     "requests_per_s" (succeeded), "sent_per_s",
//     "tokens": {"compressed", "generated", "compressed_per_s",
//                "generated_per_s"},
//     "latency_ms": {"count", "min", "mean", "p50", "p90", "p99", "p99.9",
//                    "max"},
//     "time_to_first_token_ms": {...}   (Generate and Reconstruct),
//     "send_lag_ms": {...}              (scheduled -> sent, all requests),
//     "histogram_ms": [{"le": 1, "count": n}, ..., {"le": null, ...}],
//     "operations": {"compress": {"sent", "succeeded", "failed",
//                    "failed_by_code", "requests_per_s", "tokens",
//                    "latency_ms", "time_to_first_token_ms"}, ...} }
// Invariant: sent = succeeded + failed = succeeded + the sum of
// failed_by_code, overall and for each operation.
#ifndef CCS_CLIENT_LOAD_REPORT_H_
#define CCS_CLIENT_LOAD_REPORT_H_

#include <string>

#include "client/load_runner.h"
#include "nlohmann/json.hpp"

namespace ccs::client {

// Describes the source of contexts in the report ("generated" or a path).
nlohmann::json BuildReport(const LoadConfig& config, const std::string& target,
                           const std::string& context_source,
                           const LoadResult& result);

// The human-readable table of a report made by BuildReport.
std::string RenderTable(const nlohmann::json& report);

}  // namespace ccs::client

#endif  // CCS_CLIENT_LOAD_REPORT_H_
