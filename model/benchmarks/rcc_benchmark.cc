// RCC benchmark: compression time and memory bytes per 1k context tokens,
// and Generate's time to first token from RCC memory against the same
// decoder reading the raw context, at several context lengths, in one run.
//
// The model is SmolLM2-135M-Instruct's shape: the decoder is the base model,
// the encoder a copy of it, the projections random (timing and sizes do not
// depend on trained values; no trained RCC compressor exists yet). r = 32,
// W = 2048 as released. Prints a Markdown table; run_rcc_benchmark.sh puts
// it in docs/benchmarks.md.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "model/rcc/rcc_model.h"
#include "model/runtime.h"
#include "model/transformer/generate.h"
#include "model/transformer/loader.h"
#include "model/weights/weights.h"

ABSL_FLAG(std::string, model_dir, "models/smollm2-135m-instruct", "base model directory");
ABSL_FLAG(int, threads, 2, "libtorch intra-op threads");
ABSL_FLAG(std::string, lengths, "512,1024,2048,4096", "context lengths in tokens");
ABSL_FLAG(int, repeats, 2, "timed runs per measurement (best is kept)");

namespace {

using namespace ccs::model;  // NOLINT: a benchmark binary

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

template <typename T>
T Check(absl::StatusOr<T> value) {
  if (!value.ok()) {
    std::cerr << value.status() << "\n";
    std::exit(1);
  }
  return *std::move(value);
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  TorchOptions torch_options;
  torch_options.intra_op_threads = absl::GetFlag(FLAGS_threads);
  Check(ConfigureTorch(torch_options));
  const std::string dir = absl::GetFlag(FLAGS_model_dir);
  std::shared_ptr<const transformer::Decoder> decoder =
      Check(transformer::LoadDecoder(dir, {torch::kCPU, torch::kFloat32}));
  const transformer::DecoderConfig& config = decoder->config();
  // Encoder: a copy of the base model; projections: random.
  WeightMap base = Check(LoadSafetensors(dir, torch::kFloat32));
  transformer::WeightMap rcc_weights;
  for (auto& [name, tensor] : base) rcc_weights["model.rcc_encoder." + name] = tensor;
  torch::manual_seed(0);
  const int64_t d = config.hidden_size;
  rcc_weights["model.rcc_encoder2gpt_embed.weight"] = torch::randn({d, d}) / std::sqrt(d);
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    rcc_weights["model.rcc_encoder2gpt_A_matrix." + std::to_string(i) + ".weight"] =
        torch::randn({d, d}) / std::sqrt(d) / 10;
  }
  rcc::RccConfig rcc_config;  // r = 32, W = 2048, bfloat16 storage
  std::unique_ptr<rcc::RccModel> rcc =
      Check(rcc::RccModel::Create(rcc_config, config, &rcc_weights, decoder));

  const int repeats = absl::GetFlag(FLAGS_repeats);
  const std::vector<int64_t> prompt = {28, 1456, 282, 260, 1470, 47};  // a short question
  std::printf(
      "| context tokens | RCC slots | RCC compress s | RCC compress s per 1k tokens | "
      "RCC memory MB | raw KV MB (float32) | TTFT RCC s | TTFT raw context s | TTFT ratio |\n"
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  for (absl::string_view item : absl::StrSplit(absl::GetFlag(FLAGS_lengths), ',')) {
    int64_t n = 0;
    if (!absl::SimpleAtoi(item, &n) || n < 1) return 2;
    std::vector<int64_t> context(n);
    for (int64_t i = 0; i < n; ++i) context[i] = 100 + (i * 7919) % 40000;
    torch::Tensor memory;
    const double compress_s = Seconds([&] { memory = Check(rcc->Compress({context}))[0]; }, repeats);
    const double memory_mb = memory.numel() * memory.element_size() / 1e6;
    const double kv_mb = 2.0 * config.num_hidden_layers * n * config.num_key_value_heads *
                         config.head_dim * 4 / 1e6;
    // Time to first token: build the prefix, prefill the prompt, one token.
    auto first_token = [&](std::shared_ptr<const transformer::KvCache> prefix,
                           std::vector<int64_t> prompt_ids) {
      transformer::GenerationRequest request;
      request.prompt_ids = std::move(prompt_ids);
      request.prefix = std::move(prefix);
      request.sampling.max_new_tokens = 1;
      Check(transformer::Generate(*decoder, {request}));
    };
    const double ttft_rcc = Seconds([&] { first_token(Check(rcc->BuildPrefix(memory)), prompt); },
                                    repeats);
    const double ttft_raw = Seconds(
        [&] {
          std::vector<int64_t> whole = context;
          whole.insert(whole.end(), prompt.begin(), prompt.end());
          transformer::GenerationRequest request;
          request.prompt_ids = whole;
          request.sampling.max_new_tokens = 1;
          Check(transformer::Generate(*decoder, {request}));
        },
        repeats);
    std::printf("| %lld | %lld | %.3f | %.3f | %.2f | %.1f | %.3f | %.3f | %.1fx |\n",
                static_cast<long long>(n), static_cast<long long>(memory.size(0)), compress_s,
                compress_s / (n / 1000.0), memory_mb, kv_mb, ttft_rcc, ttft_raw,
                ttft_raw / ttft_rcc);
    std::fflush(stdout);
  }
  return 0;
}
