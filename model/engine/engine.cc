#include "model/engine/engine.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "model/icformer/checkpoint.h"
#include "model/icformer/former.h"
#include "model/memory_record.h"
#include "model/rcc/rcc_checkpoint.h"
#include "model/rcc/rcc_model.h"
#include "model/transformer/decode_batch.h"
#include "model/transformer/generate.h"
#include "model/transformer/internal/torch_errors.h"
#include "model/transformer/loader.h"
#include "model/utf8.h"
#include "model/weights/weights.h"

namespace ccs::model {
namespace {

using transformer::Decoder;
using transformer::DecoderInput;
using transformer::GenerationRequest;
using transformer::KvCache;

class TorchDecodeBatch;

// kNone: the context's own token ids.
class TokenMemory final : public Memory {
 public:
  explicit TokenMemory(std::vector<int32_t> ids, int32_t appends)
      : ids_(std::move(ids)), appends_(appends) {}
  Method method() const override { return Method::kNone; }
  int64_t tokens() const override { return static_cast<int64_t>(ids_.size()); }
  int64_t slots() const override { return tokens(); }
  int32_t segments() const override { return appends_; }
  int64_t bytes() const override { return tokens() * static_cast<int64_t>(sizeof(int32_t)); }
  std::string dtype() const override { return "int32"; }
  bool ExportVectors(std::vector<int64_t>*, std::string*) const override { return false; }
  const std::vector<int32_t>& ids() const { return ids_; }

 private:
  const std::vector<int32_t> ids_;
  const int32_t appends_;
};

// kRcc: slots [P, Le+1, De] on the CPU in the storage dtype.
class RccMemory final : public Memory {
 public:
  RccMemory(torch::Tensor slots, int64_t tokens, int32_t segments)
      : slots_(std::move(slots)), tokens_(tokens), segments_(segments) {}
  Method method() const override { return Method::kRcc; }
  int64_t tokens() const override { return tokens_; }
  int64_t slots() const override { return slots_.size(0); }
  int32_t segments() const override { return segments_; }
  int64_t bytes() const override {
    return slots_.numel() * static_cast<int64_t>(slots_.element_size());
  }
  std::string dtype() const override {
    return slots_.scalar_type() == torch::kBFloat16 ? "bfloat16" : "float32";
  }
  bool ExportVectors(std::vector<int64_t>* shape, std::string* data) const override {
    const torch::Tensor t = slots_.contiguous();
    *shape = t.sizes().vec();
    data->assign(static_cast<const char*>(t.data_ptr()),
                 static_cast<size_t>(t.numel() * t.element_size()));
    return true;
  }
  const torch::Tensor& tensor() const { return slots_; }

 private:
  const torch::Tensor slots_;
  const int64_t tokens_;
  const int32_t segments_;
};

// kIcFormer: digests [D, C] on the CPU in the decoder's dtype.
class IcMemory final : public Memory {
 public:
  IcMemory(torch::Tensor digests, int64_t tokens, int32_t chunks)
      : digests_(std::move(digests)), tokens_(tokens), chunks_(chunks) {}
  Method method() const override { return Method::kIcFormer; }
  int64_t tokens() const override { return tokens_; }
  int64_t slots() const override { return digests_.size(0); }
  int32_t segments() const override { return chunks_; }
  int64_t bytes() const override {
    return digests_.numel() * static_cast<int64_t>(digests_.element_size());
  }
  std::string dtype() const override {
    return digests_.scalar_type() == torch::kBFloat16 ? "bfloat16" : "float32";
  }
  bool ExportVectors(std::vector<int64_t>* shape, std::string* data) const override {
    const torch::Tensor t = digests_.contiguous();
    *shape = t.sizes().vec();
    data->assign(static_cast<const char*>(t.data_ptr()),
                 static_cast<size_t>(t.numel() * t.element_size()));
    return true;
  }
  const torch::Tensor& tensor() const { return digests_; }

 private:
  const torch::Tensor digests_;
  const int64_t tokens_;
  const int32_t chunks_;
};

class KvPrefix final : public PrefixCache {
 public:
  explicit KvPrefix(std::shared_ptr<const KvCache> cache) : cache_(std::move(cache)) {}
  int64_t bytes() const override { return cache_->bytes(); }
  const std::shared_ptr<const KvCache>& cache() const { return cache_; }

 private:
  const std::shared_ptr<const KvCache> cache_;
};

std::vector<int64_t> Widen(const std::vector<int32_t>& ids) {
  return std::vector<int64_t>(ids.begin(), ids.end());
}

std::vector<int32_t> Join(std::initializer_list<const std::vector<int32_t>*> parts) {
  std::vector<int32_t> out;
  for (const std::vector<int32_t>* p : parts) out.insert(out.end(), p->begin(), p->end());
  return out;
}

absl::Status InDirectory(const std::string& dir, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(dir, ": ", status.message()));
}

class TorchEngine final : public Engine {
 public:
  TorchEngine(EngineOptions options, ModelDescription description,
              std::unique_ptr<Tokenizer> tokenizer, std::shared_ptr<const Decoder> decoder,
              std::unique_ptr<rcc::RccModel> rcc, std::unique_ptr<icformer::IcFormer> former)
      : options_(std::move(options)),
        description_(std::move(description)),
        tokenizer_(std::move(tokenizer)),
        decoder_(std::move(decoder)),
        rcc_(std::move(rcc)),
        former_(std::move(former)) {}

