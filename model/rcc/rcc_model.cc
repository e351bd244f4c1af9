#include "model/rcc/rcc_model.h"

#include <torch/torch.h>

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/transformer/internal/torch_errors.h"

namespace ccs::model::rcc {
namespace {

using transformer::Decoder;
using transformer::DecoderConfig;
using transformer::DecoderInput;
using transformer::DecoderOutput;
using transformer::KvCache;
using transformer::LogitsMode;
using transformer::WeightMap;

// Which encoder states feed decoder layer i (see the header).
absl::StatusOr<std::vector<std::vector<int64_t>>> LayerSources(int64_t encoder_layers,
                                                               int64_t decoder_layers) {
  std::vector<std::vector<int64_t>> sources(decoder_layers);
  if (encoder_layers % decoder_layers == 0) {
    const int64_t k = encoder_layers / decoder_layers;  // average k states
    for (int64_t i = 0; i < decoder_layers; ++i) {
      for (int64_t j = 1; j <= k; ++j) sources[i].push_back(k * i + j);
    }
  } else if (decoder_layers % encoder_layers == 0) {
    const int64_t k = decoder_layers / encoder_layers;  // each state k times
    for (int64_t i = 0; i < decoder_layers; ++i) sources[i].push_back(i / k + 1);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "RCC: the encoder has ", encoder_layers, " layers and the decoder ", decoder_layers,
        "; one must be a multiple of the other (the paper averages or duplicates layers)"));
  }
  return sources;
}

// The token embedding's Hugging Face name.
std::string EmbeddingName(const DecoderConfig& c) {
  return c.architecture == transformer::Architecture::kGptNeox ? "gpt_neox.embed_in.weight"
                                                                : "model.embed_tokens.weight";
}

// The encoder's config: the decoder's, encoder_config's, or for an encoder
// with layers of its own over the decoder's embedding the decoder's at that
// depth (with no head of its own).
DecoderConfig EncoderConfig(const RccConfig& config, const DecoderConfig& encoder_config,
                            const DecoderConfig& decoder) {
  if (config.encoder_shares_decoder_weights) return decoder;
  if (!config.encoder_shares_decoder_embedding) return encoder_config;
  DecoderConfig own = decoder;
  own.num_hidden_layers = config.encoder_layers;
  own.tie_word_embeddings = true;
  return own;
}

// Moves `name` out of `weights`, checking its shape; records a problem
// instead when it is missing or mis-shaped.
torch::Tensor TakeProjection(WeightMap* weights, const std::string& name,
                             const std::vector<int64_t>& shape,
                             std::vector<std::string>* problems) {
  auto it = weights->find(name);
  if (it == weights->end()) {
    problems->push_back(absl::StrCat(name, " is missing"));
    return torch::Tensor();
  }
  torch::Tensor t = std::move(it->second);
  weights->erase(it);
  if (t.sizes() != c10::IntArrayRef(shape)) {
    problems->push_back(absl::StrCat(name, " is [", absl::StrJoin(t.sizes(), ", "),
                                     "], expected [", absl::StrJoin(shape, ", "), "]"));
  }
  return t;
}

}  // namespace

WeightMap TakeRccWeights(WeightMap* all, const std::string& base) {
  WeightMap rcc;
  for (auto it = all->begin(); it != all->end();) {
    const std::string& name = it->first;
    if (name.rfind(base + "rcc_encoder.", 0) == 0 ||
        name.rfind(base + "rcc_encoder2gpt_", 0) == 0) {
      rcc[name] = std::move(it->second);
      it = all->erase(it);
    } else {
      ++it;
    }
  }
  all->erase("gpt_neox.embed_out.weight");
  return rcc;
}

std::string RccBasePrefix(const RccConfig& config, const DecoderConfig& decoder) {
  if (!config.base_prefix.empty()) return config.base_prefix;
  return decoder.architecture == transformer::Architecture::kGptNeox ? "gpt_neox." : "model.";
}

