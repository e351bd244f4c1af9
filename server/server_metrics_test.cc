#include "server/server_metrics.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccs::server {
namespace {

using ::testing::HasSubstr;

TEST(ServerMetricsTest, CountsRequestsByRpcAndCodeWithLatency) {
  MetricsRegistry registry;
  ServerMetrics metrics(&registry);
  metrics.OnRequestStart("Compress");
  metrics.OnRequestStart("Compress");
  metrics.OnRequestDone("Compress", grpc::StatusCode::OK, absl::Milliseconds(20));
  metrics.OnRequestStart("GetSession");
  metrics.OnRequestDone("GetSession", grpc::StatusCode::NOT_FOUND, absl::Microseconds(300));

  const std::string text = registry.RenderText();
  EXPECT_THAT(text, HasSubstr("ccs_requests_total{rpc=\"Compress\",code=\"OK\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("ccs_requests_total{rpc=\"GetSession\",code=\"NOT_FOUND\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("ccs_requests_in_flight{rpc=\"Compress\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("ccs_requests_in_flight{rpc=\"GetSession\"} 0\n"));
  EXPECT_THAT(text,
              HasSubstr("ccs_request_duration_seconds_bucket{rpc=\"Compress\",le=\"0.01\"} 0\n"));
  EXPECT_THAT(text,
              HasSubstr("ccs_request_duration_seconds_bucket{rpc=\"Compress\",le=\"0.025\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("ccs_request_duration_seconds_count{rpc=\"GetSession\"} 1\n"));
}

TEST(ServerMetricsTest, CountsTokensBatchesAndFirstTokens) {
  MetricsRegistry registry;
  ServerMetrics metrics(&registry);
  metrics.AddCompressedTokens("RCC", 1000, 250);
  metrics.AddCompressedTokens("RCC", 24, 6);
  metrics.AddGeneratedTokens("answer", 17);
  metrics.ObserveBatch(BatchKind::kCompress, 1);
  metrics.ObserveBatch(BatchKind::kDecode, 3);
  metrics.ObserveTimeToFirstToken("answer", absl::Milliseconds(40));

  const std::string text = registry.RenderText();
  EXPECT_THAT(text, HasSubstr("ccs_compressed_tokens_total{method=\"RCC\"} 1024\n"));
  EXPECT_THAT(text, HasSubstr("ccs_memory_slots_total{method=\"RCC\"} 256\n"));
  EXPECT_THAT(text, HasSubstr("ccs_generated_tokens_total{task=\"answer\"} 17\n"));
  EXPECT_THAT(text, HasSubstr("ccs_batch_size_bucket{kind=\"compress\",le=\"1\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("ccs_batch_size_bucket{kind=\"decode\",le=\"2\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("ccs_batch_size_bucket{kind=\"decode\",le=\"4\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("ccs_time_to_first_token_seconds_count{task=\"answer\"} 1\n"));
}

TEST(ServerMetricsTest, ExportsQueueDepthAndEverySessionStatistic) {
  MetricsRegistry registry;
  ServerMetrics metrics(&registry);
  SessionStats stats;
  stats.sessions = 3;
  stats.ram_sessions = 3;
  stats.disk_sessions = 3;
  stats.memory_bytes = 4096;
  stats.disk_bytes = 5000;
  stats.loads = 4;
  stats.evictions = 6;
  stats.corrupt_records = 1;
  stats.prefix_cache_bytes = 512;
  stats.hits = 10;
  stats.misses = 2;
  stats.expirations = 1;
  stats.prefix_cache_drops = 5;
  metrics.SetSessionStats(stats);
  metrics.SetQueueDepth(7);

  const std::string text = registry.RenderText();
  EXPECT_THAT(text, HasSubstr("ccs_work_queue_depth 7\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE ccs_sessions gauge\n"));
  EXPECT_THAT(text, HasSubstr("ccs_sessions{tier=\"memory\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("ccs_session_bytes{tier=\"memory\"} 4096\n"));
  EXPECT_THAT(text, HasSubstr("ccs_sessions{tier=\"disk\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("ccs_session_bytes{tier=\"disk\"} 5000\n"));
  EXPECT_THAT(text, HasSubstr("ccs_session_lookups_total{result=\"load\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("ccs_session_evictions_total 6\n"));
  EXPECT_THAT(text, HasSubstr("ccs_session_corrupt_records_total 1\n"));
  EXPECT_THAT(text, HasSubstr("ccs_prefix_cache_bytes 512\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE ccs_session_lookups_total counter\n"));
  EXPECT_THAT(text, HasSubstr("ccs_session_lookups_total{result=\"hit\"} 10\n"));
  EXPECT_THAT(text, HasSubstr("ccs_session_lookups_total{result=\"miss\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("ccs_session_expirations_total 1\n"));
  EXPECT_THAT(text, HasSubstr("ccs_prefix_cache_evictions_total 5\n"));

  stats.ram_sessions = 2;
  metrics.SetSessionStats(stats);
  EXPECT_THAT(registry.RenderText(), HasSubstr("ccs_sessions{tier=\"memory\"} 2\n"));
}

}  // namespace
}  // namespace ccs::server