  // Tokenizes the templates once (their special tokens are meant).
  absl::Status Prepare() {
    const EngineTemplates& t = options_.templates;
    if (former_ != nullptr) {
      former_answer_prefix_text_ = former_->config().answer_prefix;
      former_answer_suffix_text_ = former_->config().answer_suffix;
    }
    for (auto [text, ids] : {std::pair{&t.none_context_prefix, &none_context_prefix_},
                             std::pair{&t.none_prompt_prefix, &none_prompt_prefix_},
                             std::pair{&t.rcc_prompt_prefix, &rcc_prompt_prefix_},
                             std::pair{&t.answer_prefix, &answer_prefix_},
                             std::pair{&t.instruction_separator, &instruction_separator_},
                             std::pair{&t.rcc_reconstruct_prompt, &rcc_reconstruct_prompt_},
                             std::pair{static_cast<const std::string*>(&former_answer_prefix_text_),
                                       &former_answer_prefix_},
                             std::pair{static_cast<const std::string*>(&former_answer_suffix_text_),
                                       &former_answer_suffix_}}) {
      absl::StatusOr<std::vector<int32_t>> encoded = tokenizer_->Encode(*text);
      if (!encoded.ok()) return encoded.status();
      *ids = *std::move(encoded);
    }
    if (rcc_reconstruct_prompt_.empty()) {
      std::optional<int32_t> start = tokenizer_->bos_id();
      if (!start) start = tokenizer_->eos_id();
      if (!start) {
        return absl::FailedPreconditionError(
            "the tokenizer defines neither BOS nor EOS: set an RCC reconstruct prompt");
      }
      rcc_reconstruct_prompt_ = {*start};
    }
    stop_ids_ = decoder_->config().eos_token_ids;
    if (tokenizer_->eos_id()) stop_ids_.push_back(*tokenizer_->eos_id());
    std::sort(stop_ids_.begin(), stop_ids_.end());
    stop_ids_.erase(std::unique(stop_ids_.begin(), stop_ids_.end()), stop_ids_.end());
    return absl::OkStatus();
  }

  const ModelDescription& description() const override { return description_; }
  const Tokenizer& tokenizer() const override { return *tokenizer_; }

  bool Supports(Method method) const override {
    return method == Method::kNone || (method == Method::kRcc && rcc_ != nullptr) ||
           (method == Method::kIcFormer && former_ != nullptr);
  }

  absl::StatusOr<std::vector<int32_t>> Tokenize(absl::string_view text) const override {
    EncodeOptions options;
    options.parse_special_tokens = false;
    absl::StatusOr<std::vector<int32_t>> ids = tokenizer_->Encode(text, options);
    if (!ids.ok()) return ids.status();
    // A byte the vocabulary has no token for is dropped by BPE: refuse the
    // text rather than compress something else than what was sent.
    absl::StatusOr<std::string> back = tokenizer_->Decode(*ids);
    if (!back.ok()) return back.status();
    if (*back != text) {
      size_t at = 0;
      while (at < back->size() && at < text.size() && (*back)[at] == text[at]) ++at;
      return absl::InvalidArgumentError(absl::StrFormat(
          "the text has a character at byte offset %d (byte 0x%02x) that model \"%s\"'s "
          "vocabulary cannot represent; remove or replace it",
          at, at < text.size() ? static_cast<unsigned char>(text[at]) : 0, description_.name));
    }
    return ids;
  }

  absl::StatusOr<std::vector<std::shared_ptr<const Memory>>> Compress(
      Method method, const std::vector<std::vector<int32_t>>& contexts) const override {
    if (!Supports(method)) return NotLoaded(method);
    std::vector<std::shared_ptr<const Memory>> memories;
    for (const std::vector<int32_t>& c : contexts) {
      if (c.empty()) return absl::InvalidArgumentError("an empty context cannot be compressed");
    }
    if (method == Method::kNone) {
      for (const std::vector<int32_t>& c : contexts) {
        memories.push_back(std::make_shared<TokenMemory>(c, 1));
      }
      return memories;
    }
    std::vector<std::vector<int64_t>> wide;
    for (const std::vector<int32_t>& c : contexts) wide.push_back(Widen(c));
    if (method == Method::kIcFormer) {
      absl::StatusOr<std::vector<torch::Tensor>> digests = former_->Compress(wide);
      if (!digests.ok()) return digests.status();
      const int64_t k = former_->config().num_query_tokens;
      for (size_t i = 0; i < contexts.size(); ++i) {
        memories.push_back(std::make_shared<IcMemory>(
            (*digests)[i], static_cast<int64_t>(contexts[i].size()),
            static_cast<int32_t>((*digests)[i].size(0) / k)));
      }
      return memories;
    }
    absl::StatusOr<std::vector<torch::Tensor>> slots = rcc_->Compress(wide);
    if (!slots.ok()) return slots.status();
    for (size_t i = 0; i < contexts.size(); ++i) {
      const int64_t n = static_cast<int64_t>(contexts[i].size());
      memories.push_back(std::make_shared<RccMemory>(
          (*slots)[i], n, static_cast<int32_t>(rcc::PlanSegments(n, rcc_->config()).size())));
    }
    return memories;
  }

