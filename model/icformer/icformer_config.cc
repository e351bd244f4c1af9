#include "model/icformer/icformer_config.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>

#include "model/json_config_reader.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ccs::model::icformer {
namespace {

using Json = nlohmann::json;

// Errors read "icformer config.json: <every problem>".
class Reader : public JsonConfigReader {
 public:
  explicit Reader(const Json& root) : JsonConfigReader(root, "icformer config.json") {}
};

// hidden_act as Hugging Face's ACT2FN names it.
bool ParseActivation(const std::string& name, transformer::Activation* out) {
  using transformer::Activation;
  if (name == "silu" || name == "swish") {
    *out = Activation::kSilu;
  } else if (name == "gelu") {
    *out = Activation::kGelu;
  } else if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") {
    *out = Activation::kGeluTanh;
  } else if (name == "relu") {
    *out = Activation::kRelu;
  } else {
    return false;
  }
  return true;
}

// What the released code accepts but this engine does not compute.
absl::Status CheckUnimplemented(const Reader& reader, bool attention_bias,
                                int64_t cross_attention_frequency) {
  if (const Json* scaling = reader.Raw("rope_scaling"); scaling != nullptr) {
    return absl::UnimplementedError(absl::StrCat(
        "icformer config.json: rope_scaling ", scaling->dump(),
        " is not supported; only null (plain RoPE, the released checkpoint's) is"));
  }
  if (attention_bias) {
    return absl::UnimplementedError(
        "icformer config.json: attention_bias true is not supported; the released "
        "checkpoint has bias-free projections (false)");
  }
  if (cross_attention_frequency != 1) {
    return absl::UnimplementedError(absl::StrCat(
        "icformer config.json: cross_attention_frequency ", cross_attention_frequency,
        " would interleave self-attention layers; only 1 (every layer cross-attention, the "
        "paper's former) is supported"));
  }
  return absl::OkStatus();
}

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

absl::Status ValidateIcFormerConfig(const IcFormerConfig& c) {
  std::vector<std::string> errors;
  for (auto [name, value] : {std::pair<const char*, int64_t>{"hidden_size", c.hidden_size},
                             {"num_hidden_layers", c.num_hidden_layers},
                             {"num_attention_heads", c.num_attention_heads},
                             {"num_key_value_heads", c.num_key_value_heads},
                             {"intermediate_size", c.intermediate_size},
                             {"num_query_tokens", c.num_query_tokens},
                             {"max_chunk_len", c.max_chunk_len}}) {
    if (value < 1) errors.push_back(absl::StrCat(name, " is ", value, ": it must be >= 1"));
  }
  if (errors.empty()) {
    if (c.hidden_size % c.num_attention_heads != 0) {
      errors.push_back(absl::StrCat("hidden_size ", c.hidden_size,
                                    " is not divisible by num_attention_heads ",
                                    c.num_attention_heads));
    } else if (c.head_dim != c.hidden_size / c.num_attention_heads || c.head_dim % 2 != 0) {
      errors.push_back(absl::StrCat("head_dim ", c.head_dim, " must be hidden_size / heads = ",
                                    c.hidden_size / c.num_attention_heads, " and even"));
    }
    if (c.num_attention_heads % c.num_key_value_heads != 0) {
      errors.push_back(absl::StrCat("num_attention_heads ", c.num_attention_heads,
                                    " is not divisible by num_key_value_heads ",
                                    c.num_key_value_heads));
    }
  }
  if (c.context_hidden_size != c.hidden_size) {
    errors.push_back(absl::StrCat(
        "context_hidden_size ", c.context_hidden_size, " (4096 when absent) must equal hidden_size ",
        c.hidden_size, ": the context norm is [hidden_size] and also normalises the digests"));
  }
  if (!(c.rms_norm_eps > 0)) errors.push_back("rms_norm_eps must be > 0");
  if (!(c.rope_theta > 0)) errors.push_back("rope_theta must be > 0");
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("icformer config: ", absl::StrJoin(errors, "; ")));
}

