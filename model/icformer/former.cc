// The IC-Former architecture in one file; see former.h for the equations
// and the shape legend (B chunks in one pass, M the longest of them).
#include "model/icformer/former.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/transformer/internal/torch_errors.h"
#include "model/transformer/ops.h"
#include "model/weights/weights.h"

namespace ccs::model::icformer {
namespace {

using transformer::Decoder;
using transformer::WeightMap;
using transformer::internal::GuardTorch;

std::string LayerName(int64_t i, const char* rest) {
  return absl::StrCat("encoder.layers.", i, ".", rest);
}

std::string ShapeOf(const torch::Tensor& t) {
  return t.defined() ? absl::StrCat("[", absl::StrJoin(t.sizes(), ", "), "]") : "undefined";
}

// Records a problem unless `t` is a floating tensor of `shape` (or, when
// optional, undefined).
void CheckParam(const char* name, const torch::Tensor& t, const std::vector<int64_t>& shape,
                bool optional, std::vector<std::string>* problems) {
  if (!t.defined()) {
    if (!optional) problems->push_back(absl::StrCat("param.pt ", name, " is missing"));
    return;
  }
  if (t.sizes() != c10::IntArrayRef(shape) || !t.is_floating_point()) {
    problems->push_back(absl::StrCat("param.pt ", name, " is ", ShapeOf(t), " ",
                                     c10::toString(t.scalar_type()), ", expected floating [",
                                     absl::StrJoin(shape, ", "), "]"));
  }
}

// Every problem with the checkpoint, for one INVALID_ARGUMENT.
std::vector<std::string> CheckpointProblems(const IcFormerConfig& config, const WeightMap& weights,
                                            const IcFormerParams& params, const Decoder& decoder) {
  std::vector<std::string> problems;
  const int64_t C = config.hidden_size, k = config.num_query_tokens;
  if (decoder.config().hidden_size != C) {
    problems.push_back(absl::StrCat("the former's hidden_size ", C, " differs from the decoder's ",
                                    decoder.config().hidden_size,
                                    " (digests are the decoder's input embeddings)"));
  }
  CheckOptions check;
  check.ignorable_suffixes = {".rotary_emb.inv_freq"};  // a buffer, not a weight
  if (absl::Status s = CheckWeights(weights, ExpectedIcFormerWeights(config), check); !s.ok()) {
    problems.push_back(std::string(s.message()));
  }
  CheckParam("digest_embeddings", params.digest_embeddings, {1, k, C}, false, &problems);
  CheckParam("AE", params.ae, {1, 1, C}, false, &problems);
  CheckParam("FT", params.ft, {1, 1, C}, true, &problems);
  return problems;
}

// Overwrites each former layer's tensors in `weights` with float copies of
// the decoder's layer of the same index (InitOptions::layers_from_decoder).
absl::Status CopyDecoderLayers(const IcFormerConfig& config, const Decoder& decoder,
                               WeightMap* weights) {
  const transformer::DecoderConfig& d = decoder.config();
  if (d.rope_theta != config.rope_theta) {
    return absl::InvalidArgumentError(absl::StrCat(
        "IC-Former: layers_from_decoder needs the decoder's rope_theta ", d.rope_theta,
        " in the former's config, not ", config.rope_theta));
  }
  // former name -> decoder name, within a layer
  const std::pair<const char*, const char*> sources[] = {
      {"cross_attn.q_proj.weight", "self_attn.q_proj.weight"},
      {"cross_attn.k_proj.weight", "self_attn.k_proj.weight"},
      {"cross_attn.v_proj.weight", "self_attn.v_proj.weight"},
      {"cross_attn.o_proj.weight", "self_attn.o_proj.weight"},
      {"cross_input_layernorm.weight", "input_layernorm.weight"},
      {"context_layernorm.weight", "input_layernorm.weight"},
      {"post_attention_layernorm.weight", "post_attention_layernorm.weight"},
      {"mlp.gate_proj.weight", "mlp.gate_proj.weight"},
      {"mlp.up_proj.weight", "mlp.up_proj.weight"},
      {"mlp.down_proj.weight", "mlp.down_proj.weight"},
  };
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    for (const auto& [mine, theirs] : sources) {
      const std::string from = absl::StrCat("model.layers.", i, ".", theirs);
      torch::Tensor& to = (*weights)[LayerName(i, mine)];
      const auto it = decoder.weights().find(from);
      if (it == decoder.weights().end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "IC-Former: layers_from_decoder needs a Llama decoder with at least ",
            config.num_hidden_layers, " layers; it has no ", from));
      }
      if (it->second.sizes() != to.sizes()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "IC-Former: layers_from_decoder: the decoder's ", from, " is ", ShapeOf(it->second),
            ", the former's ", LayerName(i, mine), " ", ShapeOf(to)));
      }
      to = it->second.to(torch::kCPU, torch::kFloat).clone();
    }
  }
  return absl::OkStatus();
}

