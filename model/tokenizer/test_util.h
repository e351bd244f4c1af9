// Helpers for the tokenizer tests: runfiles paths and whole-file reads.
//
//   std::string path = ccs::testing::RunfilePath("testdata/vocab/gpt-neox-20b/tokenizer.json");
//   absl::StatusOr<std::string> text = ccs::testing::ReadFile(path);
//
// Stateless; thread-safe.
#ifndef CCS_MODEL_TOKENIZER_TEST_UTIL_H_
#define CCS_MODEL_TOKENIZER_TEST_UTIL_H_

#include <string>

#include "absl/status/statusor.h"

namespace ccs {
namespace testing {

// RunfilePath returns the path of a workspace-relative file in the test's
// runfiles (under $TEST_SRCDIR/ccs).
std::string RunfilePath(const std::string& workspace_relative);

// TempPath returns a path for a scratch file under $TEST_TMPDIR.
std::string TempPath(const std::string& name);

// ReadFile returns the contents of `path` (NOT_FOUND if it cannot be read).
absl::StatusOr<std::string> ReadFile(const std::string& path);

// WriteFile replaces the contents of `path`.
absl::Status WriteFile(const std::string& path, const std::string& contents);

}  // namespace testing
}  // namespace ccs

#endif  // CCS_MODEL_TOKENIZER_TEST_UTIL_H_
