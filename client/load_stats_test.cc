#include "client/load_stats.h"

#include <algorithm>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace ccs::client {
namespace {

TEST(SummarizeTest, NearestRankPercentilesOfOneToAThousand) {
  std::vector<absl::Duration> samples;
  for (int i = 1000; i >= 1; --i) samples.push_back(absl::Milliseconds(i));
  std::shuffle(samples.begin(), samples.end(), std::mt19937(3));
  const LatencySummary s = Summarize(samples);
  EXPECT_EQ(s.count, 1000);
  EXPECT_EQ(s.min, absl::Milliseconds(1));
  EXPECT_EQ(s.p50, absl::Milliseconds(500));
  EXPECT_EQ(s.p90, absl::Milliseconds(900));
  EXPECT_EQ(s.p99, absl::Milliseconds(990));
  EXPECT_EQ(s.p999, absl::Milliseconds(999));
  EXPECT_EQ(s.max, absl::Milliseconds(1000));
  EXPECT_EQ(s.mean, absl::Microseconds(500500));
}

TEST(SummarizeTest, SmallSamplesUseObservedValues) {
  const LatencySummary one = Summarize({absl::Milliseconds(7)});
  EXPECT_EQ(one.p50, absl::Milliseconds(7));
  EXPECT_EQ(one.p999, absl::Milliseconds(7));
  // Ten samples: p90 is the 9th, p99 and p99.9 the 10th.
  std::vector<absl::Duration> ten;
  for (int i = 1; i <= 10; ++i) ten.push_back(absl::Milliseconds(i));
  const LatencySummary s = Summarize(ten);
  EXPECT_EQ(s.p50, absl::Milliseconds(5));
  EXPECT_EQ(s.p90, absl::Milliseconds(9));
  EXPECT_EQ(s.p99, absl::Milliseconds(10));
  EXPECT_EQ(s.p999, absl::Milliseconds(10));
}

TEST(SummarizeTest, EmptyIsAllZero) {
  const LatencySummary s = Summarize({});
  EXPECT_EQ(s.count, 0);
  EXPECT_EQ(s.p99, absl::ZeroDuration());
}

TEST(SummarizeTest, PercentilesAreOrderedForAnySamples) {
  std::mt19937 random(11);
  std::lognormal_distribution<double> skewed(2.0, 1.5);
  for (int n : {1, 2, 3, 17, 999, 5000}) {
    std::vector<absl::Duration> samples;
    for (int i = 0; i < n; ++i) samples.push_back(absl::Microseconds(skewed(random) * 1000));
    const LatencySummary s = Summarize(samples);
    EXPECT_LE(s.min, s.p50);
    EXPECT_LE(s.p50, s.p90);
    EXPECT_LE(s.p90, s.p99);
    EXPECT_LE(s.p99, s.p999);
    EXPECT_LE(s.p999, s.max);
  }
}

TEST(HistogramTest, CountsFallIntoOneTwoFiveBuckets) {
  const std::vector<absl::Duration>& bounds = HistogramBounds();
  ASSERT_EQ(bounds.front(), absl::Milliseconds(1));
  ASSERT_EQ(bounds[1], absl::Milliseconds(2));
  ASSERT_EQ(bounds[2], absl::Milliseconds(5));
  ASSERT_EQ(bounds.back(), absl::Seconds(100));
  const std::vector<int64_t> counts =
      Histogram({absl::Microseconds(10), absl::Milliseconds(1), absl::Microseconds(1001),
                 absl::Milliseconds(4), absl::Seconds(1000)});
  ASSERT_EQ(counts.size(), bounds.size() + 1);
  EXPECT_EQ(counts[0], 2);  // <= 1 ms
  EXPECT_EQ(counts[1], 1);  // (1, 2] ms
  EXPECT_EQ(counts[2], 1);  // (2, 5] ms
  EXPECT_EQ(counts.back(), 1);
}

}  // namespace
}  // namespace ccs::client
