// train_icformer: trains an IC-Former over a frozen decoder (the paper's
// recipe, DESIGN.md 3.2, with SmolLM2 in place of Llama-2).
//
// Stage "ae" (pretraining by autoencoding): a window of n corpus tokens is
// one chunk; its k digests, then AE, then the window's first n-1 token
// embeddings go through the frozen decoder, which must predict the window's
// n tokens (cross-entropy). Only the former, the digest embeddings and AE
// learn; gradients flow through the decoder to the digests.
//
//   bazel-bin/model/train/train_icformer --corpus_dir=data/corpus
//     --out_dir=data/train/icformer-ae --steps=3000
//
// Stage "ft" (question answering, the paper's fine-tuning): starting from
// an AE former (--init_from), FT is added and the answering template set to
// SmolLM2's chat format; examples come from model/train/instructions.h
// (passkeys in 1, 2 or 4 chunks of filler, dictionary entries, verses). The
// decoder reads [emb(answer_prefix), digests, FT, emb(question),
// emb(answer_suffix), emb(answer)] and the loss is the answer's tokens and
// the end-of-turn token that follows them, exactly what Generate sees.
//
// Every --checkpoint_every steps a checkpoint is written (see trainer.h);
// rerunning the same command resumes from the newest one. At the end the
// trained former is exported in bfloat16 to --export_dir (a directory that
// LoadIcFormer and the server's --icformer_dir read).
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/icformer/checkpoint.h"
#include "model/icformer/former.h"
#include "model/runtime.h"
#include "model/tokenizer/tokenizer.h"
#include "model/train/instructions.h"
#include "model/train/stage.h"
#include "model/train/text_windows.h"
#include "model/train/trainer.h"
#include "model/transformer/loader.h"

ABSL_FLAG(std::string, stage, "ae", "ae (autoencoding) or ft (question answering)");
ABSL_FLAG(std::string, init_from, "", "ft: the AE former to start from (a former directory)");
ABSL_FLAG(std::string, decoder_dir, "models/smollm2-135m-instruct", "the frozen decoder");
ABSL_FLAG(std::string, corpus_dir, "data/corpus", "deploy/build_corpus.py's output");
ABSL_FLAG(std::string, out_dir, "data/train/icformer-ae", "checkpoints (resumed from)");
ABSL_FLAG(std::string, export_dir, "", "where the final bfloat16 former goes (empty: none)");
ABSL_FLAG(bool, export_only, false,
          "export the newest checkpoint of --out_dir to --export_dir and stop (no training)");
ABSL_FLAG(int, threads, 2, "libtorch intra-op threads");
ABSL_FLAG(uint64_t, seed, 1234, "initialisation and data order");
ABSL_FLAG(int64_t, steps, 3000, "optimiser steps");
ABSL_FLAG(int64_t, batch, 8, "windows per step");
ABSL_FLAG(double, lr, 5e-4, "peak learning rate");
ABSL_FLAG(int64_t, warmup, 100, "warm-up steps");
ABSL_FLAG(double, weight_decay, 0.01, "AdamW decoupled weight decay");
ABSL_FLAG(double, clip_norm, 1.0, "global gradient-norm clip");
ABSL_FLAG(int64_t, chunk_tokens, 128, "n: tokens per window = the former's max_chunk_len");
ABSL_FLAG(int64_t, digests, 32, "k: digests per chunk (ratio n/k)");
ABSL_FLAG(int64_t, layers, 3, "former layers");
ABSL_FLAG(int64_t, heads, 9, "attention heads");
ABSL_FLAG(int64_t, kv_heads, 3, "key/value heads");
ABSL_FLAG(int64_t, intermediate, 1536, "SwiGLU width");
ABSL_FLAG(bool, layers_from_decoder, false,
          "ae, fresh run: start the former's layers as copies of the decoder's first --layers "
          "layers (and its rope_theta), which needs --heads, --kv_heads and --intermediate to "
          "match the decoder's");
ABSL_FLAG(int64_t, log_every, 10, "steps between progress lines");
ABSL_FLAG(int64_t, eval_every, 200, "steps between validation passes");
ABSL_FLAG(int64_t, eval_windows, 32, "validation windows");
ABSL_FLAG(int64_t, checkpoint_every, 100, "steps between checkpoints");

