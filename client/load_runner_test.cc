// The load engine against an in-process fake server: request accounting,
// stopping rules, repeatability, set-up and clean-up, and that open-loop
// latency counts from the scheduled arrival.
#include "client/load_runner.h"

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "ccs/v1/context_compression.grpc.pb.h"
#include "client/load_report.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace ccs::client {
namespace {

// Sessions in a set; Generate streams three messages; Reconstruct always
// fails with NOT_FOUND; every call takes `delay`.
class FakeService final : public v1::ContextCompression::Service {
 public:
  explicit FakeService(absl::Duration delay) : delay_(delay) {}

  void FailCompress(grpc::StatusCode code) {
    absl::MutexLock lock(&mutex_);
    compress_failure_ = code;
  }
  int live_sessions() {
    absl::MutexLock lock(&mutex_);
    return static_cast<int>(sessions_.size());
  }

  grpc::Status Compress(grpc::ServerContext*, const v1::CompressRequest* request,
                        v1::CompressResponse* response) override {
    absl::SleepFor(delay_);
    absl::MutexLock lock(&mutex_);
    if (compress_failure_ != grpc::StatusCode::OK) {
      return grpc::Status(compress_failure_, "no compressor here");
    }
    const std::string id = absl::StrCat("session-", next_id_++);
    sessions_.insert(id);
    response->set_session_id(id);
    response->set_tokens_in(static_cast<int64_t>(request->text().size() / 5));
    return grpc::Status::OK;
  }

  grpc::Status Generate(grpc::ServerContext*, const v1::GenerateRequest* request,
                        grpc::ServerWriter<v1::GenerateResponse>* writer) override {
    absl::SleepFor(delay_);
    {
      absl::MutexLock lock(&mutex_);
      if (sessions_.count(request->session_id()) == 0) {
        return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such session");
      }
    }
    v1::GenerateResponse message;
    for (int i = 0; i < 3; ++i) {
      message.set_text("word ");
      if (i == 2) {
        message.set_finish_reason(v1::FINISH_REASON_LENGTH);
        message.mutable_usage()->set_generated_tokens(3);
      }
      writer->Write(message);
    }
    return grpc::Status::OK;
  }

  grpc::Status Reconstruct(grpc::ServerContext*, const v1::ReconstructRequest*,
                           grpc::ServerWriter<v1::ReconstructResponse>*) override {
    absl::SleepFor(delay_);
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "reconstruct is broken here");
  }

  grpc::Status DeleteSession(grpc::ServerContext*, const v1::DeleteSessionRequest* request,
                             v1::DeleteSessionResponse*) override {
    absl::MutexLock lock(&mutex_);
    return sessions_.erase(request->session_id()) == 1
               ? grpc::Status::OK
               : grpc::Status(grpc::StatusCode::NOT_FOUND, "no such session");
  }

 private:
  const absl::Duration delay_;
  absl::Mutex mutex_;
  std::set<std::string> sessions_ ABSL_GUARDED_BY(mutex_);
  int next_id_ ABSL_GUARDED_BY(mutex_) = 0;
  grpc::StatusCode compress_failure_ ABSL_GUARDED_BY(mutex_) = grpc::StatusCode::OK;
};

class LoadRunnerTest : public ::testing::Test {
 protected:
  void Start(absl::Duration delay) {
    service_ = std::make_unique<FakeService>(delay);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ClientOptions options;
    options.target = absl::StrCat("127.0.0.1:", port);
    options.timeout = absl::Seconds(10);
    options.retry.max_attempts = 1;
    absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
    ASSERT_TRUE(client.ok());
    client_ = std::move(*client);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  }

  static LoadConfig BaseConfig() {
    LoadConfig config;
    config.warmup = absl::ZeroDuration();
    config.duration = absl::Seconds(30);
    config.context_in_tokens = false;
    config.context_size = {100, 400};
    config.sessions = 2;
    return config;
  }

  absl::StatusOr<LoadResult> Run(const LoadConfig& config) {
    return RunLoad(*client_, *client_, ContextSource::Generated(), config);
  }

  std::unique_ptr<FakeService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Client> client_;
};

// The report's invariant: sent = succeeded + the failures by code.
void ExpectCountsAddUp(const nlohmann::json& r) {
  int64_t failed = 0;
  for (const auto& [code, count] : r["failed_by_code"].items()) failed += count.get<int64_t>();
  EXPECT_EQ(r["sent"].get<int64_t>(), r["succeeded"].get<int64_t>() + failed);
  EXPECT_EQ(r["failed"].get<int64_t>(), failed);
}

