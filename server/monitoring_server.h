// MonitoringServer: the plain-HTTP port for operators and orchestrators
// (cpp-httplib), separate from the gRPC port:
//
//   GET /metrics  200, the registry in the Prometheus text format 0.0.4
//   GET /healthz  200 "ok" while the process serves HTTP (liveness)
//   GET /readyz   200 "ready" when `readiness` returns OK, else 503 with its
//                 message (loading the model, draining, ...)
//
//   absl::StatusOr<std::unique_ptr<MonitoringServer>> monitor =
//       MonitoringServer::Start("0.0.0.0", 9090, &registry,
//                               [&] { return state.Readiness(); });
//   ... (*monitor)->port() ...
//   monitor->reset();   // stops serving and joins its threads
//
// The endpoints are not authenticated: they expose counts, never a tenant's
// data; keep the port off untrusted networks.
//
// Thread-safety: `readiness` and the registry are called from the HTTP
// threads; both must outlive the server.
#ifndef CCS_SERVER_MONITORING_SERVER_H_
#define CCS_SERVER_MONITORING_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/metrics.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace ccs::server {

class MonitoringServer {
 public:
  // Binds host:port (port 0 picks a free one) and serves on two threads.
  // UNAVAILABLE if the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<MonitoringServer>> Start(
      const std::string& host, int port, const MetricsRegistry* registry,
      std::function<absl::Status()> readiness);

  ~MonitoringServer();  // stops serving; returns once its threads are done
  MonitoringServer(const MonitoringServer&) = delete;
  MonitoringServer& operator=(const MonitoringServer&) = delete;

  int port() const { return port_; }

 private:
  MonitoringServer(std::unique_ptr<httplib::Server> http, int port);

  const std::unique_ptr<httplib::Server> http_;
  const int port_;
  std::atomic<bool> listening_done_{false};
  std::thread thread_;
};

}  // namespace ccs::server

#endif  // CCS_SERVER_MONITORING_SERVER_H_