  absl::StatusOr<std::shared_ptr<const Memory>> Concat(const Memory& first,
                                                       const Memory& second) const override {
    if (first.method() != second.method()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot append ", MethodName(second.method()), " memory to a ",
          MethodName(first.method()), " session"));
    }
    if (first.method() == Method::kNone) {
      const auto& a = static_cast<const TokenMemory&>(first);
      const auto& b = static_cast<const TokenMemory&>(second);
      return std::make_shared<TokenMemory>(Join({&a.ids(), &b.ids()}),
                                           a.segments() + b.segments());
    }
    if (first.method() == Method::kIcFormer) {
      const auto& a = static_cast<const IcMemory&>(first);
      const auto& b = static_cast<const IcMemory&>(second);
      return transformer::internal::GuardTorch(
          "Concat", [&]() -> absl::StatusOr<std::shared_ptr<const Memory>> {
            return std::make_shared<IcMemory>(torch::cat({a.tensor(), b.tensor()}, 0),
                                              a.tokens() + b.tokens(),
                                              a.segments() + b.segments());
          });
    }
    const auto& a = static_cast<const RccMemory&>(first);
    const auto& b = static_cast<const RccMemory&>(second);
    return transformer::internal::GuardTorch(
        "Concat", [&]() -> absl::StatusOr<std::shared_ptr<const Memory>> {
          return std::make_shared<RccMemory>(torch::cat({a.tensor(), b.tensor()}, 0),
                                             a.tokens() + b.tokens(),
                                             a.segments() + b.segments());
        });
  }

  absl::StatusOr<std::string> SerializeMemory(const Memory& memory) const override;
  absl::StatusOr<std::shared_ptr<const Memory>> DeserializeMemory(
      absl::string_view bytes) const override;

  absl::StatusOr<std::shared_ptr<const PrefixCache>> BuildPrefix(
      const Memory& memory) const override {
    absl::StatusOr<std::shared_ptr<const KvCache>> cache =
        memory.method() == Method::kNone       ? TokenPrefix(static_cast<const TokenMemory&>(memory))
        : memory.method() == Method::kIcFormer ? FormerAnswerPrefix(memory)
                                               : RccPrefix(memory);
    if (!cache.ok()) return cache.status();
    return std::make_shared<KvPrefix>(*std::move(cache));
  }

  std::string AnswerMarker(const GenerationJob& job) const override {
    const bool rebuilds_instruction = job.task == Task::kAnswer && job.instruction_reconstruction &&
                                      job.memory != nullptr &&
                                      job.memory->method() == Method::kRcc;
    return rebuilds_instruction ? options_.templates.answer_marker : "";
  }

  absl::StatusOr<std::vector<GenerationOutcome>> Generate(
      const std::vector<GenerationJob>& jobs, const TokenCallback& on_token) const override;
  std::unique_ptr<DecodeBatch> NewDecodeBatch() const override;

  absl::StatusOr<double> ScoreContinuation(
      const Memory* memory, const std::vector<int32_t>& continuation) const override;

 private:
  friend class TorchDecodeBatch;

  bool IsStopToken(int64_t token) const {
    return std::binary_search(stop_ids_.begin(), stop_ids_.end(), token);
  }

  absl::Status NotLoaded(Method method) const {
    return absl::FailedPreconditionError(absl::StrCat(
        "method ", MethodName(method), " is not loaded for model \"", description_.name,
        "\": use one of the methods ListModels reports for it"));
  }

  absl::StatusOr<std::shared_ptr<const KvCache>> TokenPrefix(const TokenMemory& memory) const {
    return transformer::internal::GuardTorch(
        "BuildPrefix", [&]() -> absl::StatusOr<std::shared_ptr<const KvCache>> {
          torch::InferenceMode guard;
          auto cache = std::make_shared<KvCache>();
          DecoderInput input;
          input.input_ids = torch::tensor(Widen(Join({&none_context_prefix_, &memory.ids()})),
                                          torch::kLong)
                                .unsqueeze(0)
                                .to(decoder_->options().device);  // [1, T]
          input.cache = cache.get();
          input.logits = transformer::LogitsMode::kNone;
          absl::StatusOr<transformer::DecoderOutput> out = decoder_->Forward(input);
          if (!out.ok()) return out.status();
          return std::shared_ptr<const KvCache>(std::move(cache));
        });
  }

  // The KV of `embeds` [T, C] as a batch-1 prefix.
  absl::StatusOr<std::shared_ptr<const KvCache>> EmbedsPrefix(const torch::Tensor& embeds) const {
    return transformer::internal::GuardTorch(
        "BuildPrefix", [&]() -> absl::StatusOr<std::shared_ptr<const KvCache>> {
          torch::InferenceMode guard;
          auto cache = std::make_shared<KvCache>();
          DecoderInput input;
          input.inputs_embeds = embeds.unsqueeze(0);  // [1, T, C]
          input.cache = cache.get();
          input.logits = transformer::LogitsMode::kNone;
          absl::StatusOr<transformer::DecoderOutput> out = decoder_->Forward(input);
          if (!out.ok()) return out.status();
          return std::shared_ptr<const KvCache>(std::move(cache));
        });
  }

  // IC-Former answering: [emb(answer_prefix), digests, FT]; the prompt and
  // the suffix follow it.
  absl::StatusOr<std::shared_ptr<const KvCache>> FormerAnswerPrefix(const Memory& memory) const {
    if (former_ == nullptr) return NotLoaded(memory.method());
    absl::StatusOr<torch::Tensor> embeds =
        former_->AnswerEmbeds(static_cast<const IcMemory&>(memory).tensor(), {},
                              Widen(former_answer_prefix_), {});
    if (!embeds.ok()) return embeds.status();
    return EmbedsPrefix(*embeds);
  }

  absl::StatusOr<std::shared_ptr<const KvCache>> RccPrefix(const Memory& memory) const {
    if (rcc_ == nullptr) return NotLoaded(memory.method());
    return rcc_->BuildPrefix(static_cast<const RccMemory&>(memory).tensor());
  }

  // The decoder request of one job, its prefix included.
  absl::StatusOr<GenerationRequest> BuildRequest(const GenerationJob& job) const;
  // The same for an IC-Former memory; `request` carries the sampling.
  absl::StatusOr<GenerationRequest> BuildFormerRequest(const GenerationJob& job,
                                                       GenerationRequest request) const;

  const EngineOptions options_;
  const ModelDescription description_;
  const std::unique_ptr<Tokenizer> tokenizer_;
  const std::shared_ptr<const Decoder> decoder_;
  const std::unique_ptr<rcc::RccModel> rcc_;
  const std::unique_ptr<icformer::IcFormer> former_;
  std::string former_answer_prefix_text_, former_answer_suffix_text_;
  std::vector<int32_t> former_answer_prefix_, former_answer_suffix_;
  std::vector<int32_t> none_context_prefix_, none_prompt_prefix_, rcc_prompt_prefix_,
      answer_prefix_, instruction_separator_, rcc_reconstruct_prompt_;
  std::vector<int64_t> stop_ids_;
};

