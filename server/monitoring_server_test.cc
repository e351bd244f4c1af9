#include "server/monitoring_server.h"

#include <atomic>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"

namespace ccs::server {
namespace {

using ::testing::HasSubstr;

class MonitoringServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_.AddCounter("demo_total", "A demo counter.").WithLabels({}).Increment(3);
    absl::StatusOr<std::unique_ptr<MonitoringServer>> started =
        MonitoringServer::Start("127.0.0.1", 0, &registry_, [this]() -> absl::Status {
          if (ready_) return absl::OkStatus();
          return absl::UnavailableError("loading the model");
        });
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = std::move(*started);
    ASSERT_GT(server_->port(), 0);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_connection_timeout(5);
    client_->set_read_timeout(5);
  }

  MetricsRegistry registry_;
  std::atomic<bool> ready_{false};
  std::unique_ptr<MonitoringServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(MonitoringServerTest, ServesMetricsInTheTextFormat) {
  httplib::Result result = client_->Get("/metrics");
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(result->body, HasSubstr("# TYPE demo_total counter\ndemo_total 3\n"));
}

TEST_F(MonitoringServerTest, HealthzIsAlwaysOkAndReadyzFollowsReadiness) {
  httplib::Result health = client_->Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  httplib::Result ready = client_->Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  EXPECT_EQ(ready->body, "not ready: loading the model\n");

  ready_ = true;
  ready = client_->Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(ready->body, "ready\n");
}

TEST_F(MonitoringServerTest, UnknownPathIsNotFound) {
  httplib::Result result = client_->Get("/nothing");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 404);
}

TEST(MonitoringServerStartTest, BusyPortIsUnavailable) {
  MetricsRegistry registry;
  auto ok = [] { return absl::OkStatus(); };
  absl::StatusOr<std::unique_ptr<MonitoringServer>> first =
      MonitoringServer::Start("127.0.0.1", 0, &registry, ok);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::unique_ptr<MonitoringServer>> second =
      MonitoringServer::Start("127.0.0.1", (*first)->port(), &registry, ok);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr("cannot listen for HTTP"));
}

}  // namespace
}  // namespace ccs::server
