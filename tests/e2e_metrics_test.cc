// End-to-end observability: the real ccs_server with --metrics_port serving
// a tiny model; /healthz, /readyz and /metrics scraped over HTTP, the counts
// checked against the RPCs the test made.

#include <regex>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/server_process.h"

namespace ccs {
namespace {

using ::testing::HasSubstr;

using testing::FreePort;
using testing::Sample;

class MetricsEndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    metrics_port_ = FreePort();
    ASSERT_GT(metrics_port_, 0);
    const std::string tiny = testing::RunfilePath("tests/testdata/tiny/");
    absl::StatusOr<std::unique_ptr<testing::ServerProcess>> started =
        testing::ServerProcess::Start(
            {"--model_dir=" + tiny + "decoder", "--rcc_dir=" + tiny + "rcc", "--model_name=tiny",
             "--max_new_tokens=16", absl::StrCat("--metrics_port=", metrics_port_)});
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = started->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    client::ClientOptions options;
    options.target = server_->address();
    options.timeout = absl::Seconds(60);
    options.retry.max_attempts = 1;
    absl::StatusOr<std::unique_ptr<client::Client>> connected = client::Client::Connect(options);
    ASSERT_TRUE(connected.ok()) << connected.status();
    client_ = std::move(*connected);
    http_ = std::make_unique<httplib::Client>("127.0.0.1", metrics_port_);
    http_->set_connection_timeout(10);
    http_->set_read_timeout(10);
  }

  std::string Scrape() {
    httplib::Result result = http_->Get("/metrics");
    EXPECT_TRUE(result) << httplib::to_string(result.error());
    if (!result) return "";
    EXPECT_EQ(result->status, 200);
    EXPECT_EQ(result->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    return result->body;
  }

  static int metrics_port_;
  static testing::ServerProcess* server_;
  std::unique_ptr<client::Client> client_;
  std::unique_ptr<httplib::Client> http_;
};
int MetricsEndToEndTest::metrics_port_ = 0;
testing::ServerProcess* MetricsEndToEndTest::server_ = nullptr;

TEST_F(MetricsEndToEndTest, HealthzAndReadyzAnswerOkOnceServing) {
  httplib::Result health = http_->Get("/healthz");
  ASSERT_TRUE(health) << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 200);
  httplib::Result ready = http_->Get("/readyz");
  ASSERT_TRUE(ready) << httplib::to_string(ready.error());
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(ready->body, "ready\n");
}

