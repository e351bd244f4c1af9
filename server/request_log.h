// Per-request ids and the one log line each RPC writes when it finishes:
//
//   rpc=Compress id=3f9a0c1e-000007 peer=ipv4:127.0.0.1:5312
//       status=INVALID_ARGUMENT micros=85 msg="the context is empty: ..."
//
// The id is also sent to the client as initial metadata "x-request-id", so a
// user can quote it when reporting a problem. A RequestObserver (the server's
// metrics) is told when each call starts and finishes, so every call logged
// is also counted, with its status and latency.
//
//   RequestTracker requests(&metrics);             // one per service
//   RequestLog log(requests, "Compress", context);  // at the start of a handler
//   ...
//   log.Finish(status);                            // exactly once, at the end
//
// RequestTracker is thread-safe. A RequestLog belongs to one call.
#ifndef CCS_SERVER_REQUEST_LOG_H_
#define CCS_SERVER_REQUEST_LOG_H_

#include <atomic>
#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/time/time.h"
#include "grpcpp/server_context.h"

namespace ccs::server {

// Told about every call; implementations must be thread-safe and fast (they
// run on gRPC's and the workers' threads).
class RequestObserver {
 public:
  virtual ~RequestObserver() = default;
  virtual void OnRequestStart(absl::string_view rpc) = 0;
  virtual void OnRequestDone(absl::string_view rpc, grpc::StatusCode code,
                             absl::Duration latency) = 0;
};

// What a service's RequestLogs share: ids "<random process prefix>-<sequence
// number>", unique within a process and, with high probability, across
// restarts; and the observer (null: none), which must outlive the tracker.
class RequestTracker {
 public:
  explicit RequestTracker(RequestObserver* observer = nullptr);
  RequestTracker(const RequestTracker&) = delete;
  RequestTracker& operator=(const RequestTracker&) = delete;

  std::string NextId();
  RequestObserver* observer() const { return observer_; }

 private:
  const std::string prefix_;
  std::atomic<uint64_t> sequence_{0};
  RequestObserver* const observer_;
};

class RequestLog {
 public:
  // Assigns an id, attaches it to the call's initial metadata and tells
  // the observer the call started.
  RequestLog(RequestTracker& tracker, absl::string_view rpc,
             grpc::ServerContextBase* context);
  RequestLog(const RequestLog&) = delete;
  RequestLog& operator=(const RequestLog&) = delete;

  const std::string& id() const { return id_; }

  // Logs the request's line: info for OK and client errors, warn for
  // server-side failures (INTERNAL, UNKNOWN, DATA_LOSS, UNAVAILABLE); and
  // tells the observer the call finished.
  void Finish(const grpc::Status& status) const;

 private:
  RequestObserver* const observer_;
  const std::string id_;
  const std::string rpc_;
  const std::string peer_;
  const absl::Time start_;
};

}  // namespace ccs::server

#endif  // CCS_SERVER_REQUEST_LOG_H_
