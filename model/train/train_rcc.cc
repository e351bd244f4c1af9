// train_rcc: trains RCC (DESIGN.md 3.1, issue 6 stages b and c) over a
// frozen decoder. The encoder is either
//   --encoder_layers=N (N >= 1): a copy of the decoder's first N layers and
//     its final norm over the decoder's (frozen) embedding, trained beside
//     the projections (rcc_config.json: encoder_shares_decoder_embedding);
//     the checkpoint holds the projections and those layers, or
//   --encoder_layers=0: the frozen decoder itself
//     (encoder_shares_decoder_weights); only the projections
//     (rcc_encoder2gpt_embed and one A matrix per decoder layer) learn.
// A resumed or --init_from model keeps its own kind. Memory is made exactly
// as the server makes it (RccModel::TrainingCompress is Compress recorded
// by autograd, in the storage dtype), and the decoder reads it through
// RccModel::BatchLogits, the batched form of the serving equations;
// gradients flow through the frozen decoder into the projections and the
// encoder.
//
// Stage "pretrain": windows of context_tokens + continuation_tokens corpus
// tokens. The first context_tokens are compressed (ratio r, segments of W),
// and each example is one of the RCC paper's two objectives, alternating in
// the proportion --reconstruct_share:
//   reconstruction: [memory] + reconstruct prompt -> the context, then the
//                   stop token (what the server's Reconstruct runs);
//   continuation:   [memory] -> the window's next continuation_tokens.
//
//   bazel-bin/model/train/train_rcc --corpus_dir=data/corpus
//     --out_dir=data/train/rcc-pretrain --steps=2000
//
// Stage "instruct": starting from a pretrained RCC (--init_from), examples
// from model/train/instructions.h (passkeys in 1, 2 or 4 contexts of
// context_tokens filler, dictionary entries, verses; successive batches
// cycle through --instruct_kinds, so a repeated kind weighs more), in the layouts the
// engine serves (model/engine/engine.h, EngineTemplates' defaults):
//   answering:  [memory] + rcc_prompt_prefix + question + answer_prefix
//               -> answer, stop token;
//   instruction reconstruction (a share --instruction_reconstruction_share
//               of the examples): [memory, memory of instruction_separator +
//               question] + rcc_prompt_prefix -> question, answer_prefix,
//               answer, stop token. The stop tokens inside answer_prefix
//               (SmolLM2's <|im_end|>) are left out of this target: the
//               server stops generating at the first one, and finds the
//               answer after the answer marker instead.
//   replay (a share --reconstruction_replay_share): pretrain's
//               reconstruction of a context_tokens corpus window, so that
//               answering is not learned at Reconstruct's expense: a first
//               instruct run without it learned to stop reconstructing after
//               a few words. At 0.25 the replayed reconstructions' loss still
//               rises (docs/training.md). A share --replay_short_share of
//               the replays is a short text instead: half of them a whole
//               corpus document of 8 to context_tokens tokens (its source
//               drawn evenly), half a window's first 16 to context_tokens
//               tokens, so that Reconstruct learns where short texts begin
//               and end (replaying only whole windows taught it to stop
//               after one token on a short paragraph).
// The loss is the target's tokens only.
//
// Every --checkpoint_every steps a checkpoint is written (see trainer.h);
// rerunning the same command resumes from the newest one. At the end the
// projections are exported in bfloat16 to --export_dir, a directory the
// server's --rcc_dir reads (a few tens of MB: the base model is not in it).
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "model/engine/engine.h"
#include "model/rcc/rcc_checkpoint.h"
#include "model/rcc/rcc_model.h"
#include "model/runtime.h"
#include "model/tokenizer/tokenizer.h"
#include "model/train/instructions.h"
#include "model/train/stage.h"
#include "model/train/text_windows.h"
#include "model/train/trainer.h"
#include "model/transformer/loader.h"

