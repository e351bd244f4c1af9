#include "model/benchmarks/bench_util.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "model/runtime.h"
#include "model/transformer/loader.h"
#include "model/weights/weights.h"

namespace ccs::model::bench {

double Seconds(const std::function<void()>& run, int repeats) {
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    run();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                              .count());
  }
  return best;
}

std::vector<int64_t> Ints(const std::string& list) {
  std::vector<int64_t> out;
  for (absl::string_view item : absl::StrSplit(list, ',')) {
    int64_t v = 0;
    if (!absl::SimpleAtoi(item, &v) || v < 1) {
      std::cerr << "not a list of positive numbers: " << list << "\n";
      std::exit(2);
    }
    out.push_back(v);
  }
  return out;
}

RccSetup LoadRccSetup(const std::string& model_dir, int threads) {
  TorchOptions torch_options;
  torch_options.intra_op_threads = threads;
  Check(ConfigureTorch(torch_options));
  RccSetup setup;
  setup.decoder = Check(transformer::LoadDecoder(model_dir, {torch::kCPU, torch::kFloat32}));
  const transformer::DecoderConfig& config = setup.decoder->config();
  WeightMap base = Check(LoadSafetensors(model_dir, torch::kFloat32));
  transformer::WeightMap weights;
  for (auto& [name, tensor] : base) weights["model.rcc_encoder." + name] = tensor;
  torch::manual_seed(0);
  const int64_t d = config.hidden_size;
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  weights["model.rcc_encoder2gpt_embed.weight"] = torch::randn({d, d}) * scale;
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    weights["model.rcc_encoder2gpt_A_matrix." + std::to_string(i) + ".weight"] =
        torch::randn({d, d}) * scale / 10;
  }
  setup.rcc = Check(rcc::RccModel::Create(rcc::RccConfig(), config, &weights, setup.decoder));
  return setup;
}

}  // namespace ccs::model::bench