absl::StatusOr<std::unique_ptr<RccModel>> RccModel::Create(
    const RccConfig& config, const DecoderConfig& encoder_config, WeightMap* weights,
    std::shared_ptr<const Decoder> decoder, const RccOptions& options) {
  if (absl::Status s = ValidateRccConfig(config); !s.ok()) return s;
  if (decoder == nullptr) return absl::InvalidArgumentError("RCC: no decoder");
  if (options.max_batch_segments < 1) {
    return absl::InvalidArgumentError("RCC: max_batch_segments must be at least 1");
  }
  const DecoderConfig& dc = decoder->config();
  const bool shared = config.encoder_shares_decoder_weights;
  const DecoderConfig ec = EncoderConfig(config, encoder_config, dc);
  absl::StatusOr<std::vector<std::vector<int64_t>>> sources =
      LayerSources(ec.num_hidden_layers, dc.num_hidden_layers);
  if (!sources.ok()) return sources.status();
  const std::string base = RccBasePrefix(config, dc);
  return transformer::internal::GuardTorch(
      "RccModel::Create", [&]() -> absl::StatusOr<std::unique_ptr<RccModel>> {
        WeightMap encoder_weights =
            transformer::TakeWeightsWithPrefix(weights, base + "rcc_encoder.");
        if (shared && !encoder_weights.empty()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "RCC: the config says encoder_shares_decoder_weights, yet the checkpoint holds ",
              encoder_weights.size(), " ", base, "rcc_encoder.* tensors (e.g. ", base,
              "rcc_encoder.", encoder_weights.begin()->first,
              "); remove them or the config key"));
        }
        if (config.encoder_shares_decoder_embedding) {
          const std::string embedding = EmbeddingName(dc);
          if (encoder_weights.count(embedding) != 0) {
            return absl::InvalidArgumentError(absl::StrCat(
                "RCC: the config says encoder_shares_decoder_embedding, yet the checkpoint "
                "holds ", base, "rcc_encoder.", embedding, "; remove it or the config key"));
          }
          encoder_weights[embedding] = decoder->embedding_table();
        }
        std::vector<std::string> problems;
        const std::vector<int64_t> shape = {dc.hidden_size, ec.hidden_size};
        torch::Tensor embed_proj =
            TakeProjection(weights, base + "rcc_encoder2gpt_embed.weight", shape, &problems);
        std::vector<torch::Tensor> layer_proj;
        for (int64_t i = 0; i < dc.num_hidden_layers; ++i) {
          layer_proj.push_back(TakeProjection(
              weights, absl::StrCat(base, "rcc_encoder2gpt_A_matrix.", i, ".weight"), shape,
              &problems));
        }
        if (!problems.empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat("RCC projections: ", absl::StrJoin(problems, "; ")));
        }
        std::shared_ptr<const Decoder> encoder = decoder;
        if (!shared) {
          transformer::DecoderOptions encoder_options = decoder->options();
          if (options.unfused_encoder) encoder_options.fuse_projections = false;
          absl::StatusOr<std::unique_ptr<Decoder>> own =
              Decoder::Create(ec, std::move(encoder_weights), encoder_options);
          if (!own.ok()) {
            return absl::Status(own.status().code(),
                                absl::StrCat("RCC encoder (", base, "rcc_encoder.*): ",
                                             own.status().message()));
          }
          encoder = *std::move(own);
        }
        const auto to = [&](const torch::Tensor& t) {
          return t.to(decoder->options().device, decoder->options().dtype);
        };
        embed_proj = to(embed_proj);
        for (torch::Tensor& t : layer_proj) t = to(t);
        return std::unique_ptr<RccModel>(new RccModel(
            config, options, std::move(encoder), std::move(decoder), std::move(embed_proj),
            std::move(layer_proj), *std::move(sources)));
      });
}

RccModel::RccModel(RccConfig config, RccOptions options, std::shared_ptr<const Decoder> encoder,
                   std::shared_ptr<const Decoder> decoder, torch::Tensor embed_proj,
                   std::vector<torch::Tensor> layer_proj,
                   std::vector<std::vector<int64_t>> sources)
    : config_(std::move(config)),
      options_(options),
      encoder_(std::move(encoder)),
      decoder_(std::move(decoder)),
      embed_proj_(std::move(embed_proj)),
      layer_proj_(std::move(layer_proj)),
      sources_(std::move(sources)),
      storage_dtype_(config_.storage_dtype == "float32" ? torch::kFloat32 : torch::kBFloat16) {}

absl::StatusOr<std::vector<torch::Tensor>> RccModel::Compress(
    const std::vector<std::vector<int64_t>>& contexts) const {
  return CompressImpl(contexts, /*inference=*/true);
}

absl::StatusOr<std::vector<torch::Tensor>> RccModel::TrainingCompress(
    const std::vector<std::vector<int64_t>>& contexts) const {
  return CompressImpl(contexts, /*inference=*/false);
}

