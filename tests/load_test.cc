// ccs_load against the real server (tiny model) for a few seconds: the JSON
// report's counts add up, its percentiles are ordered, and it measured
// throughput; it stops by itself on --duration and on --requests; failures
// are counted by status code; usage errors exit 2.
#include <signal.h>

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/server_process.h"

namespace ccs {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

std::string ScratchPath(const std::string& name) {
  const char* dir = getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

json ReadJson(const std::string& path) {
  std::ifstream file(path);
  std::ostringstream content;
  content << file.rdbuf();
  return json::parse(content.str(), nullptr, /*allow_exceptions=*/false);
}

// sent = succeeded + failed = succeeded + the sum of failed_by_code.
void ExpectCountsAddUp(const json& r, const std::string& what) {
  int64_t by_code = 0;
  for (const auto& [code, count] : r["failed_by_code"].items()) by_code += count.get<int64_t>();
  EXPECT_EQ(r["failed"].get<int64_t>(), by_code) << what;
  EXPECT_EQ(r["sent"].get<int64_t>(), r["succeeded"].get<int64_t>() + by_code) << what;
}

void ExpectOrdered(const json& summary, const std::string& what) {
  ASSERT_FALSE(summary.is_null()) << what;
  const double p50 = summary["p50"], p90 = summary["p90"], p99 = summary["p99"],
               p999 = summary["p99.9"], max = summary["max"], min = summary["min"];
  EXPECT_LE(min, p50) << what;
  EXPECT_LE(p50, p90) << what;
  EXPECT_LE(p90, p99) << what;
  EXPECT_LE(p99, p999) << what;
  EXPECT_LE(p999, max) << what;
  EXPECT_GT(p50, 0) << what;
}

class LoadToolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string tiny = testing::RunfilePath("tests/testdata/tiny/");
    absl::StatusOr<std::unique_ptr<testing::ServerProcess>> started =
        testing::ServerProcess::Start({"--model_dir=" + tiny + "decoder",
                                       "--rcc_dir=" + tiny + "rcc", "--model_name=tiny",
                                       "--max_new_tokens=64"});
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = started->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr); }

  // Runs ccs_load against the server; returns its exit code and the table.
  int Load(const std::string& arguments, std::string* table) {
    return testing::RunCommand(absl::StrCat(testing::RunfilePath("client/ccs_load"),
                                            " --target=", server_->address(), " ", arguments,
                                            " 2>&1"),
                               table);
  }

  static testing::ServerProcess* server_;
};
testing::ServerProcess* LoadToolTest::server_ = nullptr;

TEST_F(LoadToolTest, OpenLoopReportAddsUpAndIsOrdered) {
  const std::string report_path = ScratchPath("open.json");
  std::string table;
  const absl::Time start = absl::Now();
  ASSERT_EQ(Load("--mode=open --rate=15 --warmup=0.5s --duration=2.5s "
                 "--mix=compress:1,generate:2,reconstruct:1 --context_tokens=32:128 "
                 "--max_new_tokens=8 --reconstruct_tokens=16 --report=" +
                     report_path,
                 &table),
            0)
      << table;
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
  std::cout << table;
  const json report = ReadJson(report_path);
  ASSERT_TRUE(report.is_object()) << "no JSON report";
  EXPECT_EQ(report["mode"], "open");
  ExpectCountsAddUp(report, "all");
  for (const auto& [name, op] : report["operations"].items()) ExpectCountsAddUp(op, name);
  EXPECT_GT(report["sent"].get<int64_t>(), 10);
  EXPECT_EQ(report["failed"], 0) << table;
  EXPECT_EQ(report["unsent"], 0);
  ExpectOrdered(report["latency_ms"], "latency");
  ExpectOrdered(report["time_to_first_token_ms"], "time to first token");
  for (const char* name : {"compress", "generate", "reconstruct"}) {
    EXPECT_GT(report["operations"][name]["sent"].get<int64_t>(), 0) << name;
  }
  EXPECT_GT(report["requests_per_s"].get<double>(), 0);
  EXPECT_GT(report["tokens"]["generated_per_s"].get<double>(), 0);
  EXPECT_GT(report["tokens"]["compressed_per_s"].get<double>(), 0);
  EXPECT_GT(report["warmup_requests"].get<int64_t>(), 0);
  EXPECT_GT(report["context"]["bytes_per_token"].get<double>(), 1.0);
  EXPECT_THAT(table, HasSubstr("p99.9 ms"));
  EXPECT_THAT(table, HasSubstr("time to first message"));
}

TEST_F(LoadToolTest, ClosedLoopStopsAtTheRequestCountAndCountsFailuresByCode) {
  // Generate asks for more tokens than the server allows: every Generate
  // fails with INVALID_ARGUMENT, every Compress succeeds.
  const std::string corpus = ScratchPath("corpus.txt");
  {
    std::ofstream file(corpus);
    for (int i = 0; i < 300; ++i) file << "Line " << i << " of a small corpus, caf\xC3\xA9.\n";
  }
  const std::string report_path = ScratchPath("closed.json");
  std::string table;
  ASSERT_EQ(Load("--mode=closed --concurrency=2 --requests=20 --duration=60s --warmup=0s "
                 "--mix=compress:1,generate:1 --max_new_tokens=65 --context_bytes=200:800 "
                 "--corpus=" + corpus + " --report=" + report_path,
                 &table),
            0)
      << table;
  const json report = ReadJson(report_path);
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report["sent"], 20);
  ExpectCountsAddUp(report, "all");
  const json& generate = report["operations"]["generate"];
  const json& compress = report["operations"]["compress"];
  EXPECT_EQ(generate["failed_by_code"]["INVALID_ARGUMENT"], generate["sent"]);
  EXPECT_EQ(report["failed_by_code"]["INVALID_ARGUMENT"], generate["sent"]);
  EXPECT_EQ(compress["succeeded"], compress["sent"]);
  EXPECT_EQ(report["context"]["source"], corpus);
  EXPECT_THAT(table, HasSubstr("INVALID_ARGUMENT"));
}

TEST_F(LoadToolTest, SetUpFailuresAndUsageErrorsHaveExitCodes) {
  std::string output;
  // RCC sessions ask for a method this server has; IC-Former it has not.
  EXPECT_EQ(Load("--method=ic_former --duration=1s", &output), 3);
  EXPECT_THAT(output, HasSubstr("FAILED_PRECONDITION"));
  EXPECT_EQ(Load("--mix=compress:1,fly:2", &output), 2);
  EXPECT_EQ(Load("--mode=sideways", &output), 2);
  EXPECT_EQ(Load("--no_such_flag", &output), 2);
  EXPECT_EQ(Load("--corpus=/no/such/file", &output), 1);
  EXPECT_EQ(testing::RunCommand(testing::RunfilePath("client/ccs_load") + " 2>&1", &output), 2);
  EXPECT_THAT(output, HasSubstr("--target"));
  EXPECT_EQ(testing::RunCommand(testing::RunfilePath("client/ccs_load") + " --help", &output), 0);
  EXPECT_THAT(output, HasSubstr("Poisson"));
}

TEST_F(LoadToolTest, ZzStopsCleanly) { EXPECT_EQ(server_->Stop(SIGTERM), 0); }

}  // namespace
}  // namespace ccs
