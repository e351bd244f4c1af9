#include "server/metrics.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"

namespace ccs::server {
namespace metrics_text {

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  const std::to_chars_result result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

std::string EscapeLabelValue(absl::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string EscapeHelp(absl::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

bool IsLetterOrUnderscore(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

bool IsValidMetricName(absl::string_view name) {
  if (name.empty() || !(IsLetterOrUnderscore(name[0]) || name[0] == ':')) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsLetterOrUnderscore(c) || IsDigit(c) || c == ':'; });
}

bool IsValidLabelName(absl::string_view name) {
  if (name.empty() || !IsLetterOrUnderscore(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsLetterOrUnderscore(c) || IsDigit(c); });
}

}  // namespace metrics_text

namespace {

using metrics_text::EscapeLabelValue;
using metrics_text::FormatValue;

// Adds `amount` to an atomic double (no fetch_add for doubles before C++20).
void AtomicAdd(std::atomic<double>& target, double amount) {
  double current = target.load();
  while (!target.compare_exchange_weak(current, current + amount)) {
  }
}

// `{a="x",b="y"}`, with `extra` (already formatted, e.g. `le="0.1"`) last;
// empty when there is nothing to put inside.
std::string LabelSet(const std::vector<std::string>& names, const LabelValues& values,
                     const std::string& extra = "") {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    absl::StrAppend(&out, out.empty() ? "" : ",", names[i], "=\"", EscapeLabelValue(values[i]),
                    "\"");
  }
  if (!extra.empty()) absl::StrAppend(&out, out.empty() ? "" : ",", extra);
  return out.empty() ? out : absl::StrCat("{", out, "}");
}

void RenderHeader(const FamilyBase& family, std::string* out) {
  absl::StrAppend(out, "# HELP ", family.name(), " ", metrics_text::EscapeHelp(family.help()),
                  "\n# TYPE ", family.name(), " ", family.type(), "\n");
}

void RenderSeries(const std::string& name, const std::vector<std::string>& label_names,
                  const LabelValues& values, const Counter& counter, std::string* out) {
  absl::StrAppend(out, name, LabelSet(label_names, values), " ", FormatValue(counter.value()),
                  "\n");
}

void RenderSeries(const std::string& name, const std::vector<std::string>& label_names,
                  const LabelValues& values, const Gauge& gauge, std::string* out) {
  absl::StrAppend(out, name, LabelSet(label_names, values), " ", FormatValue(gauge.value()),
                  "\n");
}

void RenderSeries(const std::string& name, const std::vector<std::string>& label_names,
                  const LabelValues& values, const Histogram& histogram, std::string* out) {
  const Histogram::Snapshot s = histogram.snapshot();
  for (size_t i = 0; i < s.cumulative.size(); ++i) {
    const std::string le = i < s.bounds.size() ? FormatValue(s.bounds[i]) : "+Inf";
    absl::StrAppend(out, name, "_bucket", LabelSet(label_names, values, "le=\"" + le + "\""), " ",
                    s.cumulative[i], "\n");
  }
  const std::string labels = LabelSet(label_names, values);
  absl::StrAppend(out, name, "_sum", labels, " ", FormatValue(s.sum), "\n");
  absl::StrAppend(out, name, "_count", labels, " ", s.count, "\n");
}

template <typename Metric>
const char* TypeName();
template <>
const char* TypeName<Counter>() {
  return "counter";
}
template <>
const char* TypeName<Gauge>() {
  return "gauge";
}
template <>
const char* TypeName<Histogram>() {
  return "histogram";
}

}  // namespace

void Counter::Increment(double amount) {
  if (!(amount > 0)) return;  // also drops NaN
  AtomicAdd(value_, amount);
}

void Gauge::Add(double amount) { AtomicAdd(value_, amount); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {
  assert(std::is_sorted(bounds_.begin(), bounds_.end()) &&
         std::adjacent_find(bounds_.begin(), bounds_.end()) == bounds_.end());
}

void Histogram::Observe(double value) {
  // The first bucket whose upper bound is >= value; NaN lands in +Inf.
  const size_t bucket =
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  absl::MutexLock lock(&mutex_);
  ++counts_[bucket];
  sum_ += value;
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  absl::MutexLock lock(&mutex_);
  s.cumulative.reserve(counts_.size());
  uint64_t running = 0;
  for (uint64_t n : counts_) {
    running += n;
    s.cumulative.push_back(running);
  }
  s.count = running;
  s.sum = sum_;
  return s;
}

template <typename Metric>
Metric& Family<Metric>::WithLabels(LabelValues values) {
  values.resize(label_names().size());
  absl::MutexLock lock(&mutex_);
  std::unique_ptr<Metric>& series = series_[values];
  if (series == nullptr) series = factory_();
  return *series;
}

template <typename Metric>
const char* Family<Metric>::type() const {
  return TypeName<Metric>();
}

template <typename Metric>
void Family<Metric>::Render(std::string* out) const {
  RenderHeader(*this, out);
  absl::MutexLock lock(&mutex_);
  for (const auto& [values, metric] : series_) {
    RenderSeries(name(), label_names(), values, *metric, out);
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

template <typename Metric>
Family<Metric>& MetricsRegistry::Add(const std::string& name, const std::string& help,
                                     std::vector<std::string> label_names,
                                     typename Family<Metric>::Factory factory) {
  assert(metrics_text::IsValidMetricName(name));
  assert(std::all_of(label_names.begin(), label_names.end(),
                     [](const std::string& l) { return metrics_text::IsValidLabelName(l); }));
  absl::MutexLock lock(&families_mutex_);
  std::unique_ptr<FamilyBase>& slot = families_[name];
  if (slot == nullptr) {
    slot = std::make_unique<Family<Metric>>(name, help, std::move(label_names),
                                            std::move(factory));
  }
  if (auto* family = dynamic_cast<Family<Metric>*>(slot.get())) return *family;
  assert(false && "a metric name was registered twice with different types");
  detached_.push_back(
      std::make_unique<Family<Metric>>(name, help, std::move(label_names), std::move(factory)));
  return static_cast<Family<Metric>&>(*detached_.back());
}

CounterFamily& MetricsRegistry::AddCounter(const std::string& name, const std::string& help,
                                           std::vector<std::string> label_names) {
  return Add<Counter>(name, help, std::move(label_names),
                      [] { return std::make_unique<Counter>(); });
}

GaugeFamily& MetricsRegistry::AddGauge(const std::string& name, const std::string& help,
                                       std::vector<std::string> label_names) {
  return Add<Gauge>(name, help, std::move(label_names), [] { return std::make_unique<Gauge>(); });
}

HistogramFamily& MetricsRegistry::AddHistogram(const std::string& name, const std::string& help,
                                               std::vector<std::string> label_names,
                                               std::vector<double> bounds) {
  return Add<Histogram>(name, help, std::move(label_names),
                        [bounds = std::move(bounds)] { return std::make_unique<Histogram>(bounds); });
}

int MetricsRegistry::AddCollector(std::function<void()> collect) {
  absl::MutexLock lock(&collectors_mutex_);
  const int id = next_collector_id_++;
  collectors_.emplace(id, std::move(collect));
  return id;
}

void MetricsRegistry::RemoveCollector(int id) {
  absl::MutexLock lock(&collectors_mutex_);
  collectors_.erase(id);
}

std::string MetricsRegistry::RenderText() const {
  {
    absl::MutexLock lock(&collectors_mutex_);
    for (const auto& [id, collect] : collectors_) collect();
  }
  std::string out;
  absl::MutexLock lock(&families_mutex_);
  for (const auto& [name, family] : families_) family->Render(&out);
  return out;
}

}  // namespace ccs::server