absl::StatusOr<std::vector<torch::Tensor>> RccModel::CompressImpl(
    const std::vector<std::vector<int64_t>>& contexts, bool inference) const {
  struct Job {
    size_t context;
    RccSegment segment;
  };
  std::vector<Job> jobs;
  for (size_t c = 0; c < contexts.size(); ++c) {
    if (contexts[c].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("RCC: context ", c, " is empty"));
    }
    for (RccSegment& s : PlanSegments(static_cast<int64_t>(contexts[c].size()), config_)) {
      jobs.push_back({c, std::move(s)});
    }
  }
  return transformer::internal::GuardTorch(
      "RccModel::Compress", [&]() -> absl::StatusOr<std::vector<torch::Tensor>> {
        std::optional<torch::InferenceMode> guard;
        if (inference) guard.emplace();
        std::vector<std::vector<torch::Tensor>> parts(contexts.size());
        const torch::Device device = encoder_->options().device;
        for (size_t first = 0; first < jobs.size(); first += options_.max_batch_segments) {
          const size_t last = std::min(jobs.size(), first + options_.max_batch_segments);
          const int64_t B = static_cast<int64_t>(last - first);
          int64_t T = 0;
          for (size_t j = first; j < last; ++j) T = std::max(T, jobs[j].segment.length);
          // Right-padded: a segment's real tokens come first, so its causal
          // states do not depend on the padding after it.
          torch::Tensor ids = torch::zeros({B, T}, torch::kLong);    // [B, T]
          torch::Tensor mask = torch::zeros({B, T}, torch::kBool);   // [B, T]
          for (int64_t b = 0; b < B; ++b) {
            const Job& job = jobs[first + b];
            const std::vector<int64_t>& ctx = contexts[job.context];
            ids[b].narrow(0, 0, job.segment.length)
                .copy_(torch::tensor(std::vector<int64_t>(
                                         ctx.begin() + job.segment.start,
                                         ctx.begin() + job.segment.start + job.segment.length),
                                     torch::kLong));
            mask[b].narrow(0, 0, job.segment.length).fill_(true);
          }
          DecoderInput input;
          input.input_ids = ids.to(device);
          input.attention_mask = mask.to(device);
          input.output_hidden_states = true;
          input.logits = LogitsMode::kNone;
          absl::StatusOr<DecoderOutput> out = encoder_->Forward(input);
          if (!out.ok()) return out.status();
          for (int64_t b = 0; b < B; ++b) {
            const Job& job = jobs[first + b];
            torch::Tensor positions =
                torch::tensor(job.segment.slot_positions, torch::kLong).to(device);  // [n]
            std::vector<torch::Tensor> states;  // Le+1 x [n, De]
            for (const torch::Tensor& h : out->hidden_states) {
              states.push_back(h[b].index_select(0, positions));
            }
            parts[job.context].push_back(
                torch::stack(states, 1).to(torch::kCPU, storage_dtype_));  // [n, Le+1, De]
          }
        }
        std::vector<torch::Tensor> memories;
        for (std::vector<torch::Tensor>& p : parts) {
          memories.push_back(torch::cat(p, 0).contiguous());  // [P, Le+1, De]
        }
        return memories;
      });
}

absl::StatusOr<torch::Tensor> RccModel::PrepareMemory(const torch::Tensor& memory,
                                                      bool batched) const {
  const int64_t states = encoder_->config().num_hidden_layers + 1;
  const int64_t lead = batched ? 1 : 0;  // memory dims before P
  if (!memory.defined() || memory.dim() != 3 + lead || memory.size(lead) < 1 ||
      (batched && memory.size(0) < 1) || memory.size(lead + 1) != states ||
      memory.size(lead + 2) != encoder_->config().hidden_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RCC memory must be [", batched ? "B >= 1, " : "", "P >= 1, ", states, ", ",
        encoder_->config().hidden_size, "], not ",
        memory.defined() ? absl::StrCat("[", absl::StrJoin(memory.sizes(), ", "), "]")
                         : "undefined"));
  }
  return memory.to(decoder_->options().device, decoder_->options().dtype);
}

torch::Tensor RccModel::EmbedInjection(const torch::Tensor& memory) const {
  return torch::linear(memory.select(-2, 0), embed_proj_);  // [..., P, Dd]
}

torch::Tensor RccModel::LayerInjection(const torch::Tensor& memory, int layer) const {
  const std::vector<int64_t>& from = sources_[layer];
  torch::Tensor state = memory.select(-2, from[0]);  // [..., P, De]
  if (from.size() > 1) {
    state = memory.narrow(-2, from.front(), static_cast<int64_t>(from.size())).mean(-2);
  }
  return torch::linear(state, layer_proj_[layer]);  // [..., P, Dd]
}

