#include "server/metrics.h"

#include <limits>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccs::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsTextTest, FormatsValuesShortestAndSpecials) {
  EXPECT_EQ(metrics_text::FormatValue(0), "0");
  EXPECT_EQ(metrics_text::FormatValue(3), "3");
  EXPECT_EQ(metrics_text::FormatValue(0.1), "0.1");
  EXPECT_EQ(metrics_text::FormatValue(-2.5), "-2.5");
  EXPECT_EQ(metrics_text::FormatValue(1e21), "1e+21");
  EXPECT_EQ(metrics_text::FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(metrics_text::FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(metrics_text::FormatValue(std::nan("")), "NaN");
}

TEST(MetricsTextTest, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(metrics_text::EscapeLabelValue("plain"), "plain");
  EXPECT_EQ(metrics_text::EscapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  // HELP keeps double quotes as they are.
  EXPECT_EQ(metrics_text::EscapeHelp("say \"hi\"\\\nbye"), "say \"hi\"\\\\\\nbye");
}

TEST(MetricsTextTest, ChecksNames) {
  EXPECT_TRUE(metrics_text::IsValidMetricName("ccs_requests_total"));
  EXPECT_TRUE(metrics_text::IsValidMetricName("job:rate5m"));
  EXPECT_FALSE(metrics_text::IsValidMetricName("1abc"));
  EXPECT_FALSE(metrics_text::IsValidMetricName("a-b"));
  EXPECT_FALSE(metrics_text::IsValidMetricName(""));
  EXPECT_TRUE(metrics_text::IsValidLabelName("rpc"));
  EXPECT_FALSE(metrics_text::IsValidLabelName("a:b"));
  EXPECT_FALSE(metrics_text::IsValidLabelName("9"));
}

TEST(MetricsRegistryTest, RendersCountersAndGaugesWithLabels) {
  MetricsRegistry registry;
  CounterFamily& requests = registry.AddCounter("ccs_requests_total", "RPCs finished.",
                                                {"rpc", "code"});
  requests.WithLabels({"Compress", "OK"}).Increment();
  requests.WithLabels({"Compress", "OK"}).Increment(2);
  requests.WithLabels({"GetSession", "NOT_FOUND"}).Increment();
  registry.AddGauge("ccs_work_queue_depth", "Tasks waiting.").WithLabels({}).Set(4);

  EXPECT_EQ(registry.RenderText(),
            "# HELP ccs_requests_total RPCs finished.\n"
            "# TYPE ccs_requests_total counter\n"
            "ccs_requests_total{rpc=\"Compress\",code=\"OK\"} 3\n"
            "ccs_requests_total{rpc=\"GetSession\",code=\"NOT_FOUND\"} 1\n"
            "# HELP ccs_work_queue_depth Tasks waiting.\n"
            "# TYPE ccs_work_queue_depth gauge\n"
            "ccs_work_queue_depth 4\n");
}

TEST(MetricsRegistryTest, EscapesLabelValuesAndHelpWhenRendering) {
  MetricsRegistry registry;
  registry.AddCounter("x_total", "line one\nback\\slash", {"path"})
      .WithLabels({"C:\\dir \"quoted\"\nnext"})
      .Increment();
  EXPECT_EQ(registry.RenderText(),
            "# HELP x_total line one\\nback\\\\slash\n"
            "# TYPE x_total counter\n"
            "x_total{path=\"C:\\\\dir \\\"quoted\\\"\\nnext\"} 1\n");
}

TEST(MetricsRegistryTest, RendersHistogramsCumulatively) {
  MetricsRegistry registry;
  HistogramFamily& latency = registry.AddHistogram("lat_seconds", "Latency.", {"rpc"},
                                                   {0.125, 0.5, 1});
  Histogram& h = latency.WithLabels({"Compress"});
  h.Observe(0.0625);
  h.Observe(0.125);  // on a bound: counted in that bucket (le is inclusive)
  h.Observe(0.75);
  h.Observe(3);
  EXPECT_EQ(registry.RenderText(),
            "# HELP lat_seconds Latency.\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{rpc=\"Compress\",le=\"0.125\"} 2\n"
            "lat_seconds_bucket{rpc=\"Compress\",le=\"0.5\"} 2\n"
            "lat_seconds_bucket{rpc=\"Compress\",le=\"1\"} 3\n"
            "lat_seconds_bucket{rpc=\"Compress\",le=\"+Inf\"} 4\n"
            "lat_seconds_sum{rpc=\"Compress\"} 3.9375\n"
            "lat_seconds_count{rpc=\"Compress\"} 4\n");
}

TEST(MetricsRegistryTest, UnlabelledHistogramHasOnlyTheLeLabel) {
  MetricsRegistry registry;
  registry.AddHistogram("batch_size", "Batch sizes.", {}, {1, 2}).WithLabels({}).Observe(1);
  const std::string text = registry.RenderText();
  EXPECT_THAT(text, HasSubstr("batch_size_bucket{le=\"1\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("batch_size_bucket{le=\"+Inf\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("batch_size_sum 1\nbatch_size_count 1\n"));
}

TEST(MetricsRegistryTest, FamiliesRenderSortedByNameAndReRegistrationReturnsTheSame) {
  MetricsRegistry registry;
  CounterFamily& b = registry.AddCounter("b_total", "B.");
  registry.AddCounter("a_total", "A.");
  CounterFamily& again = registry.AddCounter("b_total", "ignored help");
  EXPECT_EQ(&b, &again);
  const std::string text = registry.RenderText();
  EXPECT_LT(text.find("a_total"), text.find("b_total"));
  EXPECT_THAT(text, Not(HasSubstr("ignored help")));
  // A family with no series yet still renders its HELP and TYPE lines.
  EXPECT_THAT(text, HasSubstr("# TYPE a_total counter\n"));
}

TEST(MetricsRegistryTest, WrongLabelCountIsPaddedOrTruncated) {
  MetricsRegistry registry;
  CounterFamily& family = registry.AddCounter("c_total", "C.", {"a", "b"});
  family.WithLabels({"x"}).Increment();
  family.WithLabels({"x", "", "dropped"}).Increment();
  EXPECT_EQ(&family.WithLabels({"x"}), &family.WithLabels({"x", ""}));
  EXPECT_THAT(registry.RenderText(), HasSubstr("c_total{a=\"x\",b=\"\"} 2\n"));
}

TEST(MetricsRegistryTest, CounterIgnoresNegativeAndNanIncrements) {
  Counter counter;
  counter.Increment(5);
  counter.Increment(-1);
  counter.Increment(std::nan(""));
  EXPECT_EQ(counter.value(), 5);
  counter.SetTotal(9);
  EXPECT_EQ(counter.value(), 9);
}

TEST(MetricsRegistryTest, CollectorsRunBeforeRenderingUntilRemoved) {
  MetricsRegistry registry;
  Gauge& depth = registry.AddGauge("depth", "Depth.").WithLabels({});
  int source = 7;
  int runs = 0;
  const int id = registry.AddCollector([&] {
    ++runs;
    depth.Set(source);
  });
  EXPECT_THAT(registry.RenderText(), HasSubstr("depth 7\n"));
  source = 8;
  EXPECT_THAT(registry.RenderText(), HasSubstr("depth 8\n"));
  registry.RemoveCollector(id);
  source = 9;
  EXPECT_THAT(registry.RenderText(), HasSubstr("depth 8\n"));
  EXPECT_EQ(runs, 2);
}

TEST(MetricsRegistryTest, ConcurrentUpdatesAreAllCounted) {
  MetricsRegistry registry;
  CounterFamily& counter = registry.AddCounter("n_total", "N.", {"thread"});
  HistogramFamily& histogram = registry.AddHistogram("h", "H.", {}, {0.5});
  constexpr int kThreads = 8;
  constexpr int kPerThread = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        counter.WithLabels({"all"}).Increment();
        counter.WithLabels({std::to_string(t)}).Increment(0.5);
        histogram.WithLabels({}).Observe(i % 2);
        if (i % 100 == 0) registry.RenderText();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(counter.WithLabels({"all"}).value(), kThreads * kPerThread);
  EXPECT_EQ(counter.WithLabels({"3"}).value(), kPerThread * 0.5);
  const Histogram::Snapshot s = histogram.WithLabels({}).snapshot();
  EXPECT_EQ(s.count, uint64_t{kThreads * kPerThread});
  EXPECT_EQ(s.cumulative[0], uint64_t{kThreads * kPerThread / 2});
  EXPECT_EQ(s.sum, kThreads * kPerThread / 2);
}

}  // namespace
}  // namespace ccs::server