ABSL_FLAG(std::string, stage, "pretrain", "pretrain (reconstruction + continuation) or instruct");
ABSL_FLAG(std::string, init_from, "", "instruct: the pretrained RCC to start from (a directory)");
ABSL_FLAG(std::string, decoder_dir, "models/smollm2-135m-instruct",
          "the frozen decoder, which is also the encoder");
ABSL_FLAG(std::string, corpus_dir, "data/corpus", "deploy/build_corpus.py's output");
ABSL_FLAG(std::string, out_dir, "data/train/rcc-pretrain", "checkpoints (resumed from)");
ABSL_FLAG(std::string, export_dir, "", "where the final bfloat16 RCC goes (empty: none)");
ABSL_FLAG(bool, export_only, false,
          "export the newest checkpoint of --out_dir to --export_dir and stop (no training)");
ABSL_FLAG(int, threads, 2, "libtorch intra-op threads");
ABSL_FLAG(uint64_t, seed, 1234, "initialisation and data order");
ABSL_FLAG(int64_t, steps, 2000, "optimiser steps");
ABSL_FLAG(int64_t, batch, 8, "examples per step");
ABSL_FLAG(double, lr, 5e-4, "peak learning rate");
ABSL_FLAG(int64_t, warmup, 100, "warm-up steps");
ABSL_FLAG(double, weight_decay, 0.01, "AdamW decoupled weight decay");
ABSL_FLAG(double, clip_norm, 1.0, "global gradient-norm clip");
ABSL_FLAG(int64_t, ratio, 4, "r: context tokens per memory slot (a fresh model)");
ABSL_FLAG(int64_t, segment_tokens, 128, "W: tokens per encoder segment (a fresh model)");
ABSL_FLAG(int64_t, encoder_layers, 0,
          "a fresh model's encoder: the decoder's first N layers, trained (0: the frozen "
          "decoder itself, only the projections learn)");
ABSL_FLAG(std::string, storage_dtype, "bfloat16",
          "memory element type, bfloat16 or float32 (a fresh model; training sees memory "
          "rounded to it, as serving does)");
ABSL_FLAG(double, init_std, 0.0,
          "standard deviation of the fresh A matrices (0: zero; the embedding starts as "
          "the identity)");
ABSL_FLAG(int64_t, context_tokens, 128,
          "tokens compressed per example (instruct: per unit; passkeys use 1, 2 or 4 units)");
ABSL_FLAG(int64_t, continuation_tokens, 128, "pretrain: tokens a continuation example learns");
ABSL_FLAG(double, reconstruct_share, 0.5,
          "pretrain: share of the examples that reconstruct (the rest continue)");
ABSL_FLAG(double, instruction_reconstruction_share, 0.25,
          "instruct: share of the examples in the instruction-reconstruction layout");
ABSL_FLAG(double, reconstruction_replay_share, 0.25,
          "instruct: share of the examples that reconstruct a corpus window, as in pretrain "
          "(so that answering is not learned at Reconstruct's expense)");
ABSL_FLAG(double, replay_short_share, 0.0,
          "instruct: share of the replayed reconstructions that are short texts (whole short "
          "documents, window prefixes)");
ABSL_FLAG(std::vector<std::string>, instruct_kinds,
          std::vector<std::string>({"passkey", "dictionary", "verse"}),
          "instruct: the kinds of successive training batches, repeated in this order "
          "(passkey, dictionary, verse; a kind may repeat to weight it)");
ABSL_FLAG(int64_t, log_every, 10, "steps between progress lines");
ABSL_FLAG(int64_t, eval_every, 200, "steps between validation passes");
ABSL_FLAG(int64_t, eval_windows, 32, "pretrain: validation windows (each run both ways)");
ABSL_FLAG(int64_t, checkpoint_every, 100, "steps between checkpoints");

