// Per-request ids and the one log line each RPC writes when it finishes:
//
//   rpc=Compress id=3f9a0c1e-000007 peer=ipv4:127.0.0.1:5312
//       status=INVALID_ARGUMENT micros=85 msg="the context is empty: ..."
//
// The id is also sent to the client as initial metadata "x-request-id", so a
// user can quote it when reporting a problem.
//
//   RequestLog log(ids, "Compress", context);   // at the start of a handler
//   ...
//   log.Finish(status);                          // exactly once, at the end
//
// RequestIdSource is thread-safe. A RequestLog belongs to one call.
#ifndef CCS_SERVER_REQUEST_LOG_H_
#define CCS_SERVER_REQUEST_LOG_H_

#include <atomic>
#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/time/time.h"
#include "grpcpp/server_context.h"

namespace ccs::server {

// Hands out ids "<random process prefix>-<sequence number>", unique within a
// process and, with high probability, across restarts.
class RequestIdSource {
 public:
  RequestIdSource();
  RequestIdSource(const RequestIdSource&) = delete;
  RequestIdSource& operator=(const RequestIdSource&) = delete;

  std::string Next();

 private:
  const std::string prefix_;
  std::atomic<uint64_t> sequence_{0};
};

class RequestLog {
 public:
  // Assigns an id and attaches it to the call's initial metadata.
  RequestLog(RequestIdSource& ids, absl::string_view rpc,
             grpc::ServerContextBase* context);
  RequestLog(const RequestLog&) = delete;
  RequestLog& operator=(const RequestLog&) = delete;

  const std::string& id() const { return id_; }

  // Logs the request's line: info for OK and client errors, warn for
  // server-side failures (INTERNAL, UNKNOWN, DATA_LOSS, UNAVAILABLE).
  void Finish(const grpc::Status& status) const;

 private:
  const std::string id_;
  const std::string rpc_;
  const std::string peer_;
  const absl::Time start_;
};

}  // namespace ccs::server

#endif  // CCS_SERVER_REQUEST_LOG_H_
