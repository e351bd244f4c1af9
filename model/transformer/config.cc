#include "model/transformer/config.h"

#include <fstream>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>

#include "model/json_config_reader.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ccs::model::transformer {
namespace {

using Json = nlohmann::json;

// Errors read "config.json: <every problem>".
class Reader : public JsonConfigReader {
 public:
  explicit Reader(const Json& root) : JsonConfigReader(root, "config.json") {}
};

absl::StatusOr<Activation> ParseActivation(const std::string& name) {
  if (name == "gelu") return Activation::kGelu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") {
    return Activation::kGeluTanh;
  }
  if (name == "silu" || name == "swish") return Activation::kSilu;
  if (name == "relu") return Activation::kRelu;
  return absl::UnimplementedError(absl::StrCat(
      "config.json: hidden_act \"", name,
      "\" is not implemented: use gelu, gelu_new, gelu_pytorch_tanh, "
      "gelu_fast, silu, swish or relu"));
}

// Only unscaled RoPE is computed: rope_scaling must be null or of type
// "default".
absl::Status CheckRopeScaling(const Reader& reader) {
  const Json* scaling = reader.Raw("rope_scaling");
  if (scaling == nullptr) return absl::OkStatus();
  if (!scaling->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config.json: \"rope_scaling\" must be an object or null, not ",
        scaling->dump()));
  }
  std::string type = "(no type)";
  for (const char* key : {"rope_type", "type"}) {
    auto it = scaling->find(key);
    if (it != scaling->end() && it->is_string()) {
      type = it->get<std::string>();
      break;
    }
  }
  if (type == "default") return absl::OkStatus();
  return absl::UnimplementedError(absl::StrCat(
      "config.json: rope_scaling type \"", type,
      "\" is not implemented: only unscaled RoPE (rope_scaling null or "
      "rope_type \"default\") is supported"));
}

// Hugging Face's GPTNeoXConfig defaults, then the file's keys.
void ReadGptNeox(Reader& reader, DecoderConfig& config) {
  config.architecture = Architecture::kGptNeox;
  config.rope_theta = 10000;
  config.rotary_pct = 0.25;
  config.use_parallel_residual = true;
  config.norm_eps = 1e-5;
  config.attention_bias = true;
  config.mlp_bias = true;
  config.bos_token_id = 0;
  config.eos_token_ids = {2};
  reader.Double("rotary_emb_base", &config.rope_theta);
  reader.Double("rotary_pct", &config.rotary_pct);
  reader.Bool("use_parallel_residual", &config.use_parallel_residual);
  reader.Double("layer_norm_eps", &config.norm_eps);
  reader.Bool("attention_bias", &config.attention_bias);
  config.num_key_value_heads = config.num_attention_heads;
}

// Hugging Face's LlamaConfig defaults, then the file's keys.
void ReadLlama(Reader& reader, DecoderConfig& config) {
  config.architecture = Architecture::kLlama;
  config.rope_theta = 10000;
  config.rotary_pct = 1.0;
  config.use_parallel_residual = false;
  config.norm_eps = 1e-6;
  config.attention_bias = false;
  config.mlp_bias = false;
  config.bos_token_id = 1;
  config.eos_token_ids = {2};
  reader.Double("rope_theta", &config.rope_theta);
  reader.Double("rms_norm_eps", &config.norm_eps);
  reader.Bool("attention_bias", &config.attention_bias);
  reader.Bool("mlp_bias", &config.mlp_bias);
  config.num_key_value_heads = config.num_attention_heads;
  reader.Int("num_key_value_heads", false, &config.num_key_value_heads);
}

std::string DivisibilityError(const DecoderConfig& c) {
  return absl::StrCat("hidden_size ", c.hidden_size,
                      " is not divisible by num_attention_heads ",
                      c.num_attention_heads);
}

// head_dim is hidden_size / heads unless a Llama config sets it; only then
// may hidden_size be indivisible.
void DeriveHeadDim(Reader& reader, DecoderConfig& config) {
  if (config.num_attention_heads <= 0) return;  // reported by validation
  config.head_dim = config.hidden_size / config.num_attention_heads;
  if (config.architecture == Architecture::kLlama &&
      reader.Raw("head_dim") != nullptr) {
    reader.Int("head_dim", false, &config.head_dim);
  } else if (config.hidden_size % config.num_attention_heads != 0) {
    reader.AddError(DivisibilityError(config));
  }
}

}  // namespace

