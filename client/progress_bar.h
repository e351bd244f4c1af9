// A one-line progress bar for a terminal, redrawn in place with '\r':
//
//   [==============>               ]  47%  1.2 MiB / 2.6 MiB  19 appends
//
// Disabled, it writes nothing: tools enable it only when stderr is a
// terminal, so that piped and logged output stays clean.
//
// Not thread-safe; one owner.
#ifndef CCS_CLIENT_PROGRESS_BAR_H_
#define CCS_CLIENT_PROGRESS_BAR_H_

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/strings/string_view.h"

namespace ccs::client {

// HumanBytes: "512 B", "12.3 KiB", "4.5 MiB", "1.2 GiB".
std::string HumanBytes(int64_t bytes);

// RenderProgress: the bar's text (without '\r'): `done` of `total` bytes
// (total < 0: unknown, no bar and no percentage), then `detail`.
std::string RenderProgress(int64_t done, int64_t total,
                           absl::string_view detail);

class ProgressBar {
 public:
  // Writes to `out` (not owned) when enabled.
  ProgressBar(FILE* out, int64_t total_bytes, bool enabled)
      : out_(out), total_(total_bytes), enabled_(enabled) {}
  ~ProgressBar() { Finish(); }
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void Update(int64_t done_bytes, absl::string_view detail);
  // Erases the line, so that what follows starts clean. Idempotent.
  void Finish();

 private:
  FILE* const out_;
  const int64_t total_;
  const bool enabled_;
  size_t drawn_width_ = 0;
};

}  // namespace ccs::client

#endif  // CCS_CLIENT_PROGRESS_BAR_H_