// One chunk of one context, as Compress schedules it.
struct ChunkJob {
  size_t context;  // index into the contexts
  size_t chunk;    // index within its context
  IcFormerChunk span;
};

// Checks the contexts and lists all their chunks, longest first (so that a
// pass holds chunks of similar lengths).
absl::StatusOr<std::vector<ChunkJob>> PlanJobs(const std::vector<std::vector<int64_t>>& contexts,
                                               const IcFormerConfig& config, int64_t vocab_size) {
  std::vector<ChunkJob> jobs;
  for (size_t c = 0; c < contexts.size(); ++c) {
    if (contexts[c].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("IC-Former: context ", c, " is empty"));
    }
    for (int64_t id : contexts[c]) {
      if (id < 0 || id >= vocab_size) {
        return absl::InvalidArgumentError(absl::StrCat("IC-Former: context ", c, " has token id ",
                                                       id, " outside the vocabulary [0, ",
                                                       vocab_size, ")"));
      }
    }
    const std::vector<IcFormerChunk> plan =
        PlanChunks(static_cast<int64_t>(contexts[c].size()), config);
    for (size_t i = 0; i < plan.size(); ++i) jobs.push_back({c, i, plan[i]});
  }
  std::stable_sort(jobs.begin(), jobs.end(), [](const ChunkJob& a, const ChunkJob& b) {
    return a.span.length > b.span.length;
  });
  return jobs;
}

// The token ids of B jobs (longest first) right-padded with id 0: [B, M],
// M = jobs[0]'s length; *lengths gets each job's.
torch::Tensor ChunkIds(const std::vector<std::vector<int64_t>>& contexts, const ChunkJob* jobs,
                       int64_t B, std::vector<int64_t>* lengths) {
  const int64_t M = jobs[0].span.length;
  std::vector<int64_t> ids(B * M, 0);
  lengths->resize(B);
  for (int64_t b = 0; b < B; ++b) {
    const IcFormerChunk& span = jobs[b].span;
    std::copy_n(contexts[jobs[b].context].begin() + span.start, span.length, ids.begin() + b * M);
    (*lengths)[b] = span.length;
  }
  return torch::tensor(ids, torch::kLong).view({B, M});  // [B, M]
}

}  // namespace

std::map<std::string, std::vector<int64_t>> ExpectedIcFormerWeights(const IcFormerConfig& c) {
  const int64_t C = c.hidden_size, I = c.intermediate_size;
  const int64_t q_width = c.num_attention_heads * c.head_dim;
  const int64_t kv_width = c.num_key_value_heads * c.head_dim;
  std::map<std::string, std::vector<int64_t>> expected;
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    expected[LayerName(i, "cross_attn.q_proj.weight")] = {q_width, C};
    expected[LayerName(i, "cross_attn.k_proj.weight")] = {kv_width, c.context_hidden_size};
    expected[LayerName(i, "cross_attn.v_proj.weight")] = {kv_width, c.context_hidden_size};
    expected[LayerName(i, "cross_attn.o_proj.weight")] = {C, q_width};
    expected[LayerName(i, "cross_input_layernorm.weight")] = {C};
    expected[LayerName(i, "context_layernorm.weight")] = {C};
    expected[LayerName(i, "post_attention_layernorm.weight")] = {C};
    expected[LayerName(i, "mlp.gate_proj.weight")] = {I, C};
    expected[LayerName(i, "mlp.up_proj.weight")] = {I, C};
    expected[LayerName(i, "mlp.down_proj.weight")] = {C, I};
  }
  expected["encoder.norm.weight"] = {C};
  return expected;
}

