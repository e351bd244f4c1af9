#include "model/rcc/rcc_config.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace ccs::model::rcc {
namespace {

using Json = nlohmann::json;

absl::Status ReadInt(const Json& j, const char* key, int64_t* out) {
  if (!j.contains(key)) return absl::OkStatus();
  if (!j[key].is_number_integer()) {
    return absl::InvalidArgumentError(
        absl::StrCat("rcc_config: \"", key, "\" must be an integer"));
  }
  *out = j[key].get<int64_t>();
  return absl::OkStatus();
}

absl::Status ReadBool(const Json& j, const char* key, bool* out) {
  if (!j.contains(key)) return absl::OkStatus();
  if (!j[key].is_boolean()) {
    return absl::InvalidArgumentError(
        absl::StrCat("rcc_config: \"", key, "\" must be true or false"));
  }
  *out = j[key].get<bool>();
  return absl::OkStatus();
}

absl::Status ReadString(const Json& j, const char* key, std::string* out) {
  if (!j.contains(key)) return absl::OkStatus();
  if (!j[key].is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("rcc_config: \"", key, "\" must be a string"));
  }
  *out = j[key].get<std::string>();
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateRccConfig(const RccConfig& c) {
  if (c.compression_ratio < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rcc_config: compression_ratio is ", c.compression_ratio, ": it must be at least 1"));
  }
  if (c.segment_tokens < c.compression_ratio || c.segment_tokens % c.compression_ratio != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rcc_config: segment_tokens is ", c.segment_tokens,
        ": it must be a positive multiple of compression_ratio (", c.compression_ratio, ")"));
  }
  if (c.storage_dtype != "bfloat16" && c.storage_dtype != "float32") {
    return absl::InvalidArgumentError(absl::StrCat(
        "rcc_config: storage_dtype \"", c.storage_dtype, "\": use bfloat16 or float32"));
  }
  if (!c.base_prefix.empty() && c.base_prefix != "gpt_neox." && c.base_prefix != "model.") {
    return absl::InvalidArgumentError(absl::StrCat(
        "rcc_config: base_prefix \"", c.base_prefix, "\": use \"gpt_neox.\" or \"model.\""));
  }
  if (c.placeholder_token_id < 0) {
    return absl::InvalidArgumentError("rcc_config: placeholder_token_id must be >= 0");
  }
  if (c.encoder_shares_decoder_weights && !c.encoder_config_json.empty()) {
    return absl::InvalidArgumentError(
        "rcc_config: encoder_shares_decoder_weights means the encoder is the decoder; "
        "remove encoder_config");
  }
  if (c.encoder_shares_decoder_embedding) {
    if (c.encoder_layers < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "rcc_config: encoder_shares_decoder_embedding needs encoder_layers >= 1, not ",
          c.encoder_layers));
    }
    if (c.encoder_shares_decoder_weights || !c.encoder_config_json.empty()) {
      return absl::InvalidArgumentError(
          "rcc_config: encoder_shares_decoder_embedding (an encoder of the decoder's shape "
          "with layers of its own) excludes encoder_shares_decoder_weights and encoder_config");
    }
  } else if (c.encoder_layers != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rcc_config: encoder_layers is ", c.encoder_layers,
        ", but it is read only with encoder_shares_decoder_embedding (else the encoder's depth "
        "is encoder_config's, or the decoder's)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<RccConfig> ParseRccConfig(absl::string_view text) {
  const Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("rcc_config: not a JSON object");
  }
  RccConfig c;
  for (absl::Status s : {ReadInt(j, "compression_ratio", &c.compression_ratio),
                         ReadInt(j, "segment_tokens", &c.segment_tokens),
                         ReadInt(j, "placeholder_token_id", &c.placeholder_token_id),
                         ReadString(j, "storage_dtype", &c.storage_dtype),
                         ReadString(j, "base_prefix", &c.base_prefix),
                         ReadBool(j, "encoder_shares_decoder_weights",
                                  &c.encoder_shares_decoder_weights),
                         ReadBool(j, "encoder_shares_decoder_embedding",
                                  &c.encoder_shares_decoder_embedding),
                         ReadInt(j, "encoder_layers", &c.encoder_layers)}) {
    if (!s.ok()) return s;
  }
  if (j.contains("encoder_config")) {
    if (!j["encoder_config"].is_object()) {
      return absl::InvalidArgumentError("rcc_config: \"encoder_config\" must be an object");
    }
    c.encoder_config_json = j["encoder_config"].dump();
  }
  if (absl::Status s = ValidateRccConfig(c); !s.ok()) return s;
  return c;
}

std::string RccConfigJson(const RccConfig& c) {
  Json j = {
      {"compression_ratio", c.compression_ratio},
      {"segment_tokens", c.segment_tokens},
      {"placeholder_token_id", c.placeholder_token_id},
      {"storage_dtype", c.storage_dtype},
  };
  if (!c.base_prefix.empty()) j["base_prefix"] = c.base_prefix;
  if (!c.encoder_config_json.empty()) j["encoder_config"] = Json::parse(c.encoder_config_json);
  if (c.encoder_shares_decoder_weights) j["encoder_shares_decoder_weights"] = true;
  if (c.encoder_shares_decoder_embedding) {
    j["encoder_shares_decoder_embedding"] = true;
    j["encoder_layers"] = c.encoder_layers;
  }
  return j.dump(2) + "\n";
}

std::vector<RccSegment> PlanSegments(int64_t tokens, const RccConfig& config) {
  const int64_t W = config.segment_tokens, r = config.compression_ratio;
  std::vector<RccSegment> plan;
  for (int64_t start = 0; start < tokens; start += W) {
    RccSegment segment;
    segment.start = start;
    segment.length = std::min(W, tokens - start);
    for (int64_t end = r; end <= segment.length; end += r) {
      segment.slot_positions.push_back(end - 1);  // j*r + (r-1)
    }
    if (segment.length % r != 0) segment.slot_positions.push_back(segment.length - 1);
    plan.push_back(std::move(segment));
  }
  return plan;
}

int64_t SlotCount(int64_t tokens, const RccConfig& config) {
  const int64_t W = config.segment_tokens, r = config.compression_ratio;
  const int64_t full = tokens / W, rest = tokens % W;
  return full * (W / r) + (rest + r - 1) / r;
}

}  // namespace ccs::model::rcc
