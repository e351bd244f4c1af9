// Latency statistics for the load tool: exact percentiles from every
// recorded sample, and a fixed-bucket histogram for display.
//
//   LatencySummary s = Summarize({absl::Milliseconds(3), ...});
//   s.p99  // nearest-rank: the smallest sample >= 99 % of the samples
//
// Percentiles use the nearest-rank rule on the sorted samples, so each is a
// latency that was really observed and p50 <= p90 <= p99 <= p99.9 <= max
// always holds. Memory is 8 bytes per request, which is fine for the
// millions of requests a run can make.
#ifndef CCS_CLIENT_LOAD_STATS_H_
#define CCS_CLIENT_LOAD_STATS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace ccs::client {

struct LatencySummary {
  int64_t count = 0;
  // All zero when count is 0.
  absl::Duration min, mean, p50, p90, p99, p999, max;
};

// NearestRankPercentile: the value at rank ceil(p/100 * n) of the sorted
// samples (the first for p = 0). `sorted` is non-empty and ascending; p in
// [0, 100].
absl::Duration NearestRankPercentile(const std::vector<absl::Duration>& sorted,
                                     double p);

// Summarize: count, min, mean, percentiles and max of `samples` (any order).
LatencySummary Summarize(std::vector<absl::Duration> samples);

// Upper bounds of the histogram's buckets: 1-2-5 steps from 1 ms to 100 s;
// a last bucket, unbounded, holds the rest.
const std::vector<absl::Duration>& HistogramBounds();

// Histogram: counts per bucket of HistogramBounds() (one more than there are
// bounds): bucket i holds samples in (bound[i-1], bound[i]].
std::vector<int64_t> Histogram(const std::vector<absl::Duration>& samples);

}  // namespace ccs::client

#endif  // CCS_CLIENT_LOAD_STATS_H_