absl::StatusOr<std::unique_ptr<IcFormer>> IcFormer::Create(
    const IcFormerConfig& config, WeightMap weights, IcFormerParams params,
    std::shared_ptr<const Decoder> decoder, const IcFormerOptions& options) {
  if (absl::Status s = ValidateIcFormerConfig(config); !s.ok()) return s;
  if (decoder == nullptr) return absl::InvalidArgumentError("IC-Former: no decoder");
  if (options.max_batch_chunks < 1) {
    return absl::InvalidArgumentError("IC-Former: max_batch_chunks must be at least 1");
  }
  return GuardTorch("IcFormer::Create", [&]() -> absl::StatusOr<std::unique_ptr<IcFormer>> {
    const std::vector<std::string> problems =
        CheckpointProblems(config, weights, params, *decoder);
    if (!problems.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("IC-Former checkpoint: ", absl::StrJoin(problems, "; ")));
    }
    const torch::Device device = decoder->options().device;
    const torch::ScalarType dtype = decoder->options().dtype;
    // Pickled nn.Parameters require grad: detach before converting.
    const auto take = [&](const std::string& name) {
      return weights.at(name).detach().to(device, dtype).contiguous();
    };
    std::vector<Layer> layers;
    for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
      Layer layer;
      layer.q_proj = take(LayerName(i, "cross_attn.q_proj.weight"));
      layer.k_proj = take(LayerName(i, "cross_attn.k_proj.weight"));
      layer.v_proj = take(LayerName(i, "cross_attn.v_proj.weight"));
      layer.o_proj = take(LayerName(i, "cross_attn.o_proj.weight"));
      layer.cross_input_norm = take(LayerName(i, "cross_input_layernorm.weight"));
      layer.context_norm = take(LayerName(i, "context_layernorm.weight"));
      layer.post_attention_norm = take(LayerName(i, "post_attention_layernorm.weight"));
      layer.gate_proj = take(LayerName(i, "mlp.gate_proj.weight"));
      layer.up_proj = take(LayerName(i, "mlp.up_proj.weight"));
      layer.down_proj = take(LayerName(i, "mlp.down_proj.weight"));
      layers.push_back(std::move(layer));
    }
    torch::Tensor final_norm = take("encoder.norm.weight");
    for (torch::Tensor* t : {&params.digest_embeddings, &params.ae, &params.ft}) {
      if (t->defined()) *t = t->detach().to(device, dtype).contiguous();
    }
    return std::unique_ptr<IcFormer>(new IcFormer(config, options, std::move(layers),
                                                  std::move(final_norm), std::move(params),
                                                  std::move(decoder)));
  });
}

IcFormer::IcFormer(IcFormerConfig config, IcFormerOptions options, std::vector<Layer> layers,
                   torch::Tensor final_norm, IcFormerParams params,
                   std::shared_ptr<const Decoder> decoder)
    : config_(std::move(config)),
      options_(options),
      layers_(std::move(layers)),
      final_norm_(std::move(final_norm)),
      params_(std::move(params)),
      decoder_(std::move(decoder)),
      inv_freq_(transformer::RopeInverseFrequencies(config_.rope_theta, config_.head_dim,
                                                    decoder_->options().device)) {}

absl::StatusOr<std::unique_ptr<IcFormer>> IcFormer::Initialize(
    const IcFormerConfig& config, std::shared_ptr<const Decoder> decoder, const InitOptions& init,
    const IcFormerOptions& options) {
  if (absl::Status s = ValidateIcFormerConfig(config); !s.ok()) return s;
  if (decoder == nullptr) return absl::InvalidArgumentError("IC-Former: no decoder");
  return GuardTorch("IcFormer::Initialize", [&]() -> absl::StatusOr<std::unique_ptr<IcFormer>> {
    torch::NoGradGuard no_grad;
    at::Generator gen = at::detail::createCPUGenerator(init.seed);
    // The word embeddings' scale (their root mean square): the digests are
    // decoder inputs among word embeddings, and the final norm sets theirs.
    const double scale =
        decoder->embedding_table().to(torch::kFloat).pow(2).mean().sqrt().item<double>();
    WeightMap weights;
    for (const auto& [name, shape] : ExpectedIcFormerWeights(config)) {  // sorted by name
      if (name == "encoder.norm.weight") {
        weights[name] = torch::full(shape, scale, torch::kFloat);
      } else {
        weights[name] = shape.size() == 1 ? torch::ones(shape, torch::kFloat)
                                          : 0.02 * at::randn(shape, gen, torch::kFloat);
      }
    }
    if (init.layers_from_decoder) {
      if (absl::Status s = CopyDecoderLayers(config, *decoder, &weights); !s.ok()) return s;
    }
    const int64_t k = config.num_query_tokens, C = config.hidden_size;
    IcFormerParams params;
    params.digest_embeddings = scale * at::randn({1, k, C}, gen, torch::kFloat);
    params.ae = scale * at::randn({1, 1, C}, gen, torch::kFloat);
    if (init.with_ft) params.ft = scale * at::randn({1, 1, C}, gen, torch::kFloat);
    return Create(config, std::move(weights), std::move(params), std::move(decoder), options);
  });
}

