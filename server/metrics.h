// A small metrics registry (counters, gauges, histograms, each a family of
// labelled series) rendered in the Prometheus text exposition format 0.0.4.
//
//   MetricsRegistry registry;
//   CounterFamily& requests = registry.AddCounter(
//       "ccs_requests_total", "RPCs finished", {"rpc", "code"});
//   requests.WithLabels({"Compress", "OK"}).Increment();
//   HistogramFamily& latency = registry.AddHistogram(
//       "ccs_request_duration_seconds", "RPC latency", {"rpc"}, {0.01, 0.1, 1});
//   latency.WithLabels({"Compress"}).Observe(0.042);
//   // Values kept elsewhere are copied in at scrape time by a collector:
//   int id = registry.AddCollector([&] { depth.WithLabels({}).Set(queue.depth()); });
//   std::string page = registry.RenderText();   // runs the collectors first
//   registry.RemoveCollector(id);               // before `queue` goes away
//
// Names: metric names match [a-zA-Z_:][a-zA-Z0-9_:]* and label names
// [a-zA-Z_][a-zA-Z0-9_]*; both are constants in the code, checked by assert in
// debug builds. Label values are any bytes; the renderer escapes them.
//
// Thread-safety: everything may be called from any thread. A series returned
// by WithLabels lives as long as the registry; callers may keep the reference.
#ifndef CCS_SERVER_METRICS_H_
#define CCS_SERVER_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace ccs::server {

// The values of a series' labels, in the order of its family's label names.
using LabelValues = std::vector<std::string>;

// Counter: a total that only goes up (requests, tokens).
class Counter {
 public:
  // Increment adds `amount`; a negative or NaN amount is ignored.
  void Increment(double amount = 1);
  // SetTotal mirrors a cumulative total counted elsewhere (for example by
  // the session store); the caller keeps it monotonic.
  void SetTotal(double total) { value_.store(total); }
  double value() const { return value_.load(); }

 private:
  std::atomic<double> value_{0};
};

// Gauge: a value that goes up and down (queue depth, bytes held).
class Gauge {
 public:
  void Set(double value) { value_.store(value); }
  void Add(double amount);
  double value() const { return value_.load(); }

 private:
  std::atomic<double> value_{0};
};

// Histogram: counts of observations in buckets with fixed upper bounds (an
// implicit +Inf bucket ends the list), their sum and count.
class Histogram {
 public:
  // `bounds`: strictly increasing, finite upper bounds.
  explicit Histogram(std::vector<double> bounds);

  void Observe(double value);

  struct Snapshot {
    std::vector<double> bounds;        // as given; +Inf not included
    std::vector<uint64_t> cumulative;  // bounds.size() + 1 counts; last is +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  // A consistent copy: count equals the +Inf bucket.
  Snapshot snapshot() const;

 private:
  const std::vector<double> bounds_;
  mutable absl::Mutex mutex_;
  std::vector<uint64_t> counts_ ABSL_GUARDED_BY(mutex_);  // per bucket, not cumulative
  double sum_ ABSL_GUARDED_BY(mutex_) = 0;
};

// The part of a family the renderer needs, whatever its metric type.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::vector<std::string> label_names)
      : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // "counter", "gauge" or "histogram".
  virtual const char* type() const = 0;
  // Appends every series of the family in the text format, "# HELP" and
  // "# TYPE" first.
  virtual void Render(std::string* out) const = 0;

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
};

// A family of series of one metric, one per combination of label values.
template <typename Metric>
class Family final : public FamilyBase {
 public:
  using Factory = std::function<std::unique_ptr<Metric>()>;
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         Factory factory)
      : FamilyBase(std::move(name), std::move(help), std::move(label_names)),
        factory_(std::move(factory)) {}

  // WithLabels returns the series for `values`, creating it (at zero) on
  // first use. `values` should have one entry per label name; missing ones
  // are taken as "" and extra ones are dropped.
  Metric& WithLabels(LabelValues values);

  const char* type() const override;
  void Render(std::string* out) const override;

 private:
  const Factory factory_;
  mutable absl::Mutex mutex_;
  std::map<LabelValues, std::unique_ptr<Metric>> series_ ABSL_GUARDED_BY(mutex_);
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // AddCounter, AddGauge and AddHistogram register a family, or return the
  // one already registered under `name` (its help, labels and buckets stay
  // as first given). A name must not be reused for another type (an assert
  // in debug builds; in release builds the second family is kept apart and
  // never rendered).
  CounterFamily& AddCounter(const std::string& name, const std::string& help,
                            std::vector<std::string> label_names = {});
  GaugeFamily& AddGauge(const std::string& name, const std::string& help,
                        std::vector<std::string> label_names = {});
  HistogramFamily& AddHistogram(const std::string& name, const std::string& help,
                                std::vector<std::string> label_names,
                                std::vector<double> bounds);

  // AddCollector registers `collect`, run by RenderText before rendering
  // (it typically copies values kept elsewhere into gauges). Returns an id
  // for RemoveCollector, which returns only once `collect` is not running
  // and will not run again.
  int AddCollector(std::function<void()> collect);
  void RemoveCollector(int id);

  // RenderText runs the collectors, then renders every family, sorted by
  // name, in the Prometheus text format.
  std::string RenderText() const;

 private:
  template <typename Metric>
  Family<Metric>& Add(const std::string& name, const std::string& help,
                      std::vector<std::string> label_names,
                      typename Family<Metric>::Factory factory);

  // Held while collectors run, so RemoveCollector can wait for them.
  mutable absl::Mutex collectors_mutex_;
  std::map<int, std::function<void()>> collectors_ ABSL_GUARDED_BY(collectors_mutex_);
  int next_collector_id_ ABSL_GUARDED_BY(collectors_mutex_) = 1;

  mutable absl::Mutex families_mutex_;
  std::map<std::string, std::unique_ptr<FamilyBase>> families_ ABSL_GUARDED_BY(families_mutex_);
  // Families registered under a name taken by another type: kept alive for
  // their callers, never rendered.
  std::vector<std::unique_ptr<FamilyBase>> detached_ ABSL_GUARDED_BY(families_mutex_);
};

// Text-format helpers, exposed for tests.
namespace metrics_text {
// A sample value: shortest round-trip decimal, "+Inf", "-Inf" or "NaN".
std::string FormatValue(double value);
// A label value with \ " and newline escaped.
std::string EscapeLabelValue(absl::string_view value);
// A HELP text with \ and newline escaped.
std::string EscapeHelp(absl::string_view help);
bool IsValidMetricName(absl::string_view name);
bool IsValidLabelName(absl::string_view name);
}  // namespace metrics_text

}  // namespace ccs::server

#endif  // CCS_SERVER_METRICS_H_