// The bytes of a CPU tensor, row-major.
absl::string_view TensorBytes(const torch::Tensor& t) {
  return absl::string_view(static_cast<const char*>(t.data_ptr()),
                           static_cast<size_t>(t.numel() * t.element_size()));
}

// The stored vectors' dtype as a torch type; false for other names.
bool VectorDtype(const std::string& name, torch::ScalarType* type) {
  if (name == "float32") *type = torch::kFloat32;
  else if (name == "bfloat16") *type = torch::kBFloat16;
  else return false;
  return true;
}

absl::StatusOr<std::string> TorchEngine::SerializeMemory(const Memory& memory) const {
  return transformer::internal::GuardTorch(
      "SerializeMemory", [&]() -> absl::StatusOr<std::string> {
        MemoryRecord record;
        record.method = memory.method();
        record.model = description_.name;
        record.dtype = memory.dtype();
        record.tokens = memory.tokens();
        record.slots = memory.slots();
        record.segments = memory.segments();
        if (const auto* tokens = dynamic_cast<const TokenMemory*>(&memory)) {
          record.shape = {tokens->tokens()};
          record.data = absl::string_view(reinterpret_cast<const char*>(tokens->ids().data()),
                                          tokens->ids().size() * sizeof(int32_t));
          return EncodeMemoryRecord(record);
        }
        torch::Tensor vectors;
        if (const auto* rcc = dynamic_cast<const RccMemory*>(&memory)) vectors = rcc->tensor();
        if (const auto* ic = dynamic_cast<const IcMemory*>(&memory)) vectors = ic->tensor();
        if (!vectors.defined()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "a ", MethodName(memory.method()), " memory that this engine did not make"));
        }
        vectors = vectors.to(torch::kCPU).contiguous();  // [P, Le+1, De] or [D, C]
        record.shape = vectors.sizes().vec();
        record.data = TensorBytes(vectors);
        return EncodeMemoryRecord(record);
      });
}

