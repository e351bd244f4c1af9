#include "server/monitoring_server.h"

#include <sys/socket.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "httplib.h"

namespace ccs::server {
namespace {

constexpr int kHttpThreads = 2;
constexpr char kMetricsContentType[] = "text/plain; version=0.0.4; charset=utf-8";
constexpr char kTextContentType[] = "text/plain; charset=utf-8";

}  // namespace

absl::StatusOr<std::unique_ptr<MonitoringServer>> MonitoringServer::Start(
    const std::string& host, int port, const MetricsRegistry* registry,
    std::function<absl::Status()> readiness) {
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("HTTP port ", port, ": use 0 to 65535"));
  }
  auto http = std::make_unique<httplib::Server>();
  // A scrape is one short request: no keep-alive, so two threads never sit
  // on idle connections while another scraper waits.
  http->new_task_queue = [] { return new httplib::ThreadPool(kHttpThreads); };
  http->set_keep_alive_max_count(1);
  http->set_read_timeout(5);
  http->set_write_timeout(5);
  http->set_payload_max_length(1 << 16);
  // httplib's default also sets SO_REUSEPORT, which would let a second
  // server bind the same port silently; a busy port must be an error.
  http->set_socket_options([](int socket) {
    const int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });

  http->Get("/metrics", [registry](const httplib::Request&, httplib::Response& response) {
    response.set_content(registry->RenderText(), kMetricsContentType);
  });
  http->Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("ok\n", kTextContentType);
  });
  http->Get("/readyz", [readiness = std::move(readiness)](const httplib::Request&,
                                                          httplib::Response& response) {
    const absl::Status ready = readiness();
    if (ready.ok()) {
      response.set_content("ready\n", kTextContentType);
    } else {
      response.status = 503;
      response.set_content(absl::StrCat("not ready: ", ready.message(), "\n"), kTextContentType);
    }
  });

  int bound = port;
  if (port == 0) {
    bound = http->bind_to_any_port(host);
  } else if (!http->bind_to_port(host, port)) {
    bound = -1;
  }
  if (bound <= 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for HTTP on ", host, ":", port,
                                               ": the host is unknown or the port is in use"));
  }
  return std::unique_ptr<MonitoringServer>(new MonitoringServer(std::move(http), bound));
}

MonitoringServer::MonitoringServer(std::unique_ptr<httplib::Server> http, int port)
    : http_(std::move(http)), port_(port) {
  thread_ = std::thread([this] {
    http_->listen_after_bind();
    listening_done_ = true;
  });
  // httplib's stop() does nothing before the loop runs: wait for it, so
  // that the destructor's stop() always ends it.
  while (!http_->is_running() && !listening_done_) absl::SleepFor(absl::Milliseconds(1));
}

MonitoringServer::~MonitoringServer() {
  http_->stop();
  thread_.join();
}

}  // namespace ccs::server
