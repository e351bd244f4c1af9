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
// Every --checkpoint_every steps a checkpoint is written (see trainer.h);
// rerunning the same command resumes from the newest one. At the end the
// trained former is exported in bfloat16 to --export_dir (a directory that
// LoadIcFormer and the server's --icformer_dir read).
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
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
#include "model/train/text_windows.h"
#include "model/train/trainer.h"
#include "model/transformer/loader.h"

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
ABSL_FLAG(int64_t, log_every, 10, "steps between progress lines");
ABSL_FLAG(int64_t, eval_every, 200, "steps between validation passes");
ABSL_FLAG(int64_t, eval_windows, 32, "validation windows");
ABSL_FLAG(int64_t, checkpoint_every, 100, "steps between checkpoints");

namespace ccs::model::train {
namespace {

using icformer::IcFormer;
using transformer::Decoder;

struct AeResult {
  torch::Tensor loss;   // scalar
  double accuracy = 0;  // of the greedy next-token guesses (teacher forcing)
};

// The autoencoding loss of windows ids [B, n].
absl::StatusOr<AeResult> AeLoss(const IcFormer& former, const Decoder& decoder,
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
  AeResult result;
  result.loss = torch::cross_entropy_loss(logits.reshape({B * n, -1}), ids.reshape({B * n}));
  result.accuracy = logits.argmax(-1).eq(ids).to(torch::kFloat).mean().item<double>();
  return result;
}

// Windows [first, first + B) of `windows` (cyclically) as a [B, n] tensor.
torch::Tensor Batch(const std::vector<std::vector<int32_t>>& windows, int64_t first, int64_t B) {
  const int64_t n = static_cast<int64_t>(windows[0].size());
  torch::Tensor ids = torch::empty({B, n}, torch::kLong);
  for (int64_t b = 0; b < B; ++b) {
    const std::vector<int32_t>& w = windows[(first + b) % windows.size()];
    for (int64_t t = 0; t < n; ++t) ids[b][t] = w[t];
  }
  return ids;
}

absl::StatusOr<std::vector<std::vector<int32_t>>> LoadWindows(const Tokenizer& tokenizer,
                                                              const std::string& path,
                                                              int64_t n, int64_t count,
                                                              uint64_t seed) {
  absl::StatusOr<std::vector<JsonlRecord>> docs = ReadJsonl(path, {"text"});
  if (!docs.ok()) return docs.status();
  WindowOptions options;
  options.length = n;
  options.max_windows = count;
  options.seed = seed;
  absl::StatusOr<std::vector<std::vector<int32_t>>> windows =
      PackWindows(tokenizer, Texts(*docs, "text"), options);
  if (windows.ok() && windows->empty()) {
    return absl::FailedPreconditionError(absl::StrCat(path, " gives no window of ", n, " tokens"));
  }
  return windows;
}

absl::Status Run() {
  TorchOptions torch_options;
  torch_options.intra_op_threads = absl::GetFlag(FLAGS_threads);
  if (absl::StatusOr<TorchRuntime> rt = ConfigureTorch(torch_options); !rt.ok()) {
    return rt.status();
  }
  torch::manual_seed(absl::GetFlag(FLAGS_seed));
  const std::string decoder_dir = absl::GetFlag(FLAGS_decoder_dir);
  absl::StatusOr<std::unique_ptr<Decoder>> loaded = transformer::LoadDecoder(decoder_dir, {});
  if (!loaded.ok()) return loaded.status();
  std::shared_ptr<const Decoder> decoder = *std::move(loaded);
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
      LoadTokenizer(decoder_dir + "/tokenizer.json");
  if (!tokenizer.ok()) return tokenizer.status();

  const int64_t n = absl::GetFlag(FLAGS_chunk_tokens), B = absl::GetFlag(FLAGS_batch);
  const int64_t steps = absl::GetFlag(FLAGS_steps);
  const std::string out_dir = absl::GetFlag(FLAGS_out_dir);
  std::filesystem::create_directories(out_dir);

  // The former: resumed, or fresh.
  std::unique_ptr<IcFormer> former;
  const std::optional<std::string> latest = LatestCheckpoint(out_dir);
  if (latest) {
    absl::StatusOr<std::unique_ptr<IcFormer>> resumed = icformer::LoadIcFormer(*latest, decoder);
    if (!resumed.ok()) return resumed.status();
    former = *std::move(resumed);
  } else {
    icformer::IcFormerConfig config;
    config.hidden_size = decoder->config().hidden_size;
    config.context_hidden_size = config.hidden_size;
    config.num_hidden_layers = absl::GetFlag(FLAGS_layers);
    config.num_attention_heads = absl::GetFlag(FLAGS_heads);
    config.num_key_value_heads = absl::GetFlag(FLAGS_kv_heads);
    config.head_dim = config.hidden_size / config.num_attention_heads;
    config.intermediate_size = absl::GetFlag(FLAGS_intermediate);
    config.num_query_tokens = absl::GetFlag(FLAGS_digests);
    config.max_chunk_len = n;
    config.rms_norm_eps = decoder->config().norm_eps;
    absl::StatusOr<std::unique_ptr<IcFormer>> fresh =
        IcFormer::Initialize(config, decoder, absl::GetFlag(FLAGS_seed), /*with_ft=*/false);
    if (!fresh.ok()) return fresh.status();
    former = *std::move(fresh);
  }

  const std::string export_dir = absl::GetFlag(FLAGS_export_dir);
  const auto export_former = [&](int64_t step) -> absl::Status {
    const std::map<std::string, std::string> metadata = {
        {"format", "ccs-icformer"}, {"step", std::to_string(step)}, {"stage", "ae"}};
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
    const std::string name = std::filesystem::path(*latest).filename().string();  // ckpt-<step>
    return export_former(std::stoll(name.substr(name.find('-') + 1)));
  }

  const auto t0 = std::chrono::steady_clock::now();
  const std::string corpus = absl::GetFlag(FLAGS_corpus_dir);
  absl::StatusOr<std::vector<std::vector<int32_t>>> train =
      LoadWindows(**tokenizer, corpus + "/train.jsonl", n, steps * B, absl::GetFlag(FLAGS_seed));
  if (!train.ok()) return train.status();
  absl::StatusOr<std::vector<std::vector<int32_t>>> valid = LoadWindows(
      **tokenizer, corpus + "/valid.jsonl", n, absl::GetFlag(FLAGS_eval_windows), 7);
  if (!valid.ok()) return valid.status();
  std::fprintf(stderr, "%zu training windows (%lld needed), %zu validation windows of %lld tokens, "
               "read in %.1f s\n", train->size(), static_cast<long long>(steps * B),
               valid->size(), static_cast<long long>(n),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

  TrainerOptions options;
  options.schedule = {absl::GetFlag(FLAGS_lr), absl::GetFlag(FLAGS_warmup), steps, 0.1};
  if (absl::Status s = ValidateLrSchedule(options.schedule); !s.ok()) return s;
  options.weight_decay = absl::GetFlag(FLAGS_weight_decay);
  options.clip_norm = absl::GetFlag(FLAGS_clip_norm);
  Trainer trainer(options, former->Parameters());
  if (latest) {
    if (absl::Status s = trainer.LoadState(*latest + "/trainer.pt"); !s.ok()) return s;
    std::fprintf(stderr, "resumed from %s at step %lld\n", latest->c_str(),
                 static_cast<long long>(trainer.step()));
  }

  const auto evaluate = [&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    double loss = 0, accuracy = 0;
    int64_t batches = 0;
    for (size_t first = 0; first < valid->size(); first += B) {
      const int64_t b = std::min<int64_t>(B, valid->size() - first);
      absl::StatusOr<AeResult> r = AeLoss(*former, *decoder, Batch(*valid, first, b));
      if (!r.ok()) return r.status();
      loss += r->loss.item<double>();
      accuracy += r->accuracy;
      ++batches;
    }
    std::fprintf(stderr, "eval step %lld: validation loss %.4f token accuracy %.4f\n",
                 static_cast<long long>(trainer.step()), loss / batches, accuracy / batches);
    return absl::OkStatus();
  };
  const auto save = [&]() -> absl::Status {
    const std::string path = CheckpointPath(out_dir, trainer.step());
    if (absl::Status s = icformer::SaveIcFormer(*former, path, torch::kFloat); !s.ok()) return s;
    if (absl::Status s = trainer.SaveState(path + "/trainer.pt"); !s.ok()) return s;
    return CommitCheckpoint(out_dir, trainer.step());
  };

  if (absl::Status s = evaluate(); !s.ok()) return s;
  while (trainer.step() < steps) {
    const torch::Tensor ids = Batch(*train, trainer.step() * B, B);
    absl::StatusOr<StepStats> stats = trainer.Step(
        [&]() -> absl::StatusOr<torch::Tensor> {
          absl::StatusOr<AeResult> r = AeLoss(*former, *decoder, ids);
          if (!r.ok()) return r.status();
          return r->loss;
        },
        B * n);
    if (!stats.ok()) return stats.status();
    const int64_t step = trainer.step();
    if (step % absl::GetFlag(FLAGS_log_every) == 0 || step == steps) {
      std::fprintf(stderr, "%s\n", trainer.ProgressLine().c_str());
    }
    if (step % absl::GetFlag(FLAGS_checkpoint_every) == 0 || step == steps) {
      if (absl::Status s = save(); !s.ok()) return s;
    }
    if (step % absl::GetFlag(FLAGS_eval_every) == 0 || step == steps) {
      if (absl::Status s = evaluate(); !s.ok()) return s;
    }
  }
  return export_dir.empty() ? absl::OkStatus() : export_former(trainer.step());
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