absl::StatusOr<IcFormerConfig> ParseIcFormerConfig(absl::string_view text) {
  const Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("icformer config.json: not a JSON object");
  }
  Reader r(j);
  std::string model_type = "icformer", hidden_act = "silu";
  r.String("model_type", &model_type);
  if (model_type != "icformer") {
    r.AddError(absl::StrCat("model_type is \"", model_type, "\", expected \"icformer\""));
  }
  IcFormerConfig c;
  r.Int("hidden_size", true, &c.hidden_size);
  r.Int("num_hidden_layers", true, &c.num_hidden_layers);
  r.Int("num_attention_heads", true, &c.num_attention_heads);
  r.Int("intermediate_size", true, &c.intermediate_size);
  c.num_key_value_heads = c.num_attention_heads;
  r.Int("num_key_value_heads", false, &c.num_key_value_heads);
  r.Int("num_query_tokens", false, &c.num_query_tokens);
  r.Int("context_hidden_size", false, &c.context_hidden_size);
  r.Int("max_position_embeddings", false, &c.max_position_embeddings);
  r.Int("cross_attention_frequency", false, &c.cross_attention_frequency);
  r.Int("max_chunk_len", false, &c.max_chunk_len);
  r.Double("rms_norm_eps", &c.rms_norm_eps);
  r.Double("rope_theta", &c.rope_theta);
  r.String("hidden_act", &hidden_act);
  r.String("answer_prefix", &c.answer_prefix);
  r.String("answer_suffix", &c.answer_suffix);
  bool attention_bias = false;
  r.Bool("attention_bias", &attention_bias);
  if (!r.status().ok()) return r.status();
  if (!ParseActivation(hidden_act, &c.hidden_act)) {
    return absl::UnimplementedError(absl::StrCat(
        "icformer config.json: hidden_act \"", hidden_act,
        "\" is not supported; use silu (the paper's), gelu, gelu_new or relu"));
  }
  if (absl::Status s = CheckUnimplemented(r, attention_bias, c.cross_attention_frequency);
      !s.ok()) {
    return s;
  }
  if (c.num_attention_heads > 0) c.head_dim = c.hidden_size / c.num_attention_heads;
  if (absl::Status s = ValidateIcFormerConfig(c); !s.ok()) return s;
  return c;
}

std::string IcFormerConfigJson(const IcFormerConfig& c) {
  const char* act = c.hidden_act == transformer::Activation::kGelu   ? "gelu"
                    : c.hidden_act == transformer::Activation::kRelu ? "relu"
                                                                     : "silu";
  Json j = {
      {"model_type", "icformer"},
      {"hidden_size", c.hidden_size},
      {"num_hidden_layers", c.num_hidden_layers},
      {"num_attention_heads", c.num_attention_heads},
      {"num_key_value_heads", c.num_key_value_heads},
      {"intermediate_size", c.intermediate_size},
      {"num_query_tokens", c.num_query_tokens},
      {"context_hidden_size", c.context_hidden_size},
      {"max_position_embeddings", c.max_position_embeddings},
      {"hidden_act", act},
      {"rms_norm_eps", c.rms_norm_eps},
      {"rope_theta", c.rope_theta},
      {"rope_scaling", nullptr},
      {"attention_bias", false},
      {"cross_attention_frequency", c.cross_attention_frequency},
      {"max_chunk_len", c.max_chunk_len},
      {"answer_prefix", c.answer_prefix},
      {"answer_suffix", c.answer_suffix},
  };
  return j.dump(2) + "\n";
}

absl::StatusOr<IcFormerConfig> LoadIcFormerConfig(const std::string& path) {
  std::ifstream file(path);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << file.rdbuf();
  absl::StatusOr<IcFormerConfig> config = ParseIcFormerConfig(text.str());
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

std::vector<IcFormerChunk> PlanChunks(int64_t tokens, const IcFormerConfig& config) {
  std::vector<IcFormerChunk> plan;
  if (tokens < 1) return plan;
  const int64_t chunk_num = CeilDiv(tokens, config.max_chunk_len);
  const int64_t chunk_size = CeilDiv(tokens, chunk_num);
  for (int64_t i = 0; i < chunk_num; ++i) {
    // Never empty (see the header), but a plan must never hold one.
    const int64_t start = i * chunk_size;
    if (start >= tokens) break;
    plan.push_back({start, std::min(chunk_size, tokens - start)});
  }
  return plan;
}

int64_t DigestCount(int64_t tokens, const IcFormerConfig& config) {
  return static_cast<int64_t>(PlanChunks(tokens, config).size()) * config.num_query_tokens;
}

int64_t ChunkFlops(int64_t m, const IcFormerConfig& c) {
  const int64_t k = c.num_query_tokens, S = m + k, C = c.hidden_size;
  const int64_t q_width = c.num_attention_heads * c.head_dim;
  const int64_t kv_width = c.num_key_value_heads * c.head_dim;
  const int64_t per_layer = 2 * k * C * q_width            // q_proj
                            + 2 * 2 * S * C * kv_width      // k_proj, v_proj
                            + 2 * 2 * k * S * q_width       // scores, weights x V
                            + 2 * k * q_width * C           // o_proj
                            + 3 * 2 * k * C * c.intermediate_size;  // gate, up, down
  return c.num_hidden_layers * per_layer;
}

int64_t CompressionFlops(int64_t tokens, const IcFormerConfig& config) {
  int64_t flops = 0;
  for (const IcFormerChunk& chunk : PlanChunks(tokens, config)) {
    flops += ChunkFlops(chunk.length, config);
  }
  return flops;
}

}  // namespace ccs::model::icformer
