// JsonConfigReader: reads typed keys of a JSON config (Hugging Face
// config.json and the like), collecting every problem so that one
// INVALID_ARGUMENT names them all.
//
//   JsonConfigReader reader(root, "config.json");
//   reader.Int("hidden_size", /*required=*/true, &config.hidden_size);
//   reader.Double("rope_theta", &config.rope_theta);
//   if (absl::Status s = reader.status(); !s.ok()) return s;
//
// Thread-safety: one reader per parse.
#ifndef CCS_MODEL_JSON_CONFIG_READER_H_
#define CCS_MODEL_JSON_CONFIG_READER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ccs::model {

// JsonConfigReader pulls typed keys out of a config object, collecting every problem so
// that one error names them all.
class JsonConfigReader {
 public:
  using Json = nlohmann::json;

  // `context` starts the error message, e.g. "config.json".
  JsonConfigReader(const Json& root, std::string context)
      : root_(root), context_(std::move(context)) {}

  // Sets *out from an integer key. Absent (or null) keys leave *out alone,
  // or are an error when `required`.
  void Int(const char* key, bool required, int64_t* out) {
    const Json* value = Find(key, required);
    if (value == nullptr) return;
    if (!value->is_number_integer()) return WrongType(key, "an integer", *value);
    *out = value->get<int64_t>();
  }

  void Double(const char* key, double* out) {
    const Json* value = Find(key, false);
    if (value == nullptr) return;
    if (!value->is_number()) return WrongType(key, "a number", *value);
    *out = value->get<double>();
  }

  void Bool(const char* key, bool* out) {
    const Json* value = Find(key, false);
    if (value == nullptr) return;
    if (!value->is_boolean()) return WrongType(key, "true or false", *value);
    *out = value->get<bool>();
  }

  void String(const char* key, std::string* out) {
    const Json* value = Find(key, false);
    if (value == nullptr) return;
    if (!value->is_string()) return WrongType(key, "a string", *value);
    *out = value->get<std::string>();
  }

  // A token id: an integer, or null for none. Absent keys keep *out.
  void TokenId(const char* key, std::optional<int64_t>* out) {
    auto it = root_.find(key);
    if (it == root_.end()) return;
    if (it->is_null()) {
      out->reset();
    } else if (it->is_number_integer()) {
      *out = it->get<int64_t>();
    } else {
      WrongType(key, "an integer or null", *it);
    }
  }

  // eos_token_id: an integer, a list of integers, or null.
  void TokenIds(const char* key, std::vector<int64_t>* out) {
    auto it = root_.find(key);
    if (it == root_.end()) return;
    out->clear();
    if (it->is_null()) return;
    if (it->is_number_integer()) {
      out->push_back(it->get<int64_t>());
      return;
    }
    if (it->is_array()) {
      for (const Json& id : *it) {
        if (!id.is_number_integer()) {
          return WrongType(key, "an integer, a list of integers or null", *it);
        }
        out->push_back(id.get<int64_t>());
      }
      return;
    }
    WrongType(key, "an integer, a list of integers or null", *it);
  }

  const Json* Raw(const char* key) const {
    auto it = root_.find(key);
    return it == root_.end() || it->is_null() ? nullptr : &*it;
  }

  void AddError(std::string error) { errors_.push_back(std::move(error)); }

  absl::Status status() const {
    if (errors_.empty()) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat(context_, ": ", absl::StrJoin(errors_, "; ")));
  }

 private:
  const Json* Find(const char* key, bool required) {
    const Json* value = Raw(key);
    if (value == nullptr && required) {
      errors_.push_back(absl::StrCat("missing required key \"", key, "\""));
    }
    return value;
  }

  void WrongType(const char* key, const char* wanted, const Json& value) {
    errors_.push_back(absl::StrCat("\"", key, "\" must be ", wanted, ", not ",
                                   value.dump()));
  }

  const Json& root_;
  const std::string context_;
  std::vector<std::string> errors_;
};


}  // namespace ccs::model

#endif  // CCS_MODEL_JSON_CONFIG_READER_H_