absl::StatusOr<std::shared_ptr<const Memory>> TorchEngine::DeserializeMemory(
    absl::string_view bytes) const {
  absl::StatusOr<MemoryRecord> record = DecodeMemoryRecord(bytes);
  if (!record.ok()) return record.status();
  const MemoryRecord& r = *record;
  if (r.model != description_.name) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the stored memory was made by model \"", r.model, "\"; this server serves \"",
        description_.name, "\""));
  }
  if (!Supports(r.method)) return NotLoaded(r.method);
  auto mismatch = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the stored ", MethodName(r.method), " memory does not fit model \"", description_.name,
        "\": ", what));
  };
  if (r.segments < 1 || r.slots < 1 || r.slots != (r.shape.empty() ? -1 : r.shape[0])) {
    return mismatch(absl::StrCat(r.slots, " slots in ", r.segments, " segments for shape[0] ",
                                 r.shape.empty() ? 0 : r.shape[0]));
  }
  if (r.method == Method::kNone) {
    if (r.dtype != "int32" || r.shape.size() != 1 || r.tokens != r.slots) {
      return mismatch("token memories are one int32 id per token");
    }
    std::vector<int32_t> ids(static_cast<size_t>(r.tokens));
    std::memcpy(ids.data(), r.data.data(), r.data.size());
    for (int32_t id : ids) {
      if (id < 0 || id >= description_.vocab_size) {
        return mismatch(absl::StrCat("token id ", id, " is outside the vocabulary of ",
                                     description_.vocab_size));
      }
    }
    return std::make_shared<TokenMemory>(std::move(ids), r.segments);
  }
  torch::ScalarType type;
  if (!VectorDtype(r.dtype, &type)) return mismatch(absl::StrCat("dtype ", r.dtype));
  std::vector<int64_t> expected;
  if (r.method == Method::kRcc) {
    const transformer::DecoderConfig& encoder = rcc_->encoder().config();
    expected = {r.slots, encoder.num_hidden_layers + 1, encoder.hidden_size};
  } else {
    const int64_t k = former_->config().num_query_tokens;
    if (r.slots != int64_t{r.segments} * k) {
      return mismatch(absl::StrCat(r.slots, " digests in ", r.segments, " chunks of ", k));
    }
    expected = {r.slots, description_.hidden_size};
  }
  if (r.shape != expected) {
    return mismatch(absl::StrCat("shape [", absl::StrJoin(r.shape, ", "), "], expected [",
                                 absl::StrJoin(expected, ", "), "]"));
  }
  return transformer::internal::GuardTorch(
      "DeserializeMemory", [&]() -> absl::StatusOr<std::shared_ptr<const Memory>> {
        torch::Tensor vectors = torch::empty(r.shape, torch::TensorOptions().dtype(type));
        std::memcpy(vectors.data_ptr(), r.data.data(), r.data.size());
        if (r.method == Method::kRcc) {
          return std::make_shared<RccMemory>(std::move(vectors), r.tokens, r.segments);
        }
        return std::make_shared<IcMemory>(std::move(vectors), r.tokens, r.segments);
      });
}

absl::StatusOr<GenerationRequest> TorchEngine::BuildRequest(const GenerationJob& job) const {
  GenerationRequest request;
  transformer::SamplingParams& s = request.sampling;
  s.max_new_tokens = job.sampling.max_new_tokens;
  s.min_new_tokens = job.sampling.min_new_tokens;
  s.temperature = job.sampling.temperature;
  s.top_k = job.sampling.top_k;
  s.top_p = job.sampling.top_p;
  s.repetition_penalty = job.sampling.repetition_penalty;
  s.seed = job.sampling.seed;
  s.stop_token_ids = stop_ids_;

  std::shared_ptr<const Memory> memory = job.memory;
  std::shared_ptr<const PrefixCache> prefix = job.prefix;
  std::vector<int32_t> prompt_ids;
  const bool rcc = memory->method() == Method::kRcc;
  if (memory->method() == Method::kIcFormer) return BuildFormerRequest(job, std::move(request));
  if (job.task == Task::kReconstruct) {
    prompt_ids = rcc_reconstruct_prompt_;
  } else {
    absl::StatusOr<std::vector<int32_t>> prompt = Tokenize(job.prompt);
    if (!prompt.ok()) return prompt.status();
    if (rcc && job.instruction_reconstruction) {
      // The instruction joins the memory; the decoder regenerates it first.
      absl::StatusOr<std::vector<std::shared_ptr<const Memory>>> extra =
          Compress(Method::kRcc, {Join({&instruction_separator_, &*prompt})});
      if (!extra.ok()) return extra.status();
      absl::StatusOr<std::shared_ptr<const Memory>> joined = Concat(*memory, *(*extra)[0]);
      if (!joined.ok()) return joined.status();
      memory = *joined;
      prefix = nullptr;
      prompt_ids = rcc_prompt_prefix_;
    } else if (rcc) {
      prompt_ids = Join({&rcc_prompt_prefix_, &*prompt, &answer_prefix_});
    } else {
      prompt_ids = Join({&none_prompt_prefix_, &*prompt, &answer_prefix_});
    }
  }
  if (prefix == nullptr) {
    absl::StatusOr<std::shared_ptr<const PrefixCache>> built = BuildPrefix(*memory);
    if (!built.ok()) return built.status();
    prefix = *std::move(built);
  }
  request.prefix = static_cast<const KvPrefix&>(*prefix).cache();
  request.prompt_ids = Widen(prompt_ids);
  return request;
}

absl::StatusOr<GenerationRequest> TorchEngine::BuildFormerRequest(
    const GenerationJob& job, GenerationRequest request) const {
  if (former_ == nullptr) return NotLoaded(Method::kIcFormer);
  const torch::Tensor& digests = static_cast<const IcMemory&>(*job.memory).tensor();
  if (job.task == Task::kReconstruct) {
    // [digests, AE]: the digests as the prefix, AE as the prompt.
    absl::StatusOr<torch::Tensor> embeds = former_->ReconstructEmbeds(digests);  // [P+1, C]
    if (!embeds.ok()) return embeds.status();
    const int64_t P = embeds->size(0) - 1;
    absl::StatusOr<std::shared_ptr<const KvCache>> prefix = EmbedsPrefix(embeds->narrow(0, 0, P));
    if (!prefix.ok()) return prefix.status();
    request.prefix = *prefix;
    request.prompt_embeds = embeds->narrow(0, P, 1);  // [1, C]: AE
    return request;
  }
  if (!former_->can_answer()) {
    return absl::FailedPreconditionError(
        "this IC-Former checkpoint has no FT embedding (it was not fine-tuned to answer): "
        "use Reconstruct, or load a checkpoint whose params (param.pt or params.safetensors) "
        "hold FT");
  }
  absl::StatusOr<std::vector<int32_t>> prompt = Tokenize(job.prompt);
  if (!prompt.ok()) return prompt.status();
  std::shared_ptr<const PrefixCache> prefix = job.prefix;
  if (prefix == nullptr) {
    absl::StatusOr<std::shared_ptr<const PrefixCache>> built = BuildPrefix(*job.memory);
    if (!built.ok()) return built.status();
    prefix = *std::move(built);
  }
  request.prefix = static_cast<const KvPrefix&>(*prefix).cache();
  request.prompt_ids = Widen(Join({&*prompt, &former_answer_suffix_}));
  return request;
}