namespace ccs::model::train {
namespace {

using icformer::IcFormer;
using transformer::Decoder;

// The autoencoding loss of windows ids [B, n].
absl::StatusOr<LossResult> AeLoss(const IcFormer& former, const Decoder& decoder,
                                  const torch::Tensor& ids) {
  const int64_t B = ids.size(0), n = ids.size(1);
  const int64_t C = former.config().hidden_size;
  absl::StatusOr<torch::Tensor> digests = former.CompressChunks(ids);  // [B, k, C]
  if (!digests.ok()) return digests.status();
  const int64_t k = digests->size(1);
  absl::StatusOr<torch::Tensor> words = decoder.Embed(ids.narrow(1, 0, n - 1));  // [B, n-1, C]
  if (!words.ok()) return words.status();
  transformer::DecoderInput input;
  input.inputs_embeds =
      torch::cat({*digests, former.params().ae.expand({B, 1, C}), *words}, 1);  // [B, k+n, C]
  absl::StatusOr<transformer::DecoderOutput> out = decoder.Forward(input);
  if (!out.ok()) return out.status();
  const torch::Tensor logits = out->logits.narrow(1, k, n).to(torch::kFloat);  // [B, n, V]
  LossResult result;
  result.loss = torch::cross_entropy_loss(logits.reshape({B * n, -1}), ids.reshape({B * n}));
  result.accuracy = logits.argmax(-1).eq(ids).to(torch::kFloat).mean().item<double>();
  return result;
}

// SmolLM2's chat format around the digests, FT and the question.
constexpr char kFtAnswerPrefix[] =
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
    "Answer the question from this text:\n";
constexpr char kFtAnswerSuffix[] = "<|im_end|>\n<|im_start|>assistant\n";

// What the FT loss needs of the tokenizer, computed once.
struct FtTokens {
  std::vector<int32_t> prefix, suffix;  // the former's templates, special tokens parsed
  int32_t end_of_turn = 0;              // follows every answer
};

torch::Tensor Embeds(const Decoder& decoder, const std::vector<int32_t>& ids) {
  return *decoder.Embed(torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()),
                                      torch::kLong).unsqueeze(0));  // [1, T, C]
}

// The answering loss of B examples whose contexts have the same length (a
// multiple of the chunk length), and the share of answer tokens guessed.
absl::StatusOr<LossResult> FtLoss(const IcFormer& former, const Decoder& decoder,
                                  const Tokenizer& tokenizer, const FtTokens& t,
                                  const std::vector<InstructionExample>& examples) {
  const int64_t B = static_cast<int64_t>(examples.size());
  const int64_t L = former.config().max_chunk_len;
  const int64_t chunks = static_cast<int64_t>(examples[0].context.size()) / L;
  std::vector<int64_t> ids;
  for (const InstructionExample& e : examples) ids.insert(ids.end(), e.context.begin(), e.context.end());
  absl::StatusOr<torch::Tensor> digests =
      former.CompressChunks(torch::tensor(ids, torch::kLong).view({B * chunks, L}));
  if (!digests.ok()) return digests.status();
  const int64_t C = digests->size(2);
  const torch::Tensor memory = digests->reshape({B, -1, C});  // [B, chunks*k, C]
  const torch::Tensor prefix = Embeds(decoder, t.prefix)[0], suffix = Embeds(decoder, t.suffix)[0];
  std::vector<torch::Tensor> rows;
  std::vector<std::vector<int64_t>> targets;  // per row: (position, token) pairs flattened
  int64_t longest = 0;
  for (int64_t b = 0; b < B; ++b) {
    absl::StatusOr<std::vector<int32_t>> question = PlainIds(tokenizer, examples[b].question);
    absl::StatusOr<std::vector<int32_t>> answer = PlainIds(tokenizer, examples[b].answer);
    if (!question.ok()) return question.status();
    if (!answer.ok()) return answer.status();
    answer->push_back(t.end_of_turn);
    std::vector<int32_t> tail = *question;  // question, suffix, answer minus its last token
    tail.insert(tail.end(), t.suffix.begin(), t.suffix.end());
    const int64_t first_answer_input = static_cast<int64_t>(t.prefix.size()) + memory.size(1) + 1 +
                                       static_cast<int64_t>(tail.size());
    tail.insert(tail.end(), answer->begin(), answer->end() - 1);
    torch::Tensor row = torch::cat({prefix, memory[b], former.params().ft[0],
                                    Embeds(decoder, tail)[0]});  // [T_b, C]
    std::vector<int64_t> row_targets;
    for (size_t i = 0; i < answer->size(); ++i) {
      row_targets.push_back(first_answer_input - 1 + static_cast<int64_t>(i));  // predicts answer[i]
      row_targets.push_back((*answer)[i]);
    }
    longest = std::max(longest, row.size(0));
    rows.push_back(row);
    targets.push_back(std::move(row_targets));
  }
  // Right padding: causal attention keeps it out of every real position.
  for (torch::Tensor& row : rows) {
    row = torch::cat({row, torch::zeros({longest - row.size(0), C}, row.options())});
  }
  transformer::DecoderInput input;
  input.inputs_embeds = torch::stack(rows);  // [B, T, C]
  absl::StatusOr<transformer::DecoderOutput> out = decoder.Forward(input);
  if (!out.ok()) return out.status();
  std::vector<int64_t> flat_positions, labels;
  for (int64_t b = 0; b < B; ++b) {
    for (size_t i = 0; i < targets[b].size(); i += 2) {
      flat_positions.push_back(b * longest + targets[b][i]);
      labels.push_back(targets[b][i + 1]);
    }
  }
  const torch::Tensor logits = out->logits.reshape({B * longest, -1})
                                   .index_select(0, torch::tensor(flat_positions, torch::kLong))
                                   .to(torch::kFloat);  // [answer tokens, V]
  const torch::Tensor label_tensor = torch::tensor(labels, torch::kLong);
  LossResult result;
  result.loss = torch::cross_entropy_loss(logits, label_tensor);
  result.accuracy = logits.argmax(-1).eq(label_tensor).to(torch::kFloat).mean().item<double>();
  return result;
}