TEST_F(MetricsEndToEndTest, CountsEveryRpcByStatusCodeWithItsLatency) {
  const std::string before = Scrape();
  ASSERT_TRUE(client_->ListModels().ok());
  ASSERT_TRUE(client_->ListModels().ok());
  v1::GetSessionRequest get;
  get.set_session_id("0123456789abcdef0123456789abcdef");
  EXPECT_EQ(client_->GetSession(get).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client_->Compress(v1::CompressRequest()).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::string after = Scrape();

  auto delta = [&](const std::string& series) {
    return Sample(after, series) - Sample(before, series);
  };
  EXPECT_EQ(delta("ccs_requests_total{rpc=\"ListModels\",code=\"OK\"}"), 2);
  EXPECT_EQ(delta("ccs_requests_total{rpc=\"GetSession\",code=\"NOT_FOUND\"}"), 1);
  EXPECT_EQ(delta("ccs_requests_total{rpc=\"Compress\",code=\"INVALID_ARGUMENT\"}"), 1);
  EXPECT_EQ(delta("ccs_request_duration_seconds_count{rpc=\"ListModels\"}"), 2);
  EXPECT_EQ(delta("ccs_request_duration_seconds_bucket{rpc=\"ListModels\",le=\"+Inf\"}"), 2);
  EXPECT_EQ(Sample(after, "ccs_requests_in_flight{rpc=\"ListModels\"}"), 0);
}

TEST_F(MetricsEndToEndTest, CountsTokensBatchesQueueAndSessions) {
  const std::string before = Scrape();
  v1::CompressRequest compress;
  compress.set_text("The cat sat on the sofa. The dog sat on the stool. The bird sang.");
  compress.set_method(v1::METHOD_RCC);
  absl::StatusOr<v1::CompressResponse> made = client_->Compress(compress);
  ASSERT_TRUE(made.ok()) << made.status();
  v1::GenerateRequest generate;
  generate.set_session_id(made->session_id());
  generate.set_prompt("Where did the cat sit?");
  generate.mutable_sampling()->set_max_new_tokens(5);
  absl::StatusOr<v1::GenerateResponse> answer =
      client_->Generate(generate, [](const v1::GenerateResponse&) {});
  ASSERT_TRUE(answer.ok()) << answer.status();
  const std::string after = Scrape();

  auto delta = [&](const std::string& series) {
    return Sample(after, series) - Sample(before, series);
  };
  EXPECT_EQ(delta("ccs_compressed_tokens_total{method=\"RCC\"}"), made->tokens_in());
  EXPECT_EQ(delta("ccs_memory_slots_total{method=\"RCC\"}"), made->memory_vectors_out());
  const int64_t generated = answer->usage().generated_tokens();
  EXPECT_GT(generated, 0);
  EXPECT_EQ(delta("ccs_generated_tokens_total{task=\"answer\"}"), generated);
  EXPECT_EQ(delta("ccs_batch_size_count{kind=\"compress\"}"), 1);
  EXPECT_EQ(delta("ccs_batch_size_bucket{kind=\"compress\",le=\"1\"}"), 1);
  // One decode step per token, and one more when the stream ends at EOS
  // (that step's token is not sent).
  EXPECT_GE(delta("ccs_batch_size_count{kind=\"decode\"}"), generated);
  EXPECT_LE(delta("ccs_batch_size_count{kind=\"decode\"}"), generated + 1);
  EXPECT_EQ(delta("ccs_time_to_first_token_seconds_count{task=\"answer\"}"), 1);
  EXPECT_EQ(delta("ccs_requests_total{rpc=\"Generate\",code=\"OK\"}"), 1);
  EXPECT_EQ(Sample(after, "ccs_work_queue_depth"), 0);
  EXPECT_GE(Sample(after, "ccs_sessions{tier=\"memory\"}"), 1);
  EXPECT_GE(Sample(after, "ccs_session_bytes{tier=\"memory\"}"), made->session().bytes());
  EXPECT_GE(delta("ccs_session_lookups_total{result=\"hit\"}"), 1);

  v1::DeleteSessionRequest del;
  del.set_session_id(made->session_id());
  ASSERT_TRUE(client_->DeleteSession(del).ok());
  EXPECT_EQ(Sample(Scrape(), "ccs_sessions{tier=\"memory\"}"),
            Sample(after, "ccs_sessions{tier=\"memory\"}") - 1);
}

TEST_F(MetricsEndToEndTest, EveryLineIsACommentOrAWellFormedSample) {
  ASSERT_TRUE(client_->ListModels().ok());
  const std::string scrape = Scrape();
  const std::regex sample(
      R"re([a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*")*\})? (-?[0-9.e+-]+|\+Inf|-Inf|NaN))re");
  const std::regex comment(R"re(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*)re");
  std::istringstream lines(scrape);
  std::string line;
  int samples = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("#", 0) == 0) {
      EXPECT_TRUE(std::regex_match(line, comment)) << line;
    } else {
      EXPECT_TRUE(std::regex_match(line, sample)) << line;
      ++samples;
    }
  }
  EXPECT_GT(samples, 10);
  for (const char* family :
       {"ccs_requests_total counter", "ccs_request_duration_seconds histogram",
        "ccs_requests_in_flight gauge", "ccs_work_queue_depth gauge", "ccs_batch_size histogram",
        "ccs_compressed_tokens_total counter", "ccs_generated_tokens_total counter",
        "ccs_sessions gauge", "ccs_session_bytes gauge"}) {
    EXPECT_THAT(scrape, HasSubstr(absl::StrCat("# TYPE ", family, "\n")));
  }
}

}  // namespace
}  // namespace ccs