FinishReason ToFinishReason(transformer::FinishReason reason) {
  switch (reason) {
    case transformer::FinishReason::kStop:
      return FinishReason::kEos;
    case transformer::FinishReason::kCancelled:
      return FinishReason::kCancelled;
    case transformer::FinishReason::kLength:
      break;
  }
  return FinishReason::kLength;
}

// The engine's DecodeBatch: a transformer::DecodeBatch for the streams that
// need the decoder, and NONE reconstructions replayed from their tokens.
class TorchDecodeBatch final : public DecodeBatch {
 public:
  TorchDecodeBatch(const TorchEngine& engine, const Decoder& decoder)
      : engine_(engine), batch_(decoder) {}

  std::vector<absl::StatusOr<StreamId>> Add(const std::vector<GenerationJob>& jobs) override;
  absl::StatusOr<std::vector<Finished>> Step(const TokenCallback& on_token) override;
  absl::StatusOr<GenerationOutcome> Remove(StreamId id) override;
  size_t size() const override { return to_sequence_.size() + replays_.size(); }

 private:
  using SequenceId = transformer::DecodeBatch::SequenceId;

  // A NONE session's reconstruction: the stored tokens themselves.
  struct Replay {
    std::shared_ptr<const Memory> memory;
    int max_new_tokens = 0;
  };

  // The outcome of a finished sequence: stop tokens are not the client's.
  GenerationOutcome Outcome(const transformer::GenerationResult& result) const;
  Finished RunReplay(StreamId id, const Replay& replay, const TokenCallback& on_token) const;

  const TorchEngine& engine_;
  transformer::DecodeBatch batch_;
  std::map<StreamId, SequenceId> to_sequence_;
  std::map<SequenceId, StreamId> to_stream_;
  std::map<StreamId, Replay> replays_;
  StreamId next_id_ = 0;
};

std::vector<absl::StatusOr<DecodeBatch::StreamId>> TorchDecodeBatch::Add(
    const std::vector<GenerationJob>& jobs) {
  std::vector<absl::StatusOr<StreamId>> ids(jobs.size(), absl::UnknownError("not added"));
  std::vector<GenerationRequest> requests;
  std::vector<size_t> request_job;  // request index -> job index
  for (size_t i = 0; i < jobs.size(); ++i) {
    const GenerationJob& job = jobs[i];
    if (job.memory == nullptr) {
      ids[i] = absl::InvalidArgumentError("a job has no memory");
      continue;
    }
    if (job.task == Task::kReconstruct && job.memory->method() == Method::kNone) {
      replays_[next_id_] = Replay{job.memory, job.sampling.max_new_tokens};
      ids[i] = next_id_++;
      continue;
    }
    absl::StatusOr<GenerationRequest> request = engine_.BuildRequest(job);
    if (request.ok()) {
      // Checked one by one, so that one bad job does not fail the others.
      absl::Status valid = transformer::ValidateRequest(engine_.decoder_->config(), *request);
      if (!valid.ok()) request = valid;
    }
    if (!request.ok()) {
      ids[i] = request.status();
      continue;
    }
    requests.push_back(*std::move(request));
    request_job.push_back(i);
  }
  if (requests.empty()) return ids;
  absl::StatusOr<std::vector<SequenceId>> sequences = batch_.Add(requests);
  for (size_t r = 0; r < requests.size(); ++r) {
    if (!sequences.ok()) {
      ids[request_job[r]] = sequences.status();
      continue;
    }
    to_sequence_[next_id_] = (*sequences)[r];
    to_stream_[(*sequences)[r]] = next_id_;
    ids[request_job[r]] = next_id_++;
  }
  return ids;
}

GenerationOutcome TorchDecodeBatch::Outcome(const transformer::GenerationResult& result) const {
  GenerationOutcome out;
  out.prompt_tokens = result.prompt_tokens;
  for (int64_t token : result.tokens) {
    if (!engine_.IsStopToken(token)) out.tokens.push_back(static_cast<int32_t>(token));
  }
  out.finish_reason = ToFinishReason(result.finish_reason);
  return out;
}