namespace ccs::model::train {
namespace {

using rcc::RccModel;
using transformer::Decoder;

// One example: the decoder reads [memory, prompt, target minus its last
// token] and learns every token of target.
struct RccExample {
  torch::Tensor memory;         // [P, Le+1, De], as Compress makes it
  std::vector<int64_t> prompt;  // given (may be empty)
  std::vector<int64_t> target;  // learned (at least one token)
};

// The mean over examples of each example's mean token cross-entropy, and
// the share of target tokens guessed. Examples of the same memory length
// share one decoder pass (right-padded).
absl::StatusOr<LossResult> ExamplesLoss(const RccModel& model,
                                        const std::vector<RccExample>& examples) {
  std::map<int64_t, std::vector<size_t>> by_slots;
  for (size_t e = 0; e < examples.size(); ++e) {
    by_slots[examples[e].memory.size(0)].push_back(e);
  }
  const double E = static_cast<double>(examples.size());
  torch::Tensor loss = torch::zeros({}, torch::kFloat);
  int64_t guessed = 0, targets = 0;
  for (const auto& [P, group] : by_slots) {
    const int64_t G = static_cast<int64_t>(group.size());
    int64_t T = 0;  // the longest decoder input after the memory
    for (size_t e : group) {
      T = std::max<int64_t>(T, examples[e].prompt.size() + examples[e].target.size() - 1);
    }
    const int64_t pad = model.config().placeholder_token_id;  // any valid id: never attended
    torch::Tensor ids = torch::full({G, T}, pad, torch::kLong);
    std::vector<torch::Tensor> memories;
    std::vector<int64_t> positions, labels;
    std::vector<float> weights;  // 1 / (E * target length) per target token
    int64_t* row = ids.data_ptr<int64_t>();
    for (int64_t g = 0; g < G; ++g, row += T) {
      const RccExample& x = examples[group[g]];
      memories.push_back(x.memory);
      std::copy(x.prompt.begin(), x.prompt.end(), row);
      std::copy(x.target.begin(), x.target.end() - 1, row + x.prompt.size());
      // target[i] is predicted at decoder position P + |prompt| - 1 + i.
      const int64_t first = P + static_cast<int64_t>(x.prompt.size()) - 1;
      for (size_t i = 0; i < x.target.size(); ++i) {
        positions.push_back(g * (P + T) + first + static_cast<int64_t>(i));
        labels.push_back(x.target[i]);
        weights.push_back(static_cast<float>(1.0 / (E * x.target.size())));
      }
    }
    absl::StatusOr<torch::Tensor> logits = model.BatchLogits(torch::stack(memories), ids);
    if (!logits.ok()) return logits.status();
    const torch::Tensor picked = logits->reshape({G * (P + T), -1})
                                     .index_select(0, torch::tensor(positions, torch::kLong))
                                     .to(torch::kFloat);  // [targets, V]
    const torch::Tensor label_tensor = torch::tensor(labels, torch::kLong);
    const torch::Tensor token_loss = torch::nn::functional::cross_entropy(
        picked, label_tensor,
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
    loss = loss + (token_loss * torch::tensor(weights, torch::kFloat)).sum();
    guessed += picked.argmax(-1).eq(label_tensor).sum().item<int64_t>();
    targets += static_cast<int64_t>(labels.size());
  }
  return LossResult{loss, static_cast<double>(guessed) / std::max<int64_t>(targets, 1)};
}

std::vector<int64_t> Widen(const std::vector<int32_t>& ids) {
  return std::vector<int64_t>(ids.begin(), ids.end());
}

// Whether example `index` (over the whole run) is of the kind that takes a
// share `share` of the examples: spread evenly, deterministic.
bool TakesShare(int64_t index, double share) {
  return std::floor((index + 1) * share) > std::floor(index * share);
}

// The engine's prompt pieces, tokenized as the engine tokenizes them
// (templates with their special tokens, questions and answers as plain
// text), and the token the server stops at.
struct Layout {
  std::vector<int32_t> reconstruct_prompt;  // rcc_reconstruct_prompt, or BOS, or EOS
  std::vector<int32_t> prompt_prefix;       // rcc_prompt_prefix
  std::vector<int32_t> answer_prefix;
  std::vector<int32_t> answer_prefix_without_stops;  // for instruction reconstruction
  std::vector<int32_t> instruction_separator;
  int32_t stop = 0;
};

absl::StatusOr<Layout> MakeLayout(const Tokenizer& tokenizer, const Decoder& decoder) {
  const EngineTemplates templates;  // what the server uses unless configured otherwise
  Layout layout;
  for (auto [text, ids] : {std::pair{&templates.rcc_reconstruct_prompt, &layout.reconstruct_prompt},
                           std::pair{&templates.rcc_prompt_prefix, &layout.prompt_prefix},
                           std::pair{&templates.answer_prefix, &layout.answer_prefix},
                           std::pair{&templates.instruction_separator,
                                     &layout.instruction_separator}}) {
    absl::StatusOr<std::vector<int32_t>> encoded = tokenizer.Encode(*text);
    if (!encoded.ok()) return encoded.status();
    *ids = *std::move(encoded);
  }
  // As Engine::Prepare: an empty reconstruct prompt is BOS, else EOS.
  if (layout.reconstruct_prompt.empty()) {
    std::optional<int32_t> start = tokenizer.bos_id();
    if (!start) start = tokenizer.eos_id();
    if (!start) return absl::FailedPreconditionError("the tokenizer defines neither BOS nor EOS");
    layout.reconstruct_prompt = {*start};
  }
  std::vector<int64_t> stops = decoder.config().eos_token_ids;
  if (tokenizer.eos_id()) {
    layout.stop = *tokenizer.eos_id();
    stops.push_back(*tokenizer.eos_id());
  } else if (!stops.empty()) {
    layout.stop = static_cast<int32_t>(stops.front());
  } else {
    return absl::FailedPreconditionError("neither the tokenizer nor the decoder names an EOS");
  }
  for (int32_t id : layout.answer_prefix) {
    if (std::find(stops.begin(), stops.end(), id) == stops.end()) {
      layout.answer_prefix_without_stops.push_back(id);
    }
  }
  return layout;
}

// Makes x learn to reconstruct `context` as the server's Reconstruct runs.
void SetReconstructionTarget(const Layout& layout, const std::vector<int64_t>& context,
                             RccExample* x) {
  x->prompt = Widen(layout.reconstruct_prompt);
  x->target = context;
  x->target.push_back(layout.stop);
}

// Pretraining examples of windows ids [B, context + continuation]; example
// b is the run's example `first_index + b`, reconstructing or continuing as
// TakesShare says unless `only` names one ("reconstruct" / "continue").
absl::StatusOr<std::vector<RccExample>> PretrainExamples(const RccModel& model,
                                                         const Layout& layout,
                                                         const torch::Tensor& windows,
                                                         int64_t context, int64_t first_index,
                                                         double reconstruct_share,
                                                         const std::string& only = "") {
  const int64_t B = windows.size(0), n = windows.size(1);
  std::vector<std::vector<int64_t>> contexts;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t* w = windows[b].data_ptr<int64_t>();
    contexts.emplace_back(w, w + context);
  }
  absl::StatusOr<std::vector<torch::Tensor>> memories = model.TrainingCompress(contexts);
  if (!memories.ok()) return memories.status();
  std::vector<RccExample> examples;
  for (int64_t b = 0; b < B; ++b) {
    RccExample x;
    x.memory = (*memories)[b];
    const bool reconstruct = only.empty() ? TakesShare(first_index + b, reconstruct_share)
                                          : only == "reconstruct";
    if (reconstruct) {
      SetReconstructionTarget(layout, contexts[b], &x);
    } else {
      const int64_t* w = windows[b].data_ptr<int64_t>();
      x.target.assign(w + context, w + n);
    }
    examples.push_back(std::move(x));
  }
  return examples;
}

// An instruction example in the answering or instruction-reconstruction
// layout (see the header comment).
absl::StatusOr<RccExample> InstructExample(const RccModel& model, const Tokenizer& tokenizer,
                                           const Layout& layout, const InstructionExample& e,
                                           bool instruction_reconstruction) {
  absl::StatusOr<std::vector<int32_t>> question = PlainIds(tokenizer, e.question);
  absl::StatusOr<std::vector<int32_t>> answer = PlainIds(tokenizer, e.answer);
  if (!question.ok()) return question.status();
  if (!answer.ok()) return answer.status();
  std::vector<std::vector<int64_t>> contexts = {Widen(e.context)};
  if (instruction_reconstruction) {
    // The engine compresses separator + question on its own and appends it.
    std::vector<int64_t> instruction = Widen(layout.instruction_separator);
    instruction.insert(instruction.end(), question->begin(), question->end());
    contexts.push_back(std::move(instruction));
  }
  absl::StatusOr<std::vector<torch::Tensor>> memories = model.TrainingCompress(contexts);
  if (!memories.ok()) return memories.status();
  RccExample x;
  x.memory = torch::cat(*memories, 0);
  x.prompt = Widen(layout.prompt_prefix);
  if (instruction_reconstruction) {
    x.target = Widen(*question);
    x.target.insert(x.target.end(), layout.answer_prefix_without_stops.begin(),
                    layout.answer_prefix_without_stops.end());
  } else {
    x.prompt.insert(x.prompt.end(), question->begin(), question->end());
    x.prompt.insert(x.prompt.end(), layout.answer_prefix.begin(), layout.answer_prefix.end());
  }
  x.target.insert(x.target.end(), answer->begin(), answer->end());
  x.target.push_back(layout.stop);
  return x;
}

// Options under which the encoder's own tensors are trainable leaves.
rcc::RccOptions Trainable() {
  rcc::RccOptions options;
  options.unfused_encoder = true;
  return options;
}

absl::StatusOr<std::unique_ptr<RccModel>> FreshRcc(std::shared_ptr<const Decoder> decoder) {
  rcc::RccConfig config;
  config.compression_ratio = absl::GetFlag(FLAGS_ratio);
  config.segment_tokens = absl::GetFlag(FLAGS_segment_tokens);
  config.storage_dtype = absl::GetFlag(FLAGS_storage_dtype);
  config.encoder_layers = absl::GetFlag(FLAGS_encoder_layers);
  config.encoder_shares_decoder_embedding = config.encoder_layers > 0;
  config.encoder_shares_decoder_weights = config.encoder_layers == 0;
  if (absl::Status s = rcc::ValidateRccConfig(config); !s.ok()) return s;
  return RccModel::Initialize(config, std::move(decoder), absl::GetFlag(FLAGS_seed),
                              absl::GetFlag(FLAGS_init_std), Trainable());
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
  if (stage_name != "pretrain" && stage_name != "instruct") {
    return absl::InvalidArgumentError(
        absl::StrCat("--stage must be pretrain or instruct, not ", stage_name));
  }
  const int64_t B = absl::GetFlag(FLAGS_batch);
  const int64_t steps = absl::GetFlag(FLAGS_steps);
  const int64_t context = absl::GetFlag(FLAGS_context_tokens);
  const int64_t continuation = absl::GetFlag(FLAGS_continuation_tokens);
  const double reconstruct_share = absl::GetFlag(FLAGS_reconstruct_share);
  const double ir_share = absl::GetFlag(FLAGS_instruction_reconstruction_share);
  const double replay_share = absl::GetFlag(FLAGS_reconstruction_replay_share);
  const double short_share = absl::GetFlag(FLAGS_replay_short_share);
  if (B < 1 || steps < 1 || context < 1 || continuation < 1) {
    return absl::InvalidArgumentError(
        "--batch, --steps, --context_tokens and --continuation_tokens must be positive");
  }
  if (!(reconstruct_share >= 0 && reconstruct_share <= 1) || !(ir_share >= 0 && ir_share <= 1) ||
      !(replay_share >= 0 && replay_share <= 1) || !(short_share >= 0 && short_share <= 1)) {
    return absl::InvalidArgumentError(
        "--reconstruct_share, --instruction_reconstruction_share, "
        "--reconstruction_replay_share and --replay_short_share must lie in [0, 1]");
  }
  static const char* kKinds[] = {"passkey", "dictionary", "verse"};
  const std::vector<std::string> train_kinds = absl::GetFlag(FLAGS_instruct_kinds);
  if (train_kinds.empty()) {
    return absl::InvalidArgumentError("--instruct_kinds needs at least one kind");
  }
  for (const std::string& kind : train_kinds) {
    if (std::find(std::begin(kKinds), std::end(kKinds), kind) == std::end(kKinds)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--instruct_kinds: unknown kind \"", kind, "\"; the kinds are passkey, dictionary, verse"));
    }
  }
  const std::string decoder_dir = absl::GetFlag(FLAGS_decoder_dir);
  absl::StatusOr<std::unique_ptr<Decoder>> loaded = transformer::LoadDecoder(decoder_dir, {});
  if (!loaded.ok()) return loaded.status();
  std::shared_ptr<const Decoder> decoder = *std::move(loaded);
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
      LoadTokenizer(decoder_dir + "/tokenizer.json");
  if (!tokenizer.ok()) return tokenizer.status();
  absl::StatusOr<Layout> layout = MakeLayout(**tokenizer, *decoder);
  if (!layout.ok()) return layout.status();

