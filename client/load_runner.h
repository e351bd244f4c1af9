// The load tool's engine: drives a mix of Compress, Generate and
// Reconstruct calls at a server and records what happened to each.
//
//   LoadConfig config;             // closed loop, 4 clients, 10 s, ...
//   absl::StatusOr<LoadResult> result =
//       RunLoad(*load_client, *setup_client, contexts, config);
//
// Two ways to apply load:
//   closed loop  `concurrency` clients, each sending its next request as
//                soon as the previous one finished. Measures the service at
//                a fixed concurrency; the request rate is what it can take.
//   open loop    requests arrive at `rate` per second as a Poisson process
//                (exponential gaps drawn from the seeded generator), whether
//                or not earlier ones have finished, as independent users
//                would send them. Latency is measured from each request's
//                SCHEDULED arrival, so time spent waiting because the
//                service (or the client's `max_in_flight` senders) fell
//                behind is counted and not hidden ("coordinated omission").
//
// Phases: set-up (a pool of `sessions` sessions for Generate and
// Reconstruct to use; not measured) -> warm-up (requests run but are not
// recorded) -> measurement, which ends after `duration` or once
// `max_requests` measured requests were sent, whichever comes first ->
// drain (requests already sent finish; in open loop, requests already due
// are still sent until `timeout` after the end, and counted as unsent after
// that) -> clean-up (sessions deleted unless `keep_sessions`).
//
// Every measured request that was sent ends with exactly one record: its
// status code (OK or the failure's), so that
//   sent = succeeded + sum over codes of failed.
//
// Sessions made by measured Compress calls are deleted right after (not
// measured), so that a long run does not fill the server's session quota.
//
// Thread-safety: RunLoad uses its own threads; the clients must be
// thread-safe (Client is).
#ifndef CCS_CLIENT_LOAD_RUNNER_H_
#define CCS_CLIENT_LOAD_RUNNER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ccs/v1/context_compression.pb.h"
#include "client/client.h"
#include "client/load_workload.h"

namespace ccs::client {

struct LoadConfig {
  enum class Mode { kClosedLoop, kOpenLoop };
  Mode mode = Mode::kClosedLoop;
  // Closed loop: clients sending back to back.
  int concurrency = 4;
  // Open loop: mean arrivals per second, and the most requests in flight
  // at once (senders); arrivals beyond wait, and the wait is measured.
  double rate = 10;
  int max_in_flight = 64;

  absl::Duration warmup = absl::Seconds(2);
  absl::Duration duration = absl::Seconds(10);
  // Measured requests to send at most; 0: no limit (duration only).
  int64_t max_requests = 0;
  // Deadline of each call; also how long requests already due may still be
  // sent after the measurement ends (open loop).
  absl::Duration timeout = absl::Seconds(30);

  Mix mix = *Mix::Parse("compress:1,generate:3,reconstruct:1");
  // Context size: bytes, or tokens when context_in_tokens (converted with
  // the bytes per token measured on the server's replies during set-up).
  SizeRange context_size = {256, 1024};
  bool context_in_tokens = true;
  // Sessions made during set-up for Generate and Reconstruct.
  int sessions = 4;
  v1::Method method = v1::METHOD_AUTO;
  std::string model;
  int max_new_tokens = 32;     // Generate
  int reconstruct_tokens = 64; // Reconstruct
  uint64_t seed = 1;
  bool keep_sessions = false;
};

// What happened to one measured request.
struct RequestRecord {
  Operation op = Operation::kCompress;
  absl::StatusCode code = absl::StatusCode::kOk;
  // From the scheduled send time: to the end of the call, and (streams) to
  // the first message; first_message is zero when none came.
  absl::Duration latency;
  absl::Duration first_message;
  // From the scheduled to the actual send time (open loop: queueing in the
  // client; closed loop: 0).
  absl::Duration send_lag;
  // Compress: context tokens the server counted; streams: generated tokens.
  int64_t tokens = 0;
  // When the call ended, from the start of measurement.
  absl::Duration ended;
};

struct LoadResult {
  std::vector<RequestRecord> records;  // measured requests, in end order
  // Requests run during warm-up (not in records).
  int64_t warmup_requests = 0;
  // Open loop: measured requests scheduled but not sent before the drain
  // ended (not in records, not in "sent").
  int64_t unsent = 0;
  // From the start of measurement to the end of the last measured request.
  absl::Duration window;
  // Context bytes per token the server's replies showed during set-up (0
  // when not measured).
  double bytes_per_token = 0;
  int sessions_created = 0;
  // Deletions of sessions that failed (set-up pool and measured Compress).
  int64_t cleanup_failures = 0;
};

// Live counters of every request (warm-up included), for a progress line
// while the run goes on.
struct LoadProgress {
  std::atomic<int64_t> sent{0};
  std::atomic<int64_t> succeeded{0};
  std::atomic<int64_t> failed{0};
  std::atomic<int64_t> in_flight{0};
};

// RunLoad: runs the phases above. `load` carries the measured calls (its
// retry policy is part of what is measured: usually no retries); `setup`
// makes and deletes sessions. Errors: set-up failures, with the server's
// status (e.g. FAILED_PRECONDITION when the method is not loaded).
absl::StatusOr<LoadResult> RunLoad(Client& load, Client& setup,
                                   const ContextSource& contexts,
                                   const LoadConfig& config,
                                   LoadProgress* progress = nullptr);

}  // namespace ccs::client

#endif  // CCS_CLIENT_LOAD_RUNNER_H_
