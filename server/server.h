// The gRPC server around ContextCompressionService: listening port (TLS or
// plaintext), bearer-token authentication, message limits, metrics, the
// standard health service and server reflection, and a bounded graceful
// shutdown.
//
//   ServerOptions options;
//   options.listen_address = "127.0.0.1:0";   // port 0: pick a free one
//   absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options);
//   ... (*server)->port() ...
//   (*server)->Shutdown(absl::Seconds(10));   // drain, then cancel the rest
//
// Thread-safety: Shutdown may be called from any thread, once.
#ifndef CCS_SERVER_SERVER_H_
#define CCS_SERVER_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "model/engine/engine.h"
#include "server/auth.h"
#include "server/metrics.h"
#include "server/scheduler.h"
#include "server/session_store.h"
#include "server/validation.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace ccs::server {

class ContextCompressionService;
class ServerMetrics;

struct ServerOptions {
  // host:port to listen on; port 0 picks a free port (see Server::port()).
  std::string listen_address = "0.0.0.0:50051";
  // Largest request and response message, bytes. gRPC answers
  // RESOURCE_EXHAUSTED for a larger one.
  int max_receive_message_bytes = 64 << 20;
  int max_send_message_bytes = 64 << 20;
  RequestLimits limits;
  SessionLimits sessions;
  // Directory of the persistent session tier (a RocksDB database in its
  // "sessions" folder). Empty: sessions live in RAM only.
  std::string data_dir;
  // Where model work runs and how it is batched (scheduler.h): workers,
  // queue capacity, compress and decode batch sizes.
  SchedulerOptions scheduler;
  // TLS: with both set (PEM text), the port serves TLS only; with neither,
  // plaintext. One without the other is INVALID_ARGUMENT.
  std::string tls_cert_chain_pem;
  std::string tls_private_key_pem;
  // Bearer-token authentication; null: off, every caller is tenant
  // "default". The health and reflection services never ask for a token.
  std::shared_ptr<const TokenAuthenticator> auth;
  // Where the server's metrics are registered (server_metrics.h); null: a
  // private registry nobody reads.
  std::shared_ptr<MetricsRegistry> metrics;
};

class Server {
 public:
  // Starts serving `engine` (null: no model; model RPCs then answer
  // FAILED_PRECONDITION), first indexing the sessions stored under
  // data_dir. Errors: INVALID_ARGUMENT for bad options, FAILED_PRECONDITION
  // if the session database cannot be opened, UNAVAILABLE if the address
  // cannot be bound.
  static absl::StatusOr<std::unique_ptr<Server>> Start(
      const ServerOptions& options, std::unique_ptr<model::Engine> engine);

  ~Server();  // Shuts down with no drain time if Shutdown was not called.
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The port actually bound.
  int port() const { return port_; }

  // Marks the service NOT_SERVING for health checks, stops accepting calls,
  // lets in-flight calls finish for up to `drain`, then cancels the rest.
  // Returns once every call has ended.
  void Shutdown(absl::Duration drain);

 private:
  Server(std::shared_ptr<MetricsRegistry> registry, std::unique_ptr<ServerMetrics> metrics,
         std::shared_ptr<const TokenAuthenticator> auth, std::unique_ptr<model::Engine> engine,
         std::unique_ptr<SessionStore> store, std::unique_ptr<Scheduler> scheduler,
         std::unique_ptr<ContextCompressionService> service,
         std::unique_ptr<grpc::Server> server, int port);

  // Shutdown stops the gRPC server, then the scheduler (which finishes the
  // work it accepted and uses everything else), so that what remains can go
  // in any order. The metrics collector reads store_ and scheduler_: it is
  // removed before either goes.
  const std::shared_ptr<MetricsRegistry> registry_;
  const std::unique_ptr<ServerMetrics> metrics_;
  const std::shared_ptr<const TokenAuthenticator> auth_;
  const std::unique_ptr<model::Engine> engine_;
  const std::unique_ptr<SessionStore> store_;
  std::unique_ptr<Scheduler> scheduler_;
  const std::unique_ptr<ContextCompressionService> service_;
  const std::unique_ptr<grpc::Server> server_;
  const int port_;
  int collector_id_ = 0;
  bool shut_down_ = false;
};

}  // namespace ccs::server

#endif  // CCS_SERVER_SERVER_H_
