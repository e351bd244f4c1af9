#include "model/train/trainer.h"

#include <ftw.h>

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/transformer/internal/torch_errors.h"

namespace ccs::model::train {
namespace {

using transformer::internal::GuardTorch;

std::vector<torch::optim::OptimizerParamGroup> ParamGroups(const NamedTensors& params,
                                                           const TrainerOptions& o) {
  std::vector<torch::Tensor> decayed, plain;
  for (const auto& [name, tensor] : params) {
    const bool no_decay = tensor.dim() <= 1 || absl::StrContains(name, "norm");
    (no_decay ? plain : decayed).push_back(tensor);
  }
  const auto adamw = [&](double weight_decay) {
    auto options = std::make_unique<torch::optim::AdamWOptions>(o.schedule.peak);
    options->betas({o.beta1, o.beta2}).eps(o.eps).weight_decay(weight_decay);
    return options;
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (!decayed.empty()) groups.emplace_back(decayed, adamw(o.weight_decay));
  if (!plain.empty()) groups.emplace_back(plain, adamw(0.0));
  return groups;
}

}  // namespace

Trainer::Trainer(const TrainerOptions& options, NamedTensors params)
    : options_(options), params_(std::move(params)) {
  for (auto& [name, tensor] : params_) tensor.requires_grad_(true);
  optimizer_ = std::make_unique<torch::optim::AdamW>(
      ParamGroups(params_, options_), torch::optim::AdamWOptions(options_.schedule.peak));
}

absl::StatusOr<StepStats> Trainer::Step(
    const std::function<absl::StatusOr<torch::Tensor>()>& loss_fn, int64_t tokens) {
  return GuardTorch("Trainer::Step", [&]() -> absl::StatusOr<StepStats> {
    optimizer_->zero_grad(/*set_to_none=*/true);
    absl::StatusOr<torch::Tensor> loss = loss_fn();
    if (!loss.ok()) return loss.status();
    StepStats stats;
    stats.loss = loss->item<double>();
    if (!std::isfinite(stats.loss)) {
      return absl::FailedPreconditionError(
          absl::StrCat("step ", step_, ": the loss is ", stats.loss, "; nothing was updated"));
    }
    loss->backward();
    std::vector<torch::Tensor> tensors;
    for (const auto& [name, tensor] : params_) {
      if (tensor.grad().defined()) tensors.push_back(tensor);
    }
    stats.grad_norm = options_.clip_norm > 0
                          ? torch::nn::utils::clip_grad_norm_(tensors, options_.clip_norm)
                          : torch::nn::utils::clip_grad_norm_(tensors, 1e30);
    stats.lr = LearningRate(options_.schedule, step_);
    for (torch::optim::OptimizerParamGroup& group : optimizer_->param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(stats.lr);
    }
    optimizer_->step();
    ++step_;
    tokens_ += tokens;
    loss_sum_ += stats.loss;
    ++loss_count_;
    last_ = stats;
    return stats;
  });
}

absl::Status Trainer::SaveState(const std::string& path) const {
  return GuardTorch("Trainer::SaveState", [&]() -> absl::Status {
    torch::serialize::OutputArchive archive;
    optimizer_->save(archive);
    archive.write("step", torch::tensor(step_, torch::kLong));
    archive.save_to(path);
    return absl::OkStatus();
  });
}

absl::Status Trainer::LoadState(const std::string& path) {
  if (!std::filesystem::exists(path)) {
    return absl::NotFoundError(absl::StrCat("no trainer state at ", path));
  }
  return GuardTorch("Trainer::LoadState", [&]() -> absl::Status {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    optimizer_->load(archive);
    torch::Tensor step;
    archive.read("step", step);
    step_ = first_step_ = step.item<int64_t>();
    return absl::OkStatus();
  });
}

std::string Trainer::ProgressLine() {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const int64_t done = step_ - first_step_;
  const int64_t left = std::max<int64_t>(0, options_.schedule.total_steps - step_);
  const double average = loss_count_ > 0 ? loss_sum_ / static_cast<double>(loss_count_) : 0;
  loss_sum_ = 0;
  loss_count_ = 0;
  return absl::StrFormat(
      "step %d/%d loss %.4f (avg %.4f) lr %.2e |g| %.2f %.0f tok/s elapsed %s eta %s", step_,
      options_.schedule.total_steps, last_.loss, average, last_.lr, last_.grad_norm,
      elapsed > 0 ? static_cast<double>(tokens_) / elapsed : 0.0, FormatDuration(elapsed),
      done > 0 ? FormatDuration(elapsed / static_cast<double>(done) * static_cast<double>(left))
               : std::string("?"));
}

std::string CheckpointPath(const std::string& dir, int64_t step) {
  return absl::StrCat(dir, "/ckpt-", step);
}

namespace {

int RemoveEntry(const char* path, const struct stat*, int, struct FTW*) {
  return std::remove(path) == 0 ? 0 : -1;
}

// Removes `path` and everything under it, with libc's nftw. Not
// std::filesystem::remove_all: libtorch.so exports its own copy of
// libstdc++'s filesystem code, which the dynamic linker binds ahead of
// libstdc++'s, and that copy's remove_all jumps to a null address as soon as
// it has to recurse into a non-empty directory.
void RemoveTree(const std::string& path) {
  nftw(path.c_str(), RemoveEntry, 16, FTW_DEPTH | FTW_PHYS);
}

}  // namespace

absl::Status CommitCheckpoint(const std::string& dir, int64_t step) {
  const std::string latest = dir + "/LATEST";
  {
    std::ofstream out(latest + ".tmp", std::ios::trunc);
    out << "ckpt-" << step << "\n";
    out.close();
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", latest));
  }
  std::error_code error;
  std::filesystem::rename(latest + ".tmp", latest, error);
  if (error) return absl::InternalError(absl::StrCat("cannot write ", latest, ": ", error.message()));
  // Keep this checkpoint and the newest older one.
  const std::regex pattern("ckpt-([0-9]+)");
  std::vector<int64_t> older;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::smatch match;
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, match, pattern) && std::stoll(match[1]) < step) {
      older.push_back(std::stoll(match[1]));
    }
  }
  std::sort(older.begin(), older.end());
  for (size_t i = 0; i + 1 < older.size(); ++i) {
    RemoveTree(CheckpointPath(dir, older[i]));
  }
  return absl::OkStatus();
}

std::optional<std::string> LatestCheckpoint(const std::string& dir) {
  std::ifstream in(dir + "/LATEST");
  std::string name;
  if (!(in >> name) || name.empty()) return std::nullopt;
  const std::string path = dir + "/" + name;
  if (!std::filesystem::is_directory(path)) return std::nullopt;
  return path;
}

std::string FormatDuration(double seconds) {
  const int64_t minutes = static_cast<int64_t>(seconds / 60.0 + 0.5);
  return absl::StrFormat("%dh%02dm", minutes / 60, minutes % 60);
}

}  // namespace ccs::model::train