TEST_F(LoadRunnerTest, ClosedLoopStopsAtTheRequestCountAndCountsAddUp) {
  Start(absl::ZeroDuration());
  LoadConfig config = BaseConfig();
  config.concurrency = 3;
  config.max_requests = 60;
  absl::StatusOr<LoadResult> result = Run(config);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->records.size(), 60u);
  EXPECT_EQ(result->sessions_created, 2);
  EXPECT_EQ(result->cleanup_failures, 0);
  EXPECT_EQ(service_->live_sessions(), 0);  // pool and measured ones deleted

  const nlohmann::json report = BuildReport(config, "fake", "generated text", *result);
  ExpectCountsAddUp(report);
  EXPECT_EQ(report["sent"], 60);
  for (const auto& [name, op] : report["operations"].items()) ExpectCountsAddUp(op);
  const nlohmann::json& reconstruct = report["operations"]["reconstruct"];
  EXPECT_GT(reconstruct["sent"].get<int64_t>(), 0);
  EXPECT_EQ(reconstruct["failed_by_code"]["NOT_FOUND"], reconstruct["sent"]);
  const nlohmann::json& generate = report["operations"]["generate"];
  EXPECT_EQ(generate["failed"], 0);
  EXPECT_EQ(generate["tokens"].get<int64_t>(), 3 * generate["sent"].get<int64_t>());
  EXPECT_FALSE(generate["time_to_first_token_ms"].is_null());
  EXPECT_GT(report["operations"]["compress"]["tokens"].get<int64_t>(), 0);
  const nlohmann::json& latency = report["latency_ms"];
  EXPECT_LE(latency["p50"].get<double>(), latency["p90"].get<double>());
  EXPECT_LE(latency["p90"].get<double>(), latency["p99"].get<double>());
  EXPECT_LE(latency["p99"].get<double>(), latency["p99.9"].get<double>());
  EXPECT_GT(report["requests_per_s"].get<double>(), 0);
  int64_t in_histogram = 0;
  for (const auto& bucket : report["histogram_ms"]) in_histogram += bucket["count"].get<int64_t>();
  EXPECT_EQ(in_histogram, report["succeeded"].get<int64_t>());
  EXPECT_THAT(RenderTable(report), ::testing::HasSubstr("NOT_FOUND"));
}

TEST_F(LoadRunnerTest, TheSameSeedGivesTheSameOperations) {
  Start(absl::ZeroDuration());
  LoadConfig config = BaseConfig();
  config.concurrency = 1;
  config.max_requests = 25;
  std::vector<Operation> first;
  std::vector<Operation> second;
  for (std::vector<Operation>* ops : {&first, &second}) {
    absl::StatusOr<LoadResult> result = Run(config);
    ASSERT_TRUE(result.ok());
    for (const RequestRecord& r : result->records) ops->push_back(r.op);
  }
  EXPECT_EQ(first, second);
  config.seed = 2;
  absl::StatusOr<LoadResult> other = Run(config);
  ASSERT_TRUE(other.ok());
  std::vector<Operation> third;
  for (const RequestRecord& r : other->records) third.push_back(r.op);
  EXPECT_NE(first, third);
}

TEST_F(LoadRunnerTest, OpenLoopLatencyCountsFromTheScheduledArrival) {
  // Arrivals at 200/s, one sender, 20 ms per call: requests queue in the
  // client, and that wait must show in their latency.
  Start(absl::Milliseconds(20));
  LoadConfig config = BaseConfig();
  config.mode = LoadConfig::Mode::kOpenLoop;
  config.mix = *Mix::Parse("generate:1");
  config.rate = 200;
  config.max_in_flight = 1;
  config.max_requests = 15;
  absl::StatusOr<LoadResult> result = Run(config);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->records.size(), 15u);
  absl::Duration largest_lag;
  for (const RequestRecord& r : result->records) {
    EXPECT_EQ(r.code, absl::StatusCode::kOk);
    EXPECT_GE(r.latency, r.send_lag + absl::Milliseconds(20));
    EXPECT_GE(r.first_message, r.send_lag);
    EXPECT_LE(r.first_message, r.latency);
    largest_lag = std::max(largest_lag, r.send_lag);
  }
  // 15 calls of 20 ms arriving within ~75 ms: the last waits ~200 ms.
  EXPECT_GT(largest_lag, absl::Milliseconds(100));
}

TEST_F(LoadRunnerTest, OpenLoopStopsAtTheDurationAndExcludesWarmUp) {
  Start(absl::ZeroDuration());
  LoadConfig config = BaseConfig();
  config.mode = LoadConfig::Mode::kOpenLoop;
  config.rate = 100;
  config.warmup = absl::Milliseconds(300);
  config.duration = absl::Milliseconds(500);
  const absl::Time start = absl::Now();
  absl::StatusOr<LoadResult> result = Run(config);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_GT(result->warmup_requests, 0);
  EXPECT_GT(result->records.size(), 0u);
  EXPECT_EQ(result->unsent, 0);
  const nlohmann::json report = BuildReport(config, "fake", "generated text", *result);
  ExpectCountsAddUp(report);
}

TEST_F(LoadRunnerTest, SetUpFailureIsReportedWithTheServersCode) {
  Start(absl::ZeroDuration());
  service_->FailCompress(grpc::StatusCode::FAILED_PRECONDITION);
  absl::StatusOr<LoadResult> result = Run(BaseConfig());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(result.status().message(), ::testing::HasSubstr("set-up"));
}

TEST_F(LoadRunnerTest, TokenSizedContextsAreCalibratedOnTheServersCounts) {
  Start(absl::ZeroDuration());
  LoadConfig config = BaseConfig();
  config.context_in_tokens = true;
  config.context_size = {100, 100};
  config.mix = *Mix::Parse("compress:1");
  config.concurrency = 1;
  config.max_requests = 5;
  absl::StatusOr<LoadResult> result = Run(config);
  ASSERT_TRUE(result.ok()) << result.status();
  // The first guess is 4 bytes per token; the fake counts 5.
  EXPECT_NEAR(result->bytes_per_token, 5.0, 0.1);
  for (const RequestRecord& r : result->records) EXPECT_NEAR(r.tokens, 100, 2);
}

}  // namespace
}  // namespace ccs::client