std::vector<std::pair<std::string, torch::Tensor>> IcFormer::Parameters() const {
  std::vector<std::pair<std::string, torch::Tensor>> named;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& w = layers_[i];
    const std::pair<const char*, const torch::Tensor*> parts[] = {
        {"cross_attn.q_proj.weight", &w.q_proj},
        {"cross_attn.k_proj.weight", &w.k_proj},
        {"cross_attn.v_proj.weight", &w.v_proj},
        {"cross_attn.o_proj.weight", &w.o_proj},
        {"cross_input_layernorm.weight", &w.cross_input_norm},
        {"context_layernorm.weight", &w.context_norm},
        {"post_attention_layernorm.weight", &w.post_attention_norm},
        {"mlp.gate_proj.weight", &w.gate_proj},
        {"mlp.up_proj.weight", &w.up_proj},
        {"mlp.down_proj.weight", &w.down_proj},
    };
    for (const auto& [name, tensor] : parts) named.emplace_back(LayerName(i, name), *tensor);
  }
  named.emplace_back("encoder.norm.weight", final_norm_);
  named.emplace_back("digest_embeddings", params_.digest_embeddings);
  named.emplace_back("AE", params_.ae);
  if (params_.ft.defined()) named.emplace_back("FT", params_.ft);
  return named;
}

absl::StatusOr<torch::Tensor> IcFormer::CompressChunks(const torch::Tensor& ids) const {
  const int64_t vocab = decoder_->config().vocab_size;
  if (!ids.defined() || ids.dim() != 2 || ids.size(0) < 1 || ids.size(1) < 1 ||
      ids.size(1) > config_.max_chunk_len || ids.is_floating_point()) {
    return absl::InvalidArgumentError(
        absl::StrCat("IC-Former: chunk ids must be integer [B, m] with B >= 1 and 1 <= m <= ",
                     config_.max_chunk_len, ", not ", ShapeOf(ids)));
  }
  return GuardTorch("IcFormer::CompressChunks", [&]() -> absl::StatusOr<torch::Tensor> {
    const torch::Tensor on_device = ids.to(decoder_->options().device, torch::kLong);
    if (on_device.min().item<int64_t>() < 0 || on_device.max().item<int64_t>() >= vocab) {
      return absl::InvalidArgumentError(
          absl::StrCat("IC-Former: chunk ids must lie in the vocabulary [0, ", vocab, ")"));
    }
    const int64_t B = ids.size(0), m = ids.size(1);
    const int64_t k = config_.num_query_tokens, C = config_.hidden_size;
    const torch::Tensor words = torch::embedding(decoder_->embedding_table(), on_device);
    // ctx: [the chunk's m tokens, the k digest embeddings]: [B, m + k, C]
    const torch::Tensor ctx = torch::cat({words, params_.digest_embeddings.expand({B, k, C})}, 1);
    return Forward(ctx, std::vector<int64_t>(B, m));  // [B, k, C]
  });
}

torch::Tensor IcFormer::CrossAttention(const Layer& w, const torch::Tensor& hq,
                                       const torch::Tensor& ctx_n, const Rope& rope,
                                       const torch::Tensor& mask) const {
  const int64_t B = hq.size(0), k = hq.size(1), S = ctx_n.size(1);
  const int64_t H = config_.num_attention_heads, KV = config_.num_key_value_heads;
  const int64_t D = config_.head_dim;
  torch::Tensor q = torch::linear(hq, w.q_proj).view({B, k, H, D}).transpose(1, 2);  // [B, H, k, D]
  torch::Tensor key = torch::linear(ctx_n, w.k_proj).view({B, S, KV, D}).transpose(1, 2);
  torch::Tensor value = torch::linear(ctx_n, w.v_proj).view({B, S, KV, D}).transpose(1, 2);
  // key, value [B, KV, S, D]
  q = transformer::ApplyRotary(q, rope.cos_q, rope.sin_q);        // [B, H, k, D]
  key = transformer::ApplyRotary(key, rope.cos_k, rope.sin_k);    // [B, KV, S, D]
  if (H != KV) {  // grouped-query attention: K/V head j serves query heads j*H/KV ..
    key = key.repeat_interleave(H / KV, 1);      // [B, H, S, D]
    value = value.repeat_interleave(H / KV, 1);  // [B, H, S, D]
  }
  torch::Tensor scores =
      torch::matmul(q, key.transpose(2, 3)) / std::sqrt(static_cast<double>(D)) + mask;
  // scores [B, H, k, S]; softmax in float32, then back (the released code's)
  torch::Tensor probs = torch::softmax(scores, -1, torch::kFloat).to(q.scalar_type());
  torch::Tensor out = torch::matmul(probs, value);              // [B, H, k, D]
  out = out.transpose(1, 2).reshape({B, k, H * D});             // [B, k, H*D]
  return torch::linear(out, w.o_proj);                          // [B, k, C]
}

