// RCC benchmark: compression time and memory bytes per 1k context tokens,
// and Generate's time to first token from RCC memory against the same
// decoder reading the raw context, at several context lengths, in one run.
//
// The model is SmolLM2-135M-Instruct's shape: the decoder is the base model,
// the encoder a copy of it, the projections random (timing and sizes do not
// depend on trained values; the 4x demo RCC is not what this measures).
// r = 32, W = 2048 as released. Prints a Markdown table; run_rcc_benchmark.sh puts
// it in docs/benchmarks.md.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "model/benchmarks/bench_util.h"
#include "model/transformer/generate.h"

ABSL_FLAG(std::string, model_dir, "models/smollm2-135m-instruct", "base model directory");
ABSL_FLAG(int, threads, 2, "libtorch intra-op threads");
ABSL_FLAG(std::string, lengths, "512,1024,2048,4096", "context lengths in tokens");
ABSL_FLAG(int, repeats, 2, "timed runs per measurement (best is kept)");

using namespace ccs::model;  // NOLINT: a benchmark binary
using bench::Check;
using bench::Seconds;

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  bench::RccSetup setup =
      bench::LoadRccSetup(absl::GetFlag(FLAGS_model_dir), absl::GetFlag(FLAGS_threads));
  const std::shared_ptr<const transformer::Decoder>& decoder = setup.decoder;
  const transformer::DecoderConfig& config = decoder->config();
  const std::unique_ptr<rcc::RccModel>& rcc = setup.rcc;

  const int repeats = absl::GetFlag(FLAGS_repeats);
  const std::vector<int64_t> prompt = {28, 1456, 282, 260, 1470, 47};  // a short question
  std::printf(
      "| context tokens | RCC slots | RCC compress s | RCC compress s per 1k tokens | "
      "RCC memory MB | raw KV MB (float32) | TTFT RCC s | TTFT raw context s | TTFT ratio |\n"
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  for (int64_t n : bench::Ints(absl::GetFlag(FLAGS_lengths))) {
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