absl::StatusOr<std::shared_ptr<const KvCache>> RccModel::BuildPrefix(
    const torch::Tensor& memory) const {
  return transformer::internal::GuardTorch(
      "RccModel::BuildPrefix", [&]() -> absl::StatusOr<std::shared_ptr<const KvCache>> {
        torch::InferenceMode guard;
        absl::StatusOr<torch::Tensor> mem = PrepareMemory(memory);  // [P, Le+1, De]
        if (!mem.ok()) return mem.status();
        auto cache = std::make_shared<KvCache>();
        DecoderInput input;
        input.inputs_embeds = EmbedInjection(*mem).unsqueeze(0);  // [1, P, Dd]
        input.layer_hook = [&](int layer, const torch::Tensor& x) {   // x [1, P, Dd]
          return x + LayerInjection(*mem, layer).unsqueeze(0);
        };
        input.cache = cache.get();
        input.logits = LogitsMode::kNone;
        absl::StatusOr<DecoderOutput> out = decoder_->Forward(input);
        if (!out.ok()) return out.status();
        return std::shared_ptr<const KvCache>(std::move(cache));
      });
}

absl::StatusOr<torch::Tensor> RccModel::InjectedLogits(const torch::Tensor& memory,
                                                       const std::vector<int64_t>& prompt) const {
  return transformer::internal::GuardTorch(
      "RccModel::InjectedLogits", [&]() -> absl::StatusOr<torch::Tensor> {
        torch::InferenceMode guard;
        absl::StatusOr<torch::Tensor> mem = PrepareMemory(memory);  // [P, Le+1, De]
        if (!mem.ok()) return mem.status();
        const int64_t P = mem->size(0);
        std::vector<int64_t> ids(P, config_.placeholder_token_id);
        ids.insert(ids.end(), prompt.begin(), prompt.end());
        absl::StatusOr<torch::Tensor> embeds =
            decoder_->Embed(torch::tensor(ids, torch::kLong).unsqueeze(0));  // [1, P+T, Dd]
        if (!embeds.ok()) return embeds.status();
        torch::Tensor x = embeds->clone();
        x.narrow(1, 0, P).copy_(EmbedInjection(*mem).unsqueeze(0));
        DecoderInput input;
        input.inputs_embeds = x;
        input.layer_hook = [&](int layer, const torch::Tensor& h) {  // h [1, P+T, Dd]
          torch::Tensor out = h.clone();
          out.narrow(1, 0, P).add_(LayerInjection(*mem, layer).unsqueeze(0));
          return out;
        };
        input.logits = LogitsMode::kAll;
        absl::StatusOr<DecoderOutput> out = decoder_->Forward(input);
        if (!out.ok()) return out.status();
        return out->logits;  // [1, P+T, V]
      });
}

absl::StatusOr<std::unique_ptr<RccModel>> RccModel::Initialize(
    const RccConfig& config, std::shared_ptr<const Decoder> decoder, uint64_t seed,
    double layer_projection_std, const RccOptions& options) {
  if (!config.encoder_shares_decoder_weights && !config.encoder_shares_decoder_embedding) {
    return absl::InvalidArgumentError(
        "RccModel::Initialize makes an RCC whose encoder is the decoder or its first layers: "
        "set encoder_shares_decoder_weights or encoder_shares_decoder_embedding in the config");
  }
  if (decoder == nullptr) return absl::InvalidArgumentError("RCC: no decoder");
  if (!(layer_projection_std >= 0)) {
    return absl::InvalidArgumentError("RCC: layer_projection_std must be >= 0");
  }
  return transformer::internal::GuardTorch(
      "RccModel::Initialize", [&]() -> absl::StatusOr<std::unique_ptr<RccModel>> {
        torch::NoGradGuard no_grad;
        at::Generator gen = at::detail::createCPUGenerator(seed);
        const DecoderConfig& dc = decoder->config();
        const int64_t D = dc.hidden_size;  // the encoder's width is the decoder's
        const std::string base = RccBasePrefix(config, dc);
        WeightMap weights;
        weights[base + "rcc_encoder2gpt_embed.weight"] = torch::eye(D, torch::kFloat);
        for (int64_t i = 0; i < dc.num_hidden_layers; ++i) {
          weights[absl::StrCat(base, "rcc_encoder2gpt_A_matrix.", i, ".weight")] =
              layer_projection_std > 0
                  ? layer_projection_std * at::randn({D, D}, gen, torch::kFloat)
                  : torch::zeros({D, D}, torch::kFloat);
        }
        if (config.encoder_shares_decoder_embedding) {
          if (config.encoder_layers > dc.num_hidden_layers) {
            return absl::InvalidArgumentError(absl::StrCat(
                "RCC: encoder_layers is ", config.encoder_layers, ", but the decoder has only ",
                dc.num_hidden_layers, " layers to copy"));
          }
          const DecoderConfig ec = EncoderConfig(config, dc, dc);
          for (const transformer::WeightSpec& spec : transformer::ExpectedWeights(ec)) {
            if (spec.name == EmbeddingName(dc)) continue;  // read from the decoder
            auto it = decoder->weights().find(spec.name);
            if (it == decoder->weights().end()) {
              return absl::InternalError(absl::StrCat("RCC: the decoder has no ", spec.name));
            }
            weights[base + "rcc_encoder." + spec.name] = it->second.to(torch::kFloat).clone();
          }
        }
        return Create(config, dc, &weights, std::move(decoder), options);
      });
}