torch::Tensor IcFormer::Mlp(const Layer& w, const torch::Tensor& x) const {
  torch::Tensor gate = transformer::Activate(config_.hidden_act, torch::linear(x, w.gate_proj));
  return torch::linear(gate * torch::linear(x, w.up_proj), w.down_proj);  // [B, k, C]
}

torch::Tensor IcFormer::Forward(const torch::Tensor& ctx,
                                const std::vector<int64_t>& lengths) const {
  const int64_t B = ctx.size(0), S = ctx.size(1), k = config_.num_query_tokens;
  const int64_t C = config_.hidden_size;
  const double eps = config_.rms_norm_eps;
  const torch::Device device = ctx.device();
  const torch::ScalarType dtype = ctx.scalar_type();
  const torch::Tensor m = torch::tensor(lengths, torch::kLong).to(device);      // [B]
  const torch::Tensor query_pos =
      m.unsqueeze(1) + torch::arange(k, torch::dtype(torch::kLong).device(device));  // [B, k]
  const torch::Tensor key_pos =
      torch::arange(S, torch::dtype(torch::kLong).device(device)).unsqueeze(0);    // [1, S]
  Rope rope;
  std::tie(rope.cos_q, rope.sin_q) = transformer::RopeTables(query_pos, inv_freq_, dtype);
  std::tie(rope.cos_k, rope.sin_k) = transformer::RopeTables(key_pos, inv_freq_, dtype);
  // Digest i (column m_b + i) sees columns j <= m_b + i: every context
  // token, itself and the digests before it; never the padding after them.
  const torch::Tensor allowed = key_pos.unsqueeze(1) <= query_pos.unsqueeze(2);  // [B, k, S]
  const torch::Tensor mask = transformer::AdditiveMask(allowed, dtype);         // [B, 1, k, S]
  torch::Tensor h = params_.digest_embeddings.expand({B, k, C});                // [B, k, C]
  for (const Layer& layer : layers_) {
    const torch::Tensor hq = transformer::RmsNorm(h, layer.cross_input_norm, eps);  // [B, k, C]
    const torch::Tensor ctx_n = transformer::RmsNorm(ctx, layer.context_norm, eps);  // [B, S, C]
    h = h + CrossAttention(layer, hq, ctx_n, rope, mask);                           // [B, k, C]
    h = h + Mlp(layer, transformer::RmsNorm(h, layer.post_attention_norm, eps));    // [B, k, C]
  }
  return transformer::RmsNorm(h, final_norm_, eps);  // [B, k, C]
}

