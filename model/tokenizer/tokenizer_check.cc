// tokenizer_check: encodes the texts of a cases file with a tokenizer and
// reports mismatches with the expected ids, or measures encoding speed.
//
//   tokenizer_check TOKENIZER CASES.json      # {"cases": [{"text", "ids"}]} or [...]
//   tokenizer_check TOKENIZER --bench TEXT_FILE [REPEAT]
//
// Prints one summary line; exits 1 on any mismatch.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/tokenizer/tokenizer.h"

namespace {

std::string Slurp(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

int Check(const ccs::Tokenizer& tokenizer, const char* cases_path) {
  nlohmann::json cases = nlohmann::json::parse(Slurp(cases_path), nullptr, false);
  if (cases.is_object()) cases = cases["cases"];
  if (!cases.is_array()) {
    std::fprintf(stderr, "%s: no cases\n", cases_path);
    return 2;
  }
  int mismatches = 0, round_trip_failures = 0;
  for (const auto& c : cases) {
    const std::string text = c["text"].get<std::string>();
    const auto expected = c["ids"].get<std::vector<int32_t>>();
    const auto ids = tokenizer.Encode(text);
    if (!ids.ok() || *ids != expected) {
      if (++mismatches <= 5) {
        std::fprintf(stderr, "mismatch: %s\n", nlohmann::json(text).dump().c_str());
      }
      continue;
    }
    const auto decoded = tokenizer.Decode(*ids);
    if (!decoded.ok() || *decoded != text) ++round_trip_failures;
  }
  std::printf("%zu cases: %d mismatches, %d round-trip differences\n", cases.size(),
              mismatches, round_trip_failures);
  return mismatches == 0 ? 0 : 1;
}

int Bench(const ccs::Tokenizer& tokenizer, const char* text_path, int repeat) {
  const std::string text = Slurp(text_path);
  size_t tokens = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < repeat; ++i) {
    const auto ids = tokenizer.Encode(text);
    if (!ids.ok()) {
      std::fprintf(stderr, "%s\n", ids.status().ToString().c_str());
      return 2;
    }
    tokens += ids->size();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%zu bytes x %d: %zu tokens in %.3f s (%.0f tokens/s)\n", text.size(), repeat,
              tokens, seconds, tokens / seconds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s TOKENIZER CASES.json | TOKENIZER --bench TEXT [REPEAT]\n",
                 argv[0]);
    return 2;
  }
  auto tokenizer = ccs::LoadTokenizer(argv[1]);
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "%s\n", tokenizer.status().ToString().c_str());
    return 2;
  }
  if (std::string(argv[2]) == "--bench" && argc >= 4) {
    return Bench(**tokenizer, argv[3], argc >= 5 ? std::atoi(argv[4]) : 1);
  }
  return Check(**tokenizer, argv[2]);
}
