#include "model/train/stage.h"

#include <cstdio>
#include <filesystem>
#include <map>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/train/text_windows.h"

namespace ccs::model::train {

absl::Status Evaluate(const Stage& stage, int64_t step) {
  torch::NoGradGuard no_grad;
  struct Sums {
    double loss = 0, accuracy = 0;
    int64_t batches = 0;
  };
  Sums all;
  std::vector<std::pair<std::string, Sums>> groups;  // in order of appearance
  for (int64_t batch = 0; batch < stage.valid_batches; ++batch) {
    absl::StatusOr<LossResult> r = stage.valid_loss(batch);
    if (!r.ok()) return r.status();
    const double loss = r->loss.item<double>();
    all.loss += loss;
    all.accuracy += r->accuracy;
    ++all.batches;
    if (stage.valid_group) {
      const std::string group = stage.valid_group(batch);
      auto it = groups.begin();
      while (it != groups.end() && it->first != group) ++it;
      if (it == groups.end()) it = groups.insert(groups.end(), {group, Sums{}});
      it->second.loss += loss;
      it->second.accuracy += r->accuracy;
      ++it->second.batches;
    }
  }
  std::string detail;
  for (const auto& [group, sums] : groups) {
    absl::StrAppend(&detail, detail.empty() ? " (" : "; ",
                    absl::StrFormat("%s: loss %.4f accuracy %.4f", group,
                                    sums.loss / sums.batches, sums.accuracy / sums.batches));
  }
  if (!detail.empty()) detail += ")";
  std::fprintf(stderr, "eval step %lld: validation loss %.4f token accuracy %.4f%s\n",
               static_cast<long long>(step), all.loss / stage.valid_batches,
               all.accuracy / stage.valid_batches, detail.c_str());
  return absl::OkStatus();
}

absl::StatusOr<int64_t> TrainStage(const Stage& stage, const TrainerOptions& options,
                                   const LoopOptions& loop, NamedTensors params,
                                   const std::string& out_dir,
                                   const std::optional<std::string>& resume_from,
                                   const std::function<absl::Status(const std::string&)>& save_model) {
  if (absl::Status s = ValidateLrSchedule(options.schedule); !s.ok()) return s;
  Trainer trainer(options, std::move(params));
  if (resume_from) {
    if (absl::Status s = trainer.LoadState(*resume_from + "/trainer.pt"); !s.ok()) return s;
    std::fprintf(stderr, "resumed from %s at step %lld\n", resume_from->c_str(),
                 static_cast<long long>(trainer.step()));
  }
  const auto save = [&]() -> absl::Status {
    const std::string path = CheckpointPath(out_dir, trainer.step());
    if (absl::Status s = save_model(path); !s.ok()) return s;
    if (absl::Status s = trainer.SaveState(path + "/trainer.pt"); !s.ok()) return s;
    return CommitCheckpoint(out_dir, trainer.step());
  };
  if (absl::Status s = Evaluate(stage, trainer.step()); !s.ok()) return s;
  while (trainer.step() < loop.steps) {
    const int64_t step = trainer.step();
    absl::StatusOr<StepStats> stats =
        trainer.Step([&] { return stage.train_loss(step); }, stage.tokens_per_step);
    if (!stats.ok()) return stats.status();
    const int64_t done = trainer.step();
    if (done % loop.log_every == 0 || done == loop.steps) {
      std::fprintf(stderr, "%s\n", trainer.ProgressLine().c_str());
    }
    if (done % loop.checkpoint_every == 0 || done == loop.steps) {
      if (absl::Status s = save(); !s.ok()) return s;
    }
    if (done % loop.eval_every == 0 || done == loop.steps) {
      if (absl::Status s = Evaluate(stage, done); !s.ok()) return s;
    }
  }
  return trainer.step();
}

int64_t CheckpointStep(const std::string& checkpoint_path) {
  const std::string name = std::filesystem::path(checkpoint_path).filename().string();
  int64_t step = -1;
  if (name.rfind("ckpt-", 0) != 0 || !absl::SimpleAtoi(name.substr(5), &step)) return -1;
  return step;
}

torch::Tensor Batch(const std::vector<std::vector<int32_t>>& windows, int64_t first, int64_t B) {
  const int64_t n = static_cast<int64_t>(windows[0].size());
  torch::Tensor ids = torch::empty({B, n}, torch::kLong);
  int64_t* out = ids.data_ptr<int64_t>();
  for (int64_t b = 0; b < B; ++b) {
    const std::vector<int32_t>& w = windows[(first + b) % windows.size()];
    for (int64_t t = 0; t < n; ++t) out[b * n + t] = w[t];
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

absl::StatusOr<std::vector<int32_t>> PlainIds(const Tokenizer& tokenizer, const std::string& text) {
  EncodeOptions plain;
  plain.parse_special_tokens = false;
  return tokenizer.Encode(text, plain);
}

}  // namespace ccs::model::train