absl::StatusOr<std::vector<torch::Tensor>> IcFormer::Compress(
    const std::vector<std::vector<int64_t>>& contexts) const {
  absl::StatusOr<std::vector<ChunkJob>> jobs =
      PlanJobs(contexts, config_, decoder_->config().vocab_size);
  if (!jobs.ok()) return jobs.status();
  return GuardTorch("IcFormer::Compress", [&]() -> absl::StatusOr<std::vector<torch::Tensor>> {
    torch::InferenceMode guard;
    const int64_t k = config_.num_query_tokens, C = config_.hidden_size;
    std::vector<std::vector<torch::Tensor>> parts(contexts.size());
    for (const ChunkJob& job : *jobs) {
      parts[job.context].resize(std::max(parts[job.context].size(), job.chunk + 1));
    }
    for (size_t first = 0; first < jobs->size(); first += options_.max_batch_chunks) {
      const size_t last = std::min(jobs->size(), first + options_.max_batch_chunks);
      const int64_t B = static_cast<int64_t>(last - first);
      std::vector<int64_t> lengths;
      const torch::Tensor ids =
          ChunkIds(contexts, &(*jobs)[first], B, &lengths).to(decoder_->options().device);
      const torch::Tensor words = torch::embedding(decoder_->embedding_table(), ids);  // [B, M, C]
      // ctx: [chunk b's m_b tokens, the k digest embeddings, padding].
      torch::Tensor ctx = torch::cat({words, torch::zeros({B, k, C}, words.options())}, 1);
      for (int64_t b = 0; b < B; ++b) {
        ctx[b].narrow(0, lengths[b], k).copy_(params_.digest_embeddings[0]);  // [k, C]
      }
      const torch::Tensor digests = Forward(ctx, lengths).to(torch::kCPU);  // [B, k, C]
      for (int64_t b = 0; b < B; ++b) {
        const ChunkJob& job = (*jobs)[first + b];
        parts[job.context][job.chunk] = digests[b];
      }
    }
    std::vector<torch::Tensor> out;
    for (const std::vector<torch::Tensor>& p : parts) {
      out.push_back(torch::cat(p, 0).contiguous());  // [chunks * k, C]
    }
    return out;
  });
}

absl::StatusOr<torch::Tensor> IcFormer::PrepareDigests(const torch::Tensor& digests) const {
  const int64_t k = config_.num_query_tokens, C = config_.hidden_size;
  if (!digests.defined() || digests.dim() != 2 || digests.size(0) < 1 ||
      digests.size(0) % k != 0 || digests.size(1) != C || !digests.is_floating_point()) {
    return absl::InvalidArgumentError(
        absl::StrCat("IC-Former digests must be floating [P, ", C, "] with P a positive multiple of ",
                     k, ", not ", ShapeOf(digests)));
  }
  return digests.to(decoder_->options().device, decoder_->options().dtype);
}

absl::StatusOr<torch::Tensor> IcFormer::Embed(const std::vector<int64_t>& ids) const {
  if (ids.empty()) {
    return torch::empty({0, config_.hidden_size}, decoder_->embedding_table().options());
  }
  absl::StatusOr<torch::Tensor> embeds =
      decoder_->Embed(torch::tensor(ids, torch::kLong).unsqueeze(0));  // [1, T, C]
  if (!embeds.ok()) return embeds.status();
  return embeds->squeeze(0);  // [T, C]
}

absl::StatusOr<torch::Tensor> IcFormer::ReconstructEmbeds(const torch::Tensor& digests) const {
  return GuardTorch("IcFormer::ReconstructEmbeds", [&]() -> absl::StatusOr<torch::Tensor> {
    torch::InferenceMode guard;
    absl::StatusOr<torch::Tensor> d = PrepareDigests(digests);  // [P, C]
    if (!d.ok()) return d.status();
    return torch::cat({*d, params_.ae[0]}, 0);  // [P + 1, C]
  });
}

absl::StatusOr<torch::Tensor> IcFormer::AnswerEmbeds(const torch::Tensor& digests,
                                                     const std::vector<int64_t>& prompt_ids,
                                                     const std::vector<int64_t>& prefix_ids,
                                                     const std::vector<int64_t>& suffix_ids) const {
  if (!can_answer()) {
    return absl::FailedPreconditionError(
        "IC-Former: this checkpoint has no FT embedding (its params lack \"FT\": it was not "
        "fine-tuned for answering); it can only reconstruct");
  }
  return GuardTorch("IcFormer::AnswerEmbeds", [&]() -> absl::StatusOr<torch::Tensor> {
    torch::InferenceMode guard;
    absl::StatusOr<torch::Tensor> d = PrepareDigests(digests);  // [P, C]
    if (!d.ok()) return d.status();
    absl::StatusOr<torch::Tensor> prefix = Embed(prefix_ids);   // [T1, C]
    if (!prefix.ok()) return prefix.status();
    absl::StatusOr<torch::Tensor> prompt = Embed(prompt_ids);   // [T2, C]
    if (!prompt.ok()) return prompt.status();
    absl::StatusOr<torch::Tensor> suffix = Embed(suffix_ids);   // [T3, C]
    if (!suffix.ok()) return suffix.status();
    return torch::cat({*prefix, *d, params_.ft[0], *prompt, *suffix}, 0);  // [T, C]
  });
}

}  // namespace ccs::model::icformer
