#include "client/load_report.h"

#include <array>
#include <cmath>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/load_stats.h"

namespace ccs::client {
namespace {

using nlohmann::json;

double Round3(double value) { return std::round(value * 1000.0) / 1000.0; }

double Ms(absl::Duration duration) {
  return Round3(absl::ToDoubleMilliseconds(duration));
}

json SummaryJson(std::vector<absl::Duration> samples) {
  const LatencySummary s = Summarize(std::move(samples));
  if (s.count == 0) return nullptr;
  return json{{"count", s.count}, {"min", Ms(s.min)},   {"mean", Ms(s.mean)},
              {"p50", Ms(s.p50)},   {"p90", Ms(s.p90)},   {"p99", Ms(s.p99)},
              {"p99.9", Ms(s.p999)}, {"max", Ms(s.max)}};
}

// Counts and samples of a set of requests (one operation, or all).
struct Tally {
  int64_t sent = 0;
  int64_t succeeded = 0;
  std::map<std::string, int64_t> failed_by_code;
  std::vector<absl::Duration> latencies;      // succeeded
  std::vector<absl::Duration> first_messages; // succeeded streams
  std::vector<absl::Duration> send_lags;      // all
  int64_t tokens = 0;

  void Add(const RequestRecord& record) {
    ++sent;
    send_lags.push_back(record.send_lag);
    if (record.code != absl::StatusCode::kOk) {
      ++failed_by_code[absl::StatusCodeToString(record.code)];
      return;
    }
    ++succeeded;
    latencies.push_back(record.latency);
    if (record.op != Operation::kCompress && record.first_message > absl::ZeroDuration()) {
      first_messages.push_back(record.first_message);
    }
    tokens += record.tokens;
  }