absl::Status ValidateDecoderConfig(const DecoderConfig& c) {
  std::vector<std::string> errors;
  auto positive = [&errors](const char* name, int64_t value) {
    if (value <= 0) {
      errors.push_back(absl::StrCat(name, " is ", value, ": must be > 0"));
    }
  };
  positive("hidden_size", c.hidden_size);
  positive("num_hidden_layers", c.num_hidden_layers);
  positive("num_attention_heads", c.num_attention_heads);
  positive("num_key_value_heads", c.num_key_value_heads);
  positive("intermediate_size", c.intermediate_size);
  positive("vocab_size", c.vocab_size);
  positive("head_dim", c.head_dim);
  if (!errors.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.json: ", absl::StrJoin(errors, "; ")));
  }
  // Only Llama may set head_dim apart from hidden_size / heads.
  if (c.architecture == Architecture::kGptNeox &&
      c.head_dim * c.num_attention_heads != c.hidden_size) {
    errors.push_back(DivisibilityError(c));
  }
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    errors.push_back(absl::StrCat(
        "num_attention_heads ", c.num_attention_heads,
        " is not divisible by num_key_value_heads ", c.num_key_value_heads));
  }
  if (c.architecture == Architecture::kGptNeox &&
      c.num_key_value_heads != c.num_attention_heads) {
    errors.push_back("gpt_neox has no grouped-query attention: "
                     "num_key_value_heads must equal num_attention_heads");
  }
  if (!(c.rotary_pct > 0.0 && c.rotary_pct <= 1.0)) {
    errors.push_back(absl::StrCat("rotary_pct is ", c.rotary_pct,
                                  ": must be in (0, 1]"));
  } else if (c.rotary_ndims <= 0 || c.rotary_ndims % 2 != 0 ||
             c.rotary_ndims > c.head_dim) {
    errors.push_back(absl::StrCat(
        "rotary dimensions int(head_dim ", c.head_dim, " * rotary_pct ",
        c.rotary_pct, ") = ", c.rotary_ndims, ": must be even and > 0"));
  }
  if (!(c.rope_theta > 0.0)) {
    errors.push_back(absl::StrCat("rope base is ", c.rope_theta, ": must be > 0"));
  }
  if (!(c.norm_eps > 0.0)) {
    errors.push_back(absl::StrCat("norm eps is ", c.norm_eps, ": must be > 0"));
  }
  auto check_id = [&](const char* name, int64_t id) {
    if (id < 0 || id >= c.vocab_size) {
      errors.push_back(absl::StrCat(name, " ", id, " is outside the vocabulary [0, ",
                                    c.vocab_size, ")"));
    }
  };
  if (c.bos_token_id) check_id("bos_token_id", *c.bos_token_id);
  if (c.pad_token_id) check_id("pad_token_id", *c.pad_token_id);
  for (int64_t id : c.eos_token_ids) check_id("eos_token_id", id);
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("config.json: ", absl::StrJoin(errors, "; ")));
}

absl::StatusOr<DecoderConfig> ParseDecoderConfig(absl::string_view json_text) {
  Json root = Json::parse(json_text.begin(), json_text.end(), nullptr,
                          /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    return absl::InvalidArgumentError(
        "config.json: not a JSON object (is this a Hugging Face config.json?)");
  }
  Reader reader(root);
  DecoderConfig config;
  reader.String("model_type", &config.model_type);
  if (config.model_type != "gpt_neox" && config.model_type != "llama") {
    return absl::UnimplementedError(absl::StrCat(
        "config.json: model_type \"", config.model_type,
        "\" is not implemented: use gpt_neox or llama"));
  }
  if (absl::Status status = CheckRopeScaling(reader); !status.ok()) return status;
  reader.Int("hidden_size", true, &config.hidden_size);
  reader.Int("num_hidden_layers", true, &config.num_hidden_layers);
  reader.Int("num_attention_heads", true, &config.num_attention_heads);
  reader.Int("intermediate_size", true, &config.intermediate_size);
  reader.Int("vocab_size", true, &config.vocab_size);
  reader.Int("max_position_embeddings", false, &config.max_position_embeddings);
  if (config.model_type == "gpt_neox") {
    ReadGptNeox(reader, config);
  } else {
    ReadLlama(reader, config);
  }
  DeriveHeadDim(reader, config);
  config.rotary_ndims =
      static_cast<int64_t>(static_cast<double>(config.head_dim) * config.rotary_pct);
  reader.Bool("tie_word_embeddings", &config.tie_word_embeddings);
  reader.TokenId("bos_token_id", &config.bos_token_id);
  reader.TokenIds("eos_token_id", &config.eos_token_ids);
  reader.TokenId("pad_token_id", &config.pad_token_id);
  std::string act = config.architecture == Architecture::kGptNeox ? "gelu" : "silu";
  reader.String("hidden_act", &act);
  if (absl::Status status = reader.status(); !status.ok()) return status;
  absl::StatusOr<Activation> activation = ParseActivation(act);
  if (!activation.ok()) return activation.status();
  config.hidden_act = *activation;
  if (absl::Status status = ValidateDecoderConfig(config); !status.ok()) {
    return status;
  }
  return config;
}

absl::StatusOr<DecoderConfig> LoadDecoderConfig(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::NotFoundError(absl::StrCat("cannot read model config ", path));
  }
  std::stringstream text;
  text << file.rdbuf();
  absl::StatusOr<DecoderConfig> config = ParseDecoderConfig(text.str());
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

}  // namespace ccs::model::transformer
