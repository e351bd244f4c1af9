#include "client/progress_bar.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ccs::client {
namespace {

constexpr int kBarWidth = 30;

}  // namespace

std::string HumanBytes(int64_t bytes) {
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  if (bytes < (int64_t{1} << 20)) return absl::StrFormat("%.1f KiB", bytes / 1024.0);
  if (bytes < (int64_t{1} << 30)) {
    return absl::StrFormat("%.1f MiB", bytes / (1024.0 * 1024.0));
  }
  return absl::StrFormat("%.1f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
}

std::string RenderProgress(int64_t done, int64_t total,
                           absl::string_view detail) {
  if (total < 0) {
    return absl::StrCat(HumanBytes(done), "  ", detail);
  }
  const double fraction =
      total == 0 ? 1.0 : std::clamp(static_cast<double>(done) / total, 0.0, 1.0);
  const int filled = static_cast<int>(fraction * kBarWidth);
  std::string bar(filled, '=');
  if (filled < kBarWidth) {
    bar += '>';
    bar.append(kBarWidth - filled - 1, ' ');
  }
  return absl::StrFormat("[%s] %3d%%  %s / %s  %s", bar,
                         static_cast<int>(fraction * 100), HumanBytes(done),
                         HumanBytes(total), detail);
}

void ProgressBar::Update(int64_t done_bytes, absl::string_view detail) {
  if (!enabled_) return;
  std::string line = RenderProgress(done_bytes, total_, detail);
  const size_t width = line.size();
  // Blank out what a longer previous line left behind.
  if (width < drawn_width_) line.append(drawn_width_ - width, ' ');
  std::fprintf(out_, "\r%s", line.c_str());
  std::fflush(out_);
  drawn_width_ = width;
}

void ProgressBar::Finish() {
  if (!enabled_ || drawn_width_ == 0) return;
  std::fprintf(out_, "\r%s\r", std::string(drawn_width_, ' ').c_str());
  std::fflush(out_);
  drawn_width_ = 0;
}

}  // namespace ccs::client