  int64_t failed() const { return sent - succeeded; }
};

double PerSecond(double count, double seconds) {
  return seconds > 0 ? Round3(count / seconds) : 0.0;
}

std::string Cell(const json& value, const char* key) {
  if (value.is_null() || !value.contains(key) || value[key].is_null()) return "-";
  return absl::StrFormat("%.2f", value[key].get<double>());
}

}  // namespace

json BuildReport(const LoadConfig& config, const std::string& target,
                 const std::string& context_source, const LoadResult& result) {
  Tally all;
  std::array<Tally, kOperationCount> by_op;
  for (const RequestRecord& record : result.records) {
    all.Add(record);
    by_op[static_cast<int>(record.op)].Add(record);
  }
  const double window_s = absl::ToDoubleSeconds(result.window);
  json report;
  report["target"] = target;
  const bool closed = config.mode == LoadConfig::Mode::kClosedLoop;
  report["mode"] = closed ? "closed" : "open";
  if (closed) {
    report["concurrency"] = config.concurrency;
  } else {
    report["rate"] = config.rate;
    report["max_in_flight"] = config.max_in_flight;
  }
  report["mix"] = config.mix.ToString();
  report["seed"] = config.seed;
  report["warmup_s"] = absl::ToDoubleSeconds(config.warmup);
  report["duration_s"] = absl::ToDoubleSeconds(config.duration);
  report["max_requests"] = config.max_requests;
  report["window_s"] = Round3(window_s);
  report["context"] = {{"unit", config.context_in_tokens ? "tokens" : "bytes"},
                       {"min", config.context_size.min},
                       {"max", config.context_size.max},
                       {"source", context_source},
                       {"bytes_per_token", Round3(result.bytes_per_token)}};
  report["sent"] = all.sent;
  report["succeeded"] = all.succeeded;
  report["failed"] = all.failed();
  report["failed_by_code"] = all.failed_by_code;
  report["unsent"] = result.unsent;
  report["warmup_requests"] = result.warmup_requests;
  report["cleanup_failures"] = result.cleanup_failures;
  report["requests_per_s"] = PerSecond(all.succeeded, window_s);
  report["sent_per_s"] = PerSecond(all.sent, window_s);
  const int64_t compressed = by_op[0].tokens;
  const int64_t generated = by_op[1].tokens + by_op[2].tokens;
  report["tokens"] = {{"compressed", compressed},
                      {"generated", generated},
                      {"compressed_per_s", PerSecond(compressed, window_s)},
                      {"generated_per_s", PerSecond(generated, window_s)}};
  report["histogram_ms"] = json::array();
  const std::vector<int64_t> counts = Histogram(all.latencies);
  const std::vector<absl::Duration>& bounds = HistogramBounds();
  for (size_t i = 0; i < counts.size(); ++i) {
    report["histogram_ms"].push_back(
        {{"le", i < bounds.size() ? json(Ms(bounds[i])) : json(nullptr)},
         {"count", counts[i]}});
  }
  report["latency_ms"] = SummaryJson(all.latencies);
  report["time_to_first_token_ms"] = SummaryJson(all.first_messages);
  report["send_lag_ms"] = SummaryJson(all.send_lags);
  report["operations"] = json::object();
  for (int i = 0; i < kOperationCount; ++i) {
    const Tally& t = by_op[i];
    json op = {{"sent", t.sent},
               {"succeeded", t.succeeded},
               {"failed", t.failed()},
               {"failed_by_code", t.failed_by_code},
               {"requests_per_s", PerSecond(t.succeeded, window_s)},
               {"tokens", t.tokens},
               {"latency_ms", SummaryJson(t.latencies)}};
    if (static_cast<Operation>(i) != Operation::kCompress) {
      op["time_to_first_token_ms"] = SummaryJson(t.first_messages);
    }
    report["operations"][std::string(OperationName(static_cast<Operation>(i)))] = op;
  }
  return report;
}

std::string RenderTable(const json& report) {
  std::string out;
  const bool closed = report["mode"] == "closed";
  absl::StrAppendFormat(
      &out, "ccs_load -> %s: %s, mix %s, seed %d\n",
      report["target"].get<std::string>(),
      closed ? absl::StrFormat("closed loop, %d concurrent clients",
                               report["concurrency"].get<int>())
             : absl::StrFormat("open loop, %.1f requests/s (Poisson arrivals, "
                               "at most %d in flight)",
                               report["rate"].get<double>(),
                               report["max_in_flight"].get<int>()),
      report["mix"].get<std::string>(), report["seed"].get<uint64_t>());
  const json& context = report["context"];
  std::string per_token;
  if (context["bytes_per_token"].get<double>() > 0) {
    per_token = absl::StrFormat(" (%.2f bytes/token)",
                                context["bytes_per_token"].get<double>());
  }
  absl::StrAppendFormat(
      &out,
      "measured %.2f s after a %.1f s warm-up (%d warm-up requests not "
      "counted); contexts %d-%d %s%s from %s\n\n",
      report["window_s"].get<double>(), report["warmup_s"].get<double>(),
      report["warmup_requests"].get<int64_t>(), context["min"].get<int64_t>(),
      context["max"].get<int64_t>(), context["unit"].get<std::string>(),
      per_token, context["source"].get<std::string>());

  const char* kRow = "%-12s %7s %7s %7s %9s %9s %9s %9s %9s %9s %9s\n";
  absl::StrAppendFormat(&out, kRow, "operation", "sent", "ok", "failed", "ok/s",
                        "mean ms", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms",
                        "max ms");
  auto row = [&](const std::string& name, const json& r) {
    const json& l = r["latency_ms"];
    absl::StrAppendFormat(
        &out, kRow, name, absl::StrCat(r["sent"].get<int64_t>()),
        absl::StrCat(r["succeeded"].get<int64_t>()),
        absl::StrCat(r["failed"].get<int64_t>()),
        absl::StrFormat("%.1f", r["requests_per_s"].get<double>()),
        Cell(l, "mean"), Cell(l, "p50"), Cell(l, "p90"), Cell(l, "p99"),
        Cell(l, "p99.9"), Cell(l, "max"));
  };
  for (const auto& [name, op] : report["operations"].items()) {
    if (op["sent"].get<int64_t>() > 0) row(name, op);
  }
  row("all", report);

  bool any_stream = false;
  for (const char* name : {"generate", "reconstruct"}) {
    const json& ttft = report["operations"][name]["time_to_first_token_ms"];
    if (ttft.is_null()) continue;
    if (!any_stream) {
      absl::StrAppendFormat(&out, "\n%-26s %9s %9s %9s %9s %9s\n",
                            "time to first message", "mean ms", "p50 ms",
                            "p90 ms", "p99 ms", "p99.9 ms");
      any_stream = true;
    }
    absl::StrAppendFormat(&out, "%-26s %9s %9s %9s %9s %9s\n", name,
                          Cell(ttft, "mean"), Cell(ttft, "p50"),
                          Cell(ttft, "p90"), Cell(ttft, "p99"),
                          Cell(ttft, "p99.9"));
  }
  const json& tokens = report["tokens"];
  absl::StrAppendFormat(
      &out, "\ntokens: %d context tokens compressed (%.1f/s), %d generated "
      "(%.1f/s)\n",
      tokens["compressed"].get<int64_t>(), tokens["compressed_per_s"].get<double>(),
      tokens["generated"].get<int64_t>(), tokens["generated_per_s"].get<double>());
  std::vector<std::string> failures;
  for (const auto& [code, count] : report["failed_by_code"].items()) {
    failures.push_back(absl::StrCat(code, " ", count.get<int64_t>()));
  }
  absl::StrAppend(&out, "failed by code: ",
                  failures.empty() ? "none" : absl::StrJoin(failures, ", "), "\n");
  const json& lag = report["send_lag_ms"];
  if (!lag.is_null()) {
    absl::StrAppendFormat(&out,
                          "send lag (scheduled -> sent): p50 %s ms, p99 %s ms, "
                          "max %s ms\n",
                          Cell(lag, "p50"), Cell(lag, "p99"), Cell(lag, "max"));
  }
  if (report["unsent"].get<int64_t>() > 0) {
    absl::StrAppendFormat(&out,
                          "unsent: %d requests were due but not sent before "
                          "the drain ended (the service fell behind)\n",
                          report["unsent"].get<int64_t>());
  }
  if (report["cleanup_failures"].get<int64_t>() > 0) {
    absl::StrAppendFormat(&out, "session deletions that failed: %d\n",
                          report["cleanup_failures"].get<int64_t>());
  }

  // The histogram, from the first to the last non-empty bucket.
  const json& histogram = report["histogram_ms"];
  int64_t largest = 0;
  int first = -1;
  int last = -1;
  for (int i = 0; i < static_cast<int>(histogram.size()); ++i) {
    const int64_t count = histogram[i]["count"].get<int64_t>();
    largest = std::max(largest, count);
    if (count > 0) {
      if (first < 0) first = i;
      last = i;
    }
  }
  if (first >= 0) {
    absl::StrAppend(&out, "\nlatency histogram (succeeded requests):\n");
    for (int i = first; i <= last; ++i) {
      const int64_t count = histogram[i]["count"].get<int64_t>();
      const std::string bound =
          histogram[i]["le"].is_null()
              ? std::string("   > 100000 ms")
              : absl::StrFormat("  <= %6g ms", histogram[i]["le"].get<double>());
      absl::StrAppendFormat(&out, "%s %-40s %d\n", bound,
                            std::string(count * 40 / largest, '#'), count);
    }
  }
  return out;
}

}  // namespace ccs::client