// The FT starting point: the AE former of `directory` with FT (initialised
// as a copy of AE, the nearest learned "read the digests" signal) and the
// chat templates.
absl::StatusOr<std::unique_ptr<IcFormer>> FtStart(const std::string& directory,
                                                  std::shared_ptr<const Decoder> decoder) {
  absl::StatusOr<std::unique_ptr<IcFormer>> ae = icformer::LoadIcFormer(directory, decoder);
  if (!ae.ok()) return ae.status();
  transformer::WeightMap weights;
  icformer::IcFormerParams params;
  for (const auto& [name, tensor] : (*ae)->Parameters()) {
    torch::Tensor copy = tensor.detach().clone();
    if (name == "digest_embeddings") {
      params.digest_embeddings = copy;
    } else if (name == "AE") {
      params.ae = copy;
      params.ft = copy.clone();
    } else if (name != "FT") {
      weights[name] = copy;
    }
  }
  icformer::IcFormerConfig config = (*ae)->config();
  config.answer_prefix = kFtAnswerPrefix;
  config.answer_suffix = kFtAnswerSuffix;
  return IcFormer::Create(config, std::move(weights), std::move(params), std::move(decoder));
}

absl::StatusOr<std::unique_ptr<IcFormer>> FreshAeFormer(std::shared_ptr<const Decoder> decoder) {
  icformer::IcFormerConfig config;
  config.hidden_size = decoder->config().hidden_size;
  config.context_hidden_size = config.hidden_size;
  config.num_hidden_layers = absl::GetFlag(FLAGS_layers);
  config.num_attention_heads = absl::GetFlag(FLAGS_heads);
  config.num_key_value_heads = absl::GetFlag(FLAGS_kv_heads);
  config.head_dim = config.hidden_size / config.num_attention_heads;
  config.intermediate_size = absl::GetFlag(FLAGS_intermediate);
  config.num_query_tokens = absl::GetFlag(FLAGS_digests);
  config.max_chunk_len = absl::GetFlag(FLAGS_chunk_tokens);
  config.rms_norm_eps = decoder->config().norm_eps;
  IcFormer::InitOptions init;
  init.seed = absl::GetFlag(FLAGS_seed);
  init.layers_from_decoder = absl::GetFlag(FLAGS_layers_from_decoder);
  if (init.layers_from_decoder) config.rope_theta = decoder->config().rope_theta;
  return IcFormer::Initialize(config, std::move(decoder), init);
}