  const std::string out_dir = absl::GetFlag(FLAGS_out_dir);
  std::filesystem::create_directories(out_dir);

  // The model: resumed, or the stage's start.
  absl::StatusOr<std::unique_ptr<RccModel>> made;
  const std::optional<std::string> latest = LatestCheckpoint(out_dir);
  if (latest) {
    made = rcc::LoadRcc(*latest, decoder, Trainable());
  } else if (stage_name == "instruct") {
    if (absl::GetFlag(FLAGS_init_from).empty()) {
      return absl::InvalidArgumentError(
          "--stage=instruct needs --init_from=<a pretrained RCC directory>");
    }
    made = rcc::LoadRcc(absl::GetFlag(FLAGS_init_from), decoder, Trainable());
  } else {
    made = FreshRcc(decoder);
  }
  if (!made.ok()) return made.status();
  std::unique_ptr<RccModel> model = *std::move(made);
  if (!model->config().encoder_shares_decoder_weights &&
      !model->config().encoder_shares_decoder_embedding) {
    return absl::FailedPreconditionError(
        "train_rcc trains an RCC whose encoder is the decoder or its first layers; this "
        "checkpoint has a whole encoder of its own (embedding included)");
  }

  const std::string export_dir = absl::GetFlag(FLAGS_export_dir);
  const auto export_model = [&](int64_t step) -> absl::Status {
    const std::map<std::string, std::string> metadata = {
        {"format", "ccs-rcc"}, {"step", std::to_string(step)}, {"stage", stage_name}};
    if (absl::Status s = rcc::SaveRcc(*model, export_dir, torch::kBFloat16, metadata); !s.ok()) {
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
    return export_model(CheckpointStep(*latest));
  }

  // The stage's data.
  const auto t0 = std::chrono::steady_clock::now();
  const std::string corpus = absl::GetFlag(FLAGS_corpus_dir);
  const bool pretrain = stage_name == "pretrain";
  const int64_t window = pretrain ? context + continuation : context;
  absl::StatusOr<std::vector<std::vector<int32_t>>> train = LoadWindows(
      **tokenizer, corpus + "/train.jsonl", window, pretrain ? steps * B : 20000, seed);
  if (!train.ok()) return train.status();
  absl::StatusOr<std::vector<std::vector<int32_t>>> valid =
      LoadWindows(**tokenizer, corpus + "/valid.jsonl", window,
                  std::max<int64_t>(absl::GetFlag(FLAGS_eval_windows), 64), 7);
  if (!valid.ok()) return valid.status();
  Stage stage;
  std::unique_ptr<InstructionGenerator> train_examples, valid_examples;
  // Whole short documents by source (instruct).
  std::vector<std::vector<std::vector<int32_t>>> train_short, valid_short;
  if (pretrain) {
    stage.tokens_per_step = B * context;
    stage.train_loss = [&](int64_t step) -> absl::StatusOr<torch::Tensor> {
      absl::StatusOr<std::vector<RccExample>> examples = PretrainExamples(
          *model, *layout, Batch(*train, step * B, B), context, step * B, reconstruct_share);
      if (!examples.ok()) return examples.status();
      absl::StatusOr<LossResult> r = ExamplesLoss(*model, *examples);
      if (!r.ok()) return r.status();
      return r->loss;
    };
    // Every validation window is run both ways: batch 2k reconstructs
    // windows [kB, kB + B), batch 2k + 1 continues them.
    const int64_t eval_windows =
        std::min<int64_t>(absl::GetFlag(FLAGS_eval_windows), valid->size());
    stage.valid_batches = 2 * ((eval_windows + B - 1) / B);
    stage.valid_group = [](int64_t batch) {
      return std::string(batch % 2 == 0 ? "reconstruct" : "continue");
    };
    stage.valid_loss = [&, eval_windows](int64_t batch) -> absl::StatusOr<LossResult> {
      const int64_t first = (batch / 2) * B;
      absl::StatusOr<std::vector<RccExample>> examples = PretrainExamples(
          *model, *layout, Batch(*valid, first, std::min<int64_t>(B, eval_windows - first)),
          context, first, reconstruct_share, stage.valid_group(batch));
      if (!examples.ok()) return examples.status();
      return ExamplesLoss(*model, *examples);
    };
  } else {
    const auto facts = [&](const std::string& split)
        -> absl::StatusOr<std::pair<std::vector<FactLine>, std::vector<FactLine>>> {
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
    const auto short_documents = [&](const std::string& split)
        -> absl::StatusOr<std::vector<std::vector<std::vector<int32_t>>>> {
      absl::StatusOr<std::vector<JsonlRecord>> docs =
          ReadJsonl(corpus + "/" + split + ".jsonl", {"source", "text"});
      if (!docs.ok()) return docs.status();
      return ShortDocuments(**tokenizer, *docs, /*min_tokens=*/8, context, /*per_source=*/2000,
                            seed);
    };
    for (auto [split, documents] :
         {std::pair{"train", &train_short}, std::pair{"valid", &valid_short}}) {
      absl::StatusOr<std::vector<std::vector<std::vector<int32_t>>>> read = short_documents(split);
      if (!read.ok()) return read.status();
      *documents = *std::move(read);
    }
    if (short_share > 0 && train_short.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("--replay_short_share: ", corpus, "/train.jsonl has no document of 8 to ",
                       context, " tokens"));
    }
    train_examples = std::make_unique<InstructionGenerator>(
        tokenizer->get(), *train, std::move(train_facts->first), std::move(train_facts->second));
    valid_examples = std::make_unique<InstructionGenerator>(
        tokenizer->get(), *valid, std::move(valid_facts->first), std::move(valid_facts->second));
    // A batch of `kind` (passkeys in 1, 2 or 4 contexts), each example a
    // replayed reconstruction with chance `replay` (a short text with
    // chance `replay_short`: a whole document of `shorts`, or a prefix of a
    // window of `windows`; else a window), else in the
    // instruction-reconstruction layout with chance ir_share.
    const auto examples = [&, context, B, ir_share](
                              const InstructionGenerator& generator,
                              const std::vector<std::vector<int32_t>>& windows,
                              const std::vector<std::vector<std::vector<int32_t>>>& shorts,
                              double replay, double replay_short, uint64_t draw,
                              const std::string& kind) -> absl::StatusOr<std::vector<RccExample>> {
      SplitMix64 rng(draw);
      const auto chance = [&rng](double p) {
        return static_cast<double>(rng.Below(1000000)) < p * 1e6;
      };
      const int64_t units = kind == "passkey" ? int64_t{1} << rng.Below(3) : 1;
      std::vector<RccExample> batch;
      for (int64_t b = 0; b < B; ++b) {
        if (chance(replay)) {
          // No draw for the short share when it is 0: the whole-window
          // replays then match the runs before it existed.
          const bool short_text = replay_short > 0 && chance(replay_short);
          std::vector<int64_t> text;
          if (short_text && rng.Below(2) == 0) {
            const auto& source = shorts[rng.Below(shorts.size())];
            text = Widen(source[rng.Below(source.size())]);
          } else {
            text = Widen(windows[rng.Below(windows.size())]);
            if (short_text) {
              const int64_t lo = std::min<int64_t>(16, context);
              text.resize(lo + rng.Below(context - lo + 1));
            }
          }
          absl::StatusOr<std::vector<torch::Tensor>> memory = model->TrainingCompress({text});
          if (!memory.ok()) return memory.status();
          RccExample x;
          x.memory = (*memory)[0];
          SetReconstructionTarget(*layout, text, &x);
          batch.push_back(std::move(x));
          continue;
        }
        absl::StatusOr<InstructionExample> e = generator.Make(kind, units * context, rng);
        if (!e.ok()) return e.status();
        const bool ir = chance(ir_share);
        absl::StatusOr<RccExample> x = InstructExample(*model, **tokenizer, *layout, *e, ir);
        if (!x.ok()) return x.status();
        batch.push_back(*std::move(x));
      }
      return batch;
    };
    stage.tokens_per_step = B * context;  // context tokens of a 1-unit step (a lower bound)
    stage.train_loss = [&, examples](int64_t step) -> absl::StatusOr<torch::Tensor> {
      auto batch = examples(*train_examples, *train, train_short, replay_share, short_share,
                            seed * 1000003 + step, train_kinds[step % train_kinds.size()]);
      if (!batch.ok()) return batch.status();
      absl::StatusOr<LossResult> r = ExamplesLoss(*model, *batch);
      if (!r.ok()) return r.status();
      return r->loss;
    };
    // Two batches of each kind, then two of replayed reconstructions of
    // whole windows, then two of short texts (if the corpus has some).
    stage.valid_batches = valid_short.empty() ? 8 : 10;
    stage.valid_group = [](int64_t batch) {
      return std::string(batch < 6 ? kKinds[batch % 3]
                                   : batch < 8 ? "reconstruct" : "reconstruct short");
    };
    stage.valid_loss = [&, examples](int64_t batch) -> absl::StatusOr<LossResult> {
      auto examples_of_batch =
          examples(*valid_examples, *valid, valid_short, batch < 6 ? 0.0 : 1.0,
                   batch < 8 ? 0.0 : 1.0, 99991 + batch, kKinds[batch % 3]);
      if (!examples_of_batch.ok()) return examples_of_batch.status();
      return ExamplesLoss(*model, *examples_of_batch);
    };
  }
  int64_t trained_parameters = 0;
  for (const auto& [name, tensor] : model->Parameters()) trained_parameters += tensor.numel();
  std::fprintf(stderr,
               "stage %s: %zu training windows, %zu validation windows of %lld tokens, "
               "read in %.1f s; ratio %lld, segments of %lld tokens, encoder of %lld layers "
               "(%s), %lld trained parameters in %zu tensors\n",
               stage_name.c_str(), train->size(), valid->size(), static_cast<long long>(window),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
               static_cast<long long>(model->config().compression_ratio),
               static_cast<long long>(model->config().segment_tokens),
               static_cast<long long>(model->encoder().config().num_hidden_layers),
               model->config().encoder_shares_decoder_weights ? "the frozen decoder" : "trained",
               static_cast<long long>(trained_parameters), model->Parameters().size());

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
      stage, options, loop, model->Parameters(), out_dir, latest,
      [&](const std::string& path) { return rcc::SaveRcc(*model, path, torch::kFloat); });
  if (!reached.ok()) return reached.status();
  return export_dir.empty() ? absl::OkStatus() : export_model(*reached);
}

}  // namespace
}  // namespace ccs::model::train

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const absl::Status status = ccs::model::train::Run();
  if (!status.ok()) {
    std::fprintf(stderr, "train_rcc: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