DecodeBatch::Finished TorchDecodeBatch::RunReplay(StreamId id, const Replay& replay,
                                                  const TokenCallback& on_token) const {
  Finished finished{id, GenerationOutcome()};
  GenerationOutcome& out = finished.outcome;
  out.finish_reason = FinishReason::kEos;
  for (int32_t token : static_cast<const TokenMemory&>(*replay.memory).ids()) {
    if (static_cast<int>(out.tokens.size()) >= replay.max_new_tokens) {
      out.finish_reason = FinishReason::kLength;
      break;
    }
    out.tokens.push_back(token);
    if (on_token && !on_token(id, token)) {
      out.finish_reason = FinishReason::kCancelled;
      break;
    }
  }
  return finished;
}

absl::StatusOr<std::vector<DecodeBatch::Finished>> TorchDecodeBatch::Step(
    const TokenCallback& on_token) {
  std::vector<Finished> finished;
  if (!batch_.empty()) {
    absl::StatusOr<std::vector<transformer::DecodeBatch::Finished>> done =
        batch_.Step([&](SequenceId sequence, int64_t token) {
          if (engine_.IsStopToken(token)) return true;
          return !on_token || on_token(to_stream_.at(sequence), static_cast<int32_t>(token));
        });
    if (!done.ok()) {
      to_sequence_.clear();
      to_stream_.clear();
      replays_.clear();
      return done.status();
    }
    for (const transformer::DecodeBatch::Finished& f : *done) {
      const StreamId id = to_stream_.at(f.id);
      to_stream_.erase(f.id);
      to_sequence_.erase(id);
      finished.push_back({id, Outcome(f.result)});
    }
  }
  for (const auto& [id, replay] : replays_) finished.push_back(RunReplay(id, replay, on_token));
  replays_.clear();
  return finished;
}

absl::StatusOr<GenerationOutcome> TorchDecodeBatch::Remove(StreamId id) {
  if (replays_.erase(id) > 0) {
    GenerationOutcome out;
    out.finish_reason = FinishReason::kCancelled;
    return out;
  }
  auto it = to_sequence_.find(id);
  if (it == to_sequence_.end()) {
    return absl::NotFoundError(absl::StrCat("stream ", id, " is not in the batch"));
  }
  const SequenceId sequence = it->second;
  to_sequence_.erase(it);
  to_stream_.erase(sequence);
  absl::StatusOr<transformer::GenerationResult> result = batch_.Remove(sequence);
  if (!result.ok()) {
    if (batch_.empty()) {  // the batch dropped everything
      to_sequence_.clear();
      to_stream_.clear();
    }
    return result.status();
  }
  return Outcome(*result);
}

absl::StatusOr<std::vector<GenerationOutcome>> TorchEngine::Generate(
    const std::vector<GenerationJob>& jobs, const TokenCallback& on_token) const {
  TorchDecodeBatch batch(*this, *decoder_);
  std::vector<absl::StatusOr<DecodeBatch::StreamId>> ids = batch.Add(jobs);
  std::map<DecodeBatch::StreamId, size_t> job_of;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!ids[i].ok()) return ids[i].status();
    job_of[*ids[i]] = i;
  }
  std::vector<GenerationOutcome> outcomes(jobs.size());
  while (!batch.empty()) {
    absl::StatusOr<std::vector<DecodeBatch::Finished>> finished =
        batch.Step([&](DecodeBatch::StreamId id, int32_t token) {
          return !on_token || on_token(job_of.at(id), token);
        });
    if (!finished.ok()) return finished.status();
    for (DecodeBatch::Finished& f : *finished) outcomes[job_of.at(f.id)] = std::move(f.outcome);
  }
  return outcomes;
}

std::unique_ptr<DecodeBatch> TorchEngine::NewDecodeBatch() const {
  return std::make_unique<TorchDecodeBatch>(*this, *decoder_);
}

// The sum over t of log_softmax(logits[0, first + t])[continuation[t]].
double SumLogProbs(const torch::Tensor& logits, int64_t first,
                   const std::vector<int32_t>& continuation) {
  const int64_t T = static_cast<int64_t>(continuation.size());
  const torch::Tensor log_probs =
      torch::log_softmax(logits[0].narrow(0, first, T).to(torch::kFloat32), -1);  // [T, V]
  const torch::Tensor targets =
      torch::tensor(Widen(continuation), torch::kLong).to(log_probs.device()).unsqueeze(1);
  return log_probs.gather(1, targets).sum().to(torch::kFloat64).item<double>();
}

