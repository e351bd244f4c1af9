#include "server/server.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/security/server_credentials.h"
#include "server/rocksdb_persistence.h"
#include "server/server_metrics.h"
#include "server/service.h"
#include "spdlog/spdlog.h"

namespace ccs::server {
namespace {

// The engine (which knows its memory types) as the store's codec.
class EngineMemoryCodec final : public MemoryCodec {
 public:
  explicit EngineMemoryCodec(const model::Engine* engine) : engine_(engine) {}
  absl::StatusOr<std::string> Encode(const model::Memory& memory) const override {
    if (engine_ == nullptr) return NoModel();
    return engine_->SerializeMemory(memory);
  }
  absl::StatusOr<std::shared_ptr<const model::Memory>> Decode(
      absl::string_view bytes) const override {
    if (engine_ == nullptr) return NoModel();
    return engine_->DeserializeMemory(bytes);
  }

 private:
  static absl::Status NoModel() {
    return absl::FailedPreconditionError(
        "no model is loaded on this server, so stored sessions cannot be read");
  }
  const model::Engine* const engine_;  // may be null; outlives the store
};

// The session store: in RAM only, or over the database under data_dir,
// whose sessions it indexes now.
absl::StatusOr<std::unique_ptr<SessionStore>> OpenSessionStore(const ServerOptions& options,
                                                               const model::Engine* engine) {
  if (options.data_dir.empty()) {
    spdlog::info("sessions are kept in RAM only (no --data_dir)");
    return std::make_unique<SessionStore>(options.sessions);
  }
  const std::string dir = options.data_dir + "/sessions";
  absl::StatusOr<std::unique_ptr<RocksDbPersistence>> disk = RocksDbPersistence::Open(dir);
  if (!disk.ok()) return disk.status();
  auto store = std::make_unique<SessionStore>(options.sessions, *std::move(disk),
                                              std::make_unique<EngineMemoryCodec>(engine));
  const absl::Time start = absl::Now();
  absl::StatusOr<RecoveryReport> report = store->Recover();
  if (!report.ok()) return report.status();
  for (const std::string& skipped : report->skipped) {
    spdlog::warn("skipped an unreadable stored session record: {}", skipped);
  }
  spdlog::info("persistent session tier {}: {} session(s) indexed in {}, {} expired, {} skipped",
               dir, report->sessions, absl::FormatDuration(absl::Now() - start), report->expired,
               report->skipped.size());
  return store;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Start(
    const ServerOptions& options, std::unique_ptr<model::Engine> engine) {
  if (options.max_receive_message_bytes <= 0 ||
      options.max_send_message_bytes <= 0) {
    return absl::InvalidArgumentError(
        "message size limits must be positive byte counts");
  }
  if (absl::Status s = ValidateSchedulerOptions(options.scheduler); !s.ok()) return s;
  const bool tls = !options.tls_cert_chain_pem.empty();
  if (tls != !options.tls_private_key_pem.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs both a certificate chain and a private key, or neither");
  }
  absl::StatusOr<std::unique_ptr<SessionStore>> opened = OpenSessionStore(options, engine.get());
  if (!opened.ok()) return opened.status();
  std::unique_ptr<SessionStore> store = *std::move(opened);
  std::shared_ptr<MetricsRegistry> registry =
      options.metrics != nullptr ? options.metrics : std::make_shared<MetricsRegistry>();
  auto metrics = std::make_unique<ServerMetrics>(registry.get());
  auto scheduler = std::make_unique<Scheduler>(options.scheduler, engine.get(), metrics.get());
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  auto service = std::make_unique<ContextCompressionService>(
      options.limits, engine.get(), store.get(), scheduler.get(), options.auth.get(),
      metrics.get());
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (tls) {
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({options.tls_private_key_pem, options.tls_cert_chain_pem});
    credentials = grpc::SslServerCredentials(ssl);
  }
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen_address, credentials, &port);
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  builder.SetMaxSendMessageSize(options.max_send_message_bytes);
  builder.RegisterService(service.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", options.listen_address,
        tls ? ": the address is malformed, the port is in use, or the TLS certificate or key "
              "is not valid PEM (or they do not match)"
            : ": the address is malformed or the port is in use"));
  }
  server->GetHealthCheckService()->SetServingStatus(
      v1::ContextCompression::service_full_name(), true);
  return std::unique_ptr<Server>(new Server(std::move(registry), std::move(metrics),
                                            options.auth, std::move(engine), std::move(store),
                                            std::move(scheduler), std::move(service),
                                            std::move(server), port));
}

Server::Server(std::shared_ptr<MetricsRegistry> registry, std::unique_ptr<ServerMetrics> metrics,
               std::shared_ptr<const TokenAuthenticator> auth,
               std::unique_ptr<model::Engine> engine, std::unique_ptr<SessionStore> store,
               std::unique_ptr<Scheduler> scheduler,
               std::unique_ptr<ContextCompressionService> service,
               std::unique_ptr<grpc::Server> server, int port)
    : registry_(std::move(registry)),
      metrics_(std::move(metrics)),
      auth_(std::move(auth)),
      engine_(std::move(engine)),
      store_(std::move(store)),
      scheduler_(std::move(scheduler)),
      service_(std::move(service)),
      server_(std::move(server)),
      port_(port) {
  collector_id_ = registry_->AddCollector([this] {
    metrics_->SetQueueDepth(scheduler_->depth());
    metrics_->SetSessionStats(store_->stats());
  });
}

Server::~Server() {
  if (!shut_down_) Shutdown(absl::ZeroDuration());
}

void Server::Shutdown(absl::Duration drain) {
  shut_down_ = true;
  server_->GetHealthCheckService()->SetServingStatus(false);
  const auto deadline =
      std::chrono::system_clock::now() + absl::ToChronoMilliseconds(drain);
  server_->Shutdown(deadline);
  server_->Wait();
  registry_->RemoveCollector(collector_id_);  // it reads scheduler_ and store_
  scheduler_.reset();  // every accepted task has run
}

}  // namespace ccs::server
