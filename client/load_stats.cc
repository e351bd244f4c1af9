#include "client/load_stats.h"

#include <algorithm>
#include <cmath>

namespace ccs::client {

absl::Duration NearestRankPercentile(const std::vector<absl::Duration>& sorted,
                                     double p) {
  const double n = static_cast<double>(sorted.size());
  // 1e-9 absorbs the rounding of p / 100 * n (99.9 / 100 * 1000 is not
  // exactly 999 in binary).
  int64_t rank = static_cast<int64_t>(std::ceil(p / 100.0 * n - 1e-9));
  rank = std::clamp<int64_t>(rank, 1, static_cast<int64_t>(sorted.size()));
  return sorted[rank - 1];
}

LatencySummary Summarize(std::vector<absl::Duration> samples) {
  LatencySummary summary;
  summary.count = static_cast<int64_t>(samples.size());
  if (samples.empty()) return summary;
  std::sort(samples.begin(), samples.end());
  absl::Duration total;
  for (absl::Duration sample : samples) total += sample;
  summary.min = samples.front();
  summary.max = samples.back();
  summary.mean = total / summary.count;
  summary.p50 = NearestRankPercentile(samples, 50);
  summary.p90 = NearestRankPercentile(samples, 90);
  summary.p99 = NearestRankPercentile(samples, 99);
  summary.p999 = NearestRankPercentile(samples, 99.9);
  return summary;
}

const std::vector<absl::Duration>& HistogramBounds() {
  static const auto* const bounds = [] {
    auto* values = new std::vector<absl::Duration>;
    for (int64_t decade = 1; decade <= 100000; decade *= 10) {
      for (int64_t step : {1, 2, 5}) {
        if (decade * step <= 100000) {
          values->push_back(absl::Milliseconds(decade * step));
        }
      }
    }
    return values;
  }();
  return *bounds;
}

std::vector<int64_t> Histogram(const std::vector<absl::Duration>& samples) {
  const std::vector<absl::Duration>& bounds = HistogramBounds();
  std::vector<int64_t> counts(bounds.size() + 1, 0);
  for (absl::Duration sample : samples) {
    const size_t bucket =
        std::lower_bound(bounds.begin(), bounds.end(), sample) - bounds.begin();
    ++counts[bucket];
  }
  return counts;
}

}  // namespace ccs::client