absl::Status Run() {
  TorchOptions torch_options;
  torch_options.intra_op_threads = absl::GetFlag(FLAGS_threads);
  if (absl::StatusOr<TorchRuntime> rt = ConfigureTorch(torch_options); !rt.ok()) {
    return rt.status();
  }
  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  torch::manual_seed(seed);
  const std::string stage_name = absl::GetFlag(FLAGS_stage);
  if (stage_name != "ae" && stage_name != "ft") {
    return absl::InvalidArgumentError(absl::StrCat("--stage must be ae or ft, not ", stage_name));
  }
  const std::string decoder_dir = absl::GetFlag(FLAGS_decoder_dir);
  absl::StatusOr<std::unique_ptr<Decoder>> loaded = transformer::LoadDecoder(decoder_dir, {});
  if (!loaded.ok()) return loaded.status();
  std::shared_ptr<const Decoder> decoder = *std::move(loaded);
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
      LoadTokenizer(decoder_dir + "/tokenizer.json");
  if (!tokenizer.ok()) return tokenizer.status();

  const int64_t B = absl::GetFlag(FLAGS_batch);
  const int64_t steps = absl::GetFlag(FLAGS_steps);
  const std::string out_dir = absl::GetFlag(FLAGS_out_dir);
  std::filesystem::create_directories(out_dir);

  // The former: resumed, or the stage's start.
  absl::StatusOr<std::unique_ptr<IcFormer>> made;
  const std::optional<std::string> latest = LatestCheckpoint(out_dir);
  if (latest) {
    made = icformer::LoadIcFormer(*latest, decoder);
  } else if (stage_name == "ft") {
    if (absl::GetFlag(FLAGS_init_from).empty()) {
      return absl::InvalidArgumentError("--stage=ft needs --init_from=<an AE former directory>");
    }
    made = FtStart(absl::GetFlag(FLAGS_init_from), decoder);
  } else {
    made = FreshAeFormer(decoder);
  }
  if (!made.ok()) return made.status();
  std::unique_ptr<IcFormer> former = *std::move(made);
  const int64_t n = former->config().max_chunk_len;

  const std::string export_dir = absl::GetFlag(FLAGS_export_dir);
  const auto export_former = [&](int64_t step) -> absl::Status {
    const std::map<std::string, std::string> metadata = {
        {"format", "ccs-icformer"}, {"step", std::to_string(step)}, {"stage", stage_name}};
    if (absl::Status s = icformer::SaveIcFormer(*former, export_dir, torch::kBFloat16, metadata);
        !s.ok()) {
      return s;
    }
    std::fprintf(stderr, "exported step %lld to %s\n", static_cast<long long>(step),
                 export_dir.c_str());
    return absl::OkStatus();
  };
  if (absl::GetFlag(FLAGS_export_only)) {
    if (!latest || export_dir.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("--export_only needs a checkpoint in ", out_dir, " and --export_dir"));
    }
    return export_former(CheckpointStep(*latest));
  }

  // The stage's data.
  const auto t0 = std::chrono::steady_clock::now();
  const std::string corpus = absl::GetFlag(FLAGS_corpus_dir);
  const int64_t windows_needed = stage_name == "ae" ? steps * B : 20000;  // ft: passkey filler
  absl::StatusOr<std::vector<std::vector<int32_t>>> train =
      LoadWindows(**tokenizer, corpus + "/train.jsonl", n, windows_needed, seed);
  if (!train.ok()) return train.status();
  absl::StatusOr<std::vector<std::vector<int32_t>>> valid = LoadWindows(
      **tokenizer, corpus + "/valid.jsonl", n, std::max<int64_t>(absl::GetFlag(FLAGS_eval_windows), 64), 7);
  if (!valid.ok()) return valid.status();
  Stage stage;
  std::unique_ptr<InstructionGenerator> train_examples, valid_examples;
  FtTokens ft_tokens;
  if (stage_name == "ae") {
    stage.tokens_per_step = B * n;
    stage.train_loss = [&](int64_t step) -> absl::StatusOr<torch::Tensor> {
      absl::StatusOr<LossResult> r = AeLoss(*former, *decoder, Batch(*train, step * B, B));
      if (!r.ok()) return r.status();
      return r->loss;
    };
    const int64_t eval_windows = std::min<int64_t>(absl::GetFlag(FLAGS_eval_windows), valid->size());
    stage.valid_batches = (eval_windows + B - 1) / B;
    stage.valid_loss = [&, eval_windows](int64_t batch) {
      return AeLoss(*former, *decoder,
                    Batch(*valid, batch * B, std::min<int64_t>(B, eval_windows - batch * B)));
    };
  } else {
    const auto facts = [&](const std::string& split) -> absl::StatusOr<std::pair<std::vector<FactLine>, std::vector<FactLine>>> {
      absl::StatusOr<std::vector<JsonlRecord>> dictionary = ReadJsonl(
          corpus + "/dictionary." + split + ".jsonl", {"headword", "pos", "definition"});
      if (!dictionary.ok()) return dictionary.status();
      absl::StatusOr<std::vector<JsonlRecord>> verses =
          ReadJsonl(corpus + "/verses." + split + ".jsonl", {"ref", "text"});
      if (!verses.ok()) return verses.status();
      return std::pair{DictionaryFacts(*dictionary), VerseFacts(*verses)};
    };
    auto train_facts = facts("train");
    if (!train_facts.ok()) return train_facts.status();
    auto valid_facts = facts("valid");
    if (!valid_facts.ok()) return valid_facts.status();
    train_examples = std::make_unique<InstructionGenerator>(
        tokenizer->get(), *train, std::move(train_facts->first), std::move(train_facts->second));
    valid_examples = std::make_unique<InstructionGenerator>(
        tokenizer->get(), *valid, std::move(valid_facts->first), std::move(valid_facts->second));
    absl::StatusOr<std::vector<int32_t>> prefix = (*tokenizer)->Encode(former->config().answer_prefix);
    absl::StatusOr<std::vector<int32_t>> suffix = (*tokenizer)->Encode(former->config().answer_suffix);
    if (!prefix.ok()) return prefix.status();
    if (!suffix.ok()) return suffix.status();
    const std::optional<int32_t> end_of_turn = (*tokenizer)->TokenToId("<|im_end|>");
    if (!end_of_turn) return absl::FailedPreconditionError("the tokenizer has no <|im_end|>");
    ft_tokens = {*prefix, *suffix, *end_of_turn};
    // Step s: kind s % 3; passkeys in 1, 2 or 4 chunks.
    const auto examples = [&, n, B](const InstructionGenerator& generator, uint64_t draw,
                                    int64_t index) -> absl::StatusOr<std::vector<InstructionExample>> {
      static const char* kKinds[] = {"passkey", "dictionary", "verse"};
      SplitMix64 rng(draw);
      const std::string kind = kKinds[index % 3];
      const int64_t chunks = kind == "passkey" ? int64_t{1} << rng.Below(3) : 1;
      std::vector<InstructionExample> batch;
      for (int64_t b = 0; b < B; ++b) {
        absl::StatusOr<InstructionExample> e = generator.Make(kind, chunks * n, rng);
        if (!e.ok()) return e.status();
        batch.push_back(*std::move(e));
      }
      return batch;
    };
    stage.tokens_per_step = B * n;  // context tokens of a 1-chunk step (a lower bound)
    stage.train_loss = [&, examples](int64_t step) -> absl::StatusOr<torch::Tensor> {
      auto batch = examples(*train_examples, seed * 1000003 + step, step);
      if (!batch.ok()) return batch.status();
      absl::StatusOr<LossResult> r = FtLoss(*former, *decoder, **tokenizer, ft_tokens, *batch);
      if (!r.ok()) return r.status();
      return r->loss;
    };
    stage.valid_batches = 6;  // two of each kind
    stage.valid_loss = [&, examples](int64_t batch) -> absl::StatusOr<LossResult> {
      auto examples_of_batch = examples(*valid_examples, 99991 + batch, batch);
      if (!examples_of_batch.ok()) return examples_of_batch.status();
      return FtLoss(*former, *decoder, **tokenizer, ft_tokens, *examples_of_batch);
    };
  }
  std::fprintf(stderr, "stage %s: %zu training windows, %zu validation windows of %lld tokens, "
               "read in %.1f s\n", stage_name.c_str(), train->size(), valid->size(),
               static_cast<long long>(n),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

  TrainerOptions options;
  options.schedule = {absl::GetFlag(FLAGS_lr), absl::GetFlag(FLAGS_warmup), steps, 0.1};
  options.weight_decay = absl::GetFlag(FLAGS_weight_decay);
  options.clip_norm = absl::GetFlag(FLAGS_clip_norm);
  LoopOptions loop;
  loop.steps = steps;
  loop.log_every = absl::GetFlag(FLAGS_log_every);
  loop.checkpoint_every = absl::GetFlag(FLAGS_checkpoint_every);
  loop.eval_every = absl::GetFlag(FLAGS_eval_every);
  absl::StatusOr<int64_t> reached = TrainStage(
      stage, options, loop, former->Parameters(), out_dir, latest,
      [&](const std::string& path) { return icformer::SaveIcFormer(*former, path, torch::kFloat); });
  if (!reached.ok()) return reached.status();
  return export_dir.empty() ? absl::OkStatus() : export_former(*reached);
}

}  // namespace
}  // namespace ccs::model::train

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const absl::Status status = ccs::model::train::Run();
  if (!status.ok()) {
    std::fprintf(stderr, "train_icformer: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