std::vector<std::pair<std::string, torch::Tensor>> RccModel::Parameters() const {
  const std::string base = RccBasePrefix(config_, decoder_->config());
  std::vector<std::pair<std::string, torch::Tensor>> named;
  named.emplace_back(base + "rcc_encoder2gpt_embed.weight", embed_proj_);
  for (size_t i = 0; i < layer_proj_.size(); ++i) {
    named.emplace_back(absl::StrCat(base, "rcc_encoder2gpt_A_matrix.", i, ".weight"),
                       layer_proj_[i]);
  }
  if (!config_.encoder_shares_decoder_weights) {
    const std::map<std::string, torch::Tensor> sorted(encoder_->weights().begin(),
                                                      encoder_->weights().end());
    const std::string shared_embedding =
        config_.encoder_shares_decoder_embedding ? EmbeddingName(decoder_->config()) : "";
    for (const auto& [name, tensor] : sorted) {
      if (name != shared_embedding) named.emplace_back(base + "rcc_encoder." + name, tensor);
    }
  }
  return named;
}

absl::StatusOr<torch::Tensor> RccModel::BatchLogits(const torch::Tensor& memory,
                                                    const torch::Tensor& ids) const {
  return transformer::internal::GuardTorch(
      "RccModel::BatchLogits", [&]() -> absl::StatusOr<torch::Tensor> {
        absl::StatusOr<torch::Tensor> prepared = PrepareMemory(memory, /*batched=*/true);
        if (!prepared.ok()) return prepared.status();
        // Compress makes inference tensors, which autograd cannot save for
        // the projections' backward: take a plain copy.
        const torch::Tensor mem = prepared->is_inference() ? prepared->clone() : *prepared;
        const int64_t B = mem.size(0), P = mem.size(1);  // mem [B, P, Le+1, De]
        if (!ids.defined() || ids.dim() != 2 || ids.size(0) != B ||
            torch::isFloatingType(ids.scalar_type())) {
          return absl::InvalidArgumentError(absl::StrCat(
              "RCC: ids must be integer [", B, ", T], not ",
              ids.defined() ? absl::StrCat("[", absl::StrJoin(ids.sizes(), ", "), "]")
                            : "undefined"));
        }
        const int64_t T = ids.size(1);
        torch::Tensor x = EmbedInjection(mem);  // [B, P, Dd]
        if (T > 0) {
          absl::StatusOr<torch::Tensor> words =
              decoder_->Embed(ids.to(decoder_->options().device, torch::kLong));  // [B, T, Dd]
          if (!words.ok()) return words.status();
          x = torch::cat({x, *words}, 1);  // [B, P+T, Dd]
        }
        DecoderInput input;
        input.inputs_embeds = x;
        input.layer_hook = [&](int layer, const torch::Tensor& h) {  // h [B, P+T, Dd]
          torch::Tensor slots = h.narrow(1, 0, P) + LayerInjection(mem, layer);
          return T > 0 ? torch::cat({slots, h.narrow(1, P, T)}, 1) : slots;
        };
        input.logits = LogitsMode::kAll;
        absl::StatusOr<DecoderOutput> out = decoder_->Forward(input);
        if (!out.ok()) return out.status();
        return out->logits;  // [B, P+T, V]
      });
}

}  // namespace ccs::model::rcc
