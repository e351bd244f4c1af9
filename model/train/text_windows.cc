#include "model/train/text_windows.h"

#include <fstream>
#include <map>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace ccs::model::train {

absl::StatusOr<std::vector<JsonlRecord>> ReadJsonl(const std::string& path,
                                                   const std::vector<std::string>& fields,
                                                   int64_t max_records) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::vector<JsonlRecord> records;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (max_records > 0 && static_cast<int64_t>(records.size()) >= max_records) break;
    const nlohmann::json object = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!object.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", number, ": not a JSON object"));
    }
    JsonlRecord record;
    for (const std::string& field : fields) {
      auto it = object.find(field);
      if (it == object.end() || !it->is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ":", number, ": field \"", field, "\" is missing or not a string"));
      }
      record[field] = it->get<std::string>();
    }
    records.push_back(std::move(record));
  }
  return records;
}

std::vector<std::string> Texts(const std::vector<JsonlRecord>& records, const std::string& field) {
  std::vector<std::string> texts;
  texts.reserve(records.size());
  for (const JsonlRecord& r : records) texts.push_back(r.at(field));
  return texts;
}

absl::StatusOr<std::vector<std::vector<int32_t>>> PackWindows(const Tokenizer& tokenizer,
                                                              std::vector<std::string> texts,
                                                              const WindowOptions& options) {
  if (options.length < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("window length must be at least 1, not ", options.length));
  }
  EncodeOptions plain;
  plain.parse_special_tokens = false;
  absl::StatusOr<std::vector<int32_t>> separator = tokenizer.Encode(options.separator, plain);
  if (!separator.ok()) return separator.status();
  Shuffle(texts, options.seed);
  std::vector<std::vector<int32_t>> windows;
  std::vector<int32_t> stream;  // the part not yet cut into windows
  bool first = true;
  for (const std::string& text : texts) {
    if (options.max_windows > 0 && static_cast<int64_t>(windows.size()) >= options.max_windows) {
      break;
    }
    absl::StatusOr<std::vector<int32_t>> ids = tokenizer.Encode(text, plain);
    if (!ids.ok()) return ids.status();
    if (!first) stream.insert(stream.end(), separator->begin(), separator->end());
    first = false;
    stream.insert(stream.end(), ids->begin(), ids->end());
    size_t start = 0;
    while (stream.size() - start >= static_cast<size_t>(options.length) &&
           (options.max_windows == 0 ||
            static_cast<int64_t>(windows.size()) < options.max_windows)) {
      windows.emplace_back(stream.begin() + start, stream.begin() + start + options.length);
      start += options.length;
    }
    stream.erase(stream.begin(), stream.begin() + start);
  }
  return windows;
}

absl::StatusOr<std::vector<std::vector<std::vector<int32_t>>>> ShortDocuments(
    const Tokenizer& tokenizer, const std::vector<JsonlRecord>& records, int64_t min_tokens,
    int64_t max_tokens, int64_t per_source, uint64_t seed) {
  if (min_tokens < 1 || max_tokens < min_tokens || per_source < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "short documents need 1 <= min_tokens <= max_tokens and per_source >= 1, not ",
        min_tokens, ", ", max_tokens, ", ", per_source));
  }
  std::map<std::string, std::vector<std::string>> by_source;
  for (const JsonlRecord& r : records) {
    const std::string& text = r.at("text");
    if (static_cast<int64_t>(text.size()) <= 8 * max_tokens) {
      by_source[r.at("source")].push_back(text);
    }
  }
  EncodeOptions plain;
  plain.parse_special_tokens = false;
  std::vector<std::vector<std::vector<int32_t>>> kept;
  for (auto& [source, texts] : by_source) {
    Shuffle(texts, seed);
    std::vector<std::vector<int32_t>> documents;
    for (const std::string& text : texts) {
      if (static_cast<int64_t>(documents.size()) >= per_source) break;
      absl::StatusOr<std::vector<int32_t>> ids = tokenizer.Encode(text, plain);
      if (!ids.ok()) return ids.status();
      const int64_t n = static_cast<int64_t>(ids->size());
      if (n >= min_tokens && n <= max_tokens) documents.push_back(*std::move(ids));
    }
    if (!documents.empty()) kept.push_back(std::move(documents));
  }
  return kept;
}

}  // namespace ccs::model::train