absl::StatusOr<double> TorchEngine::ScoreContinuation(
    const Memory* memory, const std::vector<int32_t>& continuation) const {
  if (continuation.empty()) {
    return absl::InvalidArgumentError("ScoreContinuation needs a non-empty continuation");
  }
  if (memory != nullptr && !Supports(memory->method())) return NotLoaded(memory->method());
  const int64_t T = static_cast<int64_t>(continuation.size());
  return transformer::internal::GuardTorch(
      "ScoreContinuation", [&]() -> absl::StatusOr<double> {
        torch::InferenceMode guard;
        const torch::Device device = decoder_->options().device;
        if (memory != nullptr && memory->method() == Method::kRcc) {
          // [placeholder x P, continuation] with the memory injected: [1, P+T, V].
          absl::StatusOr<torch::Tensor> logits = rcc_->InjectedLogits(
              static_cast<const RccMemory&>(*memory).tensor(), Widen(continuation));
          if (!logits.ok()) return logits.status();
          return SumLogProbs(*logits, logits->size(1) - T - 1, continuation);
        }
        DecoderInput input;
        input.logits = transformer::LogitsMode::kAll;
        int64_t context = 0;  // positions before the continuation
        if (memory != nullptr && memory->method() == Method::kIcFormer) {
          const torch::Tensor& digests = static_cast<const IcMemory&>(*memory).tensor();  // [D, C]
          absl::StatusOr<torch::Tensor> words = decoder_->Embed(
              torch::tensor(Widen(continuation), torch::kLong).unsqueeze(0).to(device));
          if (!words.ok()) return words.status();  // [1, T, C]
          context = digests.size(0);
          input.inputs_embeds =
              torch::cat({digests.to(device, words->scalar_type()).unsqueeze(0), *words}, 1);
        } else {
          std::vector<int32_t> ids;
          if (memory != nullptr) {
            ids = static_cast<const TokenMemory&>(*memory).ids();
          } else {
            std::optional<int32_t> start = tokenizer_->bos_id();
            if (!start) start = tokenizer_->eos_id();
            if (!start) {
              return absl::FailedPreconditionError(
                  "the tokenizer defines neither BOS nor EOS to start a context-free score");
            }
            ids = {*start};
          }
          context = static_cast<int64_t>(ids.size());
          ids.insert(ids.end(), continuation.begin(), continuation.end());
          input.input_ids = torch::tensor(Widen(ids), torch::kLong).unsqueeze(0).to(device);
        }
        absl::StatusOr<transformer::DecoderOutput> out = decoder_->Forward(input);  // [1, ctx+T, V]
        if (!out.ok()) return out.status();
        return SumLogProbs(out->logits, context - 1, continuation);
      });
}

}  // namespace

int ReconstructMinTokens(int64_t compressed_tokens, double min_share, int max_new_tokens) {
  const double wanted = std::floor(std::max(0.0, min_share) * static_cast<double>(compressed_tokens));
  return static_cast<int>(std::min<double>(wanted, std::max(0, max_new_tokens)));
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Load(const EngineOptions& options) {
  if (options.dtype != "float32" && options.dtype != "bfloat16") {
    return absl::InvalidArgumentError(absl::StrCat(
        "dtype \"", options.dtype, "\": use float32 or bfloat16"));
  }
  return transformer::internal::GuardTorch(
      "Engine::Load", [&]() -> absl::StatusOr<std::unique_ptr<Engine>> {
        transformer::DecoderOptions decoder_options;
        decoder_options.device = torch::Device(options.device);
        decoder_options.dtype = options.dtype == "float32" ? torch::kFloat32 : torch::kBFloat16;
        absl::StatusOr<std::unique_ptr<Decoder>> loaded =
            transformer::LoadDecoder(options.decoder_dir, decoder_options);
        if (!loaded.ok()) return loaded.status();
        std::shared_ptr<const Decoder> decoder = *std::move(loaded);
        absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
            LoadTokenizer(options.decoder_dir + "/tokenizer.json");
        if (!tokenizer.ok()) return InDirectory(options.decoder_dir, tokenizer.status());
        std::unique_ptr<rcc::RccModel> rcc;
        if (!options.rcc_dir.empty()) {
          absl::StatusOr<std::unique_ptr<rcc::RccModel>> model =
              rcc::LoadRcc(options.rcc_dir, decoder);
          if (!model.ok()) return model.status();
          rcc = *std::move(model);
        }
        std::unique_ptr<icformer::IcFormer> former;
        if (!options.icformer_dir.empty()) {
          absl::StatusOr<std::unique_ptr<icformer::IcFormer>> loaded_former =
              icformer::LoadIcFormer(options.icformer_dir, decoder);
          if (!loaded_former.ok()) return InDirectory(options.icformer_dir, loaded_former.status());
          former = *std::move(loaded_former);
        }
        const transformer::DecoderConfig& c = decoder->config();
        ModelDescription d;
        d.name = options.name;
        d.architecture = c.model_type;
        d.vocab_size = c.vocab_size;
        d.hidden_size = c.hidden_size;
        d.num_layers = c.num_hidden_layers;
        d.max_positions = c.max_position_embeddings;
        d.methods = {Method::kNone};
        if (rcc) {
          d.methods.insert(d.methods.begin(), Method::kRcc);
          d.rcc_ratio = rcc->config().compression_ratio;
          d.rcc_segment_tokens = rcc->config().segment_tokens;
          d.storage_dtype = rcc->config().storage_dtype;
        } else {
          d.storage_dtype = former ? options.dtype : "int32";
        }
        if (former) {
          d.methods.insert(d.methods.end() - 1, Method::kIcFormer);
          d.icformer_digests = former->config().num_query_tokens;
          d.icformer_chunk_tokens = former->config().max_chunk_len;
        }
        d.device = decoder_options.device.str();
        auto engine = std::make_unique<TorchEngine>(options, std::move(d), *std::move(tokenizer),
                                                    std::move(decoder), std::move(rcc),
                                                    std::move(former));
        if (absl::Status s = engine->Prepare(); !s.ok()) return s;
        return std::unique_ptr<Engine>(std::move(engine));
      });
}

}  // namespace ccs::model
