// Compression benchmark: IC-Former against the RCC encoder on one machine in
// one run: latency and throughput over context lengths and batch sizes,
// analytic FLOPs beside each time, and achieved GFLOP/s against the
// machine's measured float32 matrix-product peak. Also the FLOP ratio at the
// published sizes (IC-Former over Llama-2-7b vs a full Llama-2-7b encoder).
//
// Models (random weights: time does not depend on trained values): the RCC
// encoder is SmolLM2-135M itself (30 layers, hidden 576; segments of 2048);
// the former has the paper's layout at SmolLM2's width: 3 cross-attention
// layers, hidden 576, 9 heads, 3 KV heads, SwiGLU 1536, 128 digests per
// chunk of at most 512 tokens. Prints Markdown.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "model/benchmarks/bench_util.h"
#include "model/icformer/former.h"

ABSL_FLAG(std::string, model_dir, "models/smollm2-135m-instruct", "base model directory");
ABSL_FLAG(int, threads, 2, "libtorch intra-op threads");
ABSL_FLAG(std::string, lengths, "512,2048,8192,16384", "context lengths at batch 1");
ABSL_FLAG(std::string, batches, "1,8,32", "batch sizes at --batch_length tokens each");
ABSL_FLAG(int, batch_length, 512, "context length for the batch sweep");
ABSL_FLAG(int, repeats, 2, "timed runs per measurement (best is kept)");

namespace {

using namespace ccs::model;  // NOLINT: a benchmark binary
using bench::Check;
using bench::Ints;
using bench::Seconds;

// Matrix-product FLOPs of a decoder pass over m tokens: the projections and
// MLP of every layer, and QK^T and AV over the full m x m square (what the
// attention kernel computes); norms and the output head are left out.
double DecoderFlops(int64_t m, const transformer::DecoderConfig& c) {
  const double d = c.hidden_size, hd = c.head_dim, h = c.num_attention_heads,
               kv = c.num_key_value_heads, inter = c.intermediate_size;
  const double projections = d * h * hd * 2 + d * kv * hd * 2;  // q, o, k, v
  const double mlp = 3 * d * inter;                              // gate, up, down
  return c.num_hidden_layers * (2.0 * m * (projections + mlp) + 4.0 * m * m * h * hd);
}

// The encoder's FLOPs for n tokens cut into segments of W.
double EncoderFlops(int64_t n, int64_t W, const transformer::DecoderConfig& c) {
  double flops = 0;
  for (int64_t start = 0; start < n; start += W) flops += DecoderFlops(std::min(W, n - start), c);
  return flops;
}

double PeakGflops() {
  torch::Tensor a = torch::randn({2048, 2048}), b = torch::randn({2048, 2048});
  torch::mm(a, b);
  const double s = Seconds([&] { torch::mm(a, b); }, 5);
  return 2.0 * 2048 * 2048 * 2048 / s / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  bench::RccSetup setup =
      bench::LoadRccSetup(absl::GetFlag(FLAGS_model_dir), absl::GetFlag(FLAGS_threads));
  const std::shared_ptr<const transformer::Decoder>& decoder = setup.decoder;
  const transformer::DecoderConfig& dc = decoder->config();
  const int64_t d = dc.hidden_size;
  const rcc::RccConfig rcc_config = setup.rcc->config();
  const std::unique_ptr<rcc::RccModel>& rcc = setup.rcc;

  // IC-Former: the paper's layout at the base model's width.
  icformer::IcFormerConfig fc;
  fc.hidden_size = fc.context_hidden_size = d;
  fc.num_hidden_layers = 3;
  fc.num_attention_heads = dc.num_attention_heads;
  fc.num_key_value_heads = dc.num_key_value_heads;
  fc.intermediate_size = dc.intermediate_size;
  fc.head_dim = d / fc.num_attention_heads;
  fc.num_query_tokens = 128;
  fc.max_chunk_len = 512;
  if (absl::Status valid = icformer::ValidateIcFormerConfig(fc); !valid.ok()) {
    std::cerr << valid << "\n";
    return 1;
  }
  transformer::WeightMap former_weights;
  for (const auto& [name, shape] : icformer::ExpectedIcFormerWeights(fc)) {
    former_weights[name] = name.find("norm") != std::string::npos
                               ? torch::ones(shape)
                               : torch::randn(shape) / std::sqrt(static_cast<double>(shape.back()));
  }
  icformer::IcFormerParams params{torch::randn({1, 128, d}), torch::randn({1, 1, d}),
                                  torch::randn({1, 1, d})};
  std::unique_ptr<icformer::IcFormer> former =
      Check(icformer::IcFormer::Create(fc, std::move(former_weights), params, decoder));

  const double peak = PeakGflops();
  const int repeats = absl::GetFlag(FLAGS_repeats);
  std::printf("Measured float32 matrix-product peak (2048^3 torch::mm): %.1f GFLOP/s.\n\n", peak);
  std::printf(
      "| contexts x tokens | IC-Former s | RCC encoder s | speed-up | IC-Former GFLOP | "
      "RCC GFLOP | FLOP ratio | IC-Former GFLOP/s (%% of peak) | RCC GFLOP/s (%% of peak) | "
      "IC-Former tokens/s | RCC tokens/s |\n"
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  auto row = [&](int64_t batch, int64_t n) {
    std::vector<std::vector<int64_t>> contexts(batch, std::vector<int64_t>(n));
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t i = 0; i < n; ++i) contexts[b][i] = 100 + (i * 7919 + b * 31) % 40000;
    }
    const double t_former = Seconds([&] { Check(former->Compress(contexts)); }, repeats);
    const double t_rcc = Seconds([&] { Check(rcc->Compress(contexts)); }, repeats);
    const double f_former = batch * static_cast<double>(icformer::CompressionFlops(n, fc));
    const double f_rcc = batch * EncoderFlops(n, rcc_config.segment_tokens, dc);
    std::printf(
        "| %lld x %lld | %.3f | %.3f | %.1fx | %.1f | %.1f | 1/%.0f | %.1f (%.0f%%) | %.1f "
        "(%.0f%%) | %.0f | %.0f |\n",
        static_cast<long long>(batch), static_cast<long long>(n), t_former, t_rcc,
        t_rcc / t_former, f_former / 1e9, f_rcc / 1e9, f_rcc / f_former, f_former / t_former / 1e9,
        100 * f_former / t_former / 1e9 / peak, f_rcc / t_rcc / 1e9,
        100 * f_rcc / t_rcc / 1e9 / peak, batch * n / t_former, batch * n / t_rcc);
    std::fflush(stdout);
  };
  for (int64_t n : Ints(absl::GetFlag(FLAGS_lengths))) row(1, n);
  for (int64_t b : Ints(absl::GetFlag(FLAGS_batches))) {
    if (b != 1) row(b, absl::GetFlag(FLAGS_batch_length));
  }

  // The published sizes: IC-Former (4096 wide, 3 layers, 128 digests, SwiGLU
  // 11008) over Llama-2-7b, against Llama-2-7b itself encoding the same
  // context plus 128 memory tokens (ICAE).
  icformer::IcFormerConfig paper;
  paper.hidden_size = paper.context_hidden_size = 4096;
  paper.num_hidden_layers = 3;
  paper.num_attention_heads = paper.num_key_value_heads = 32;
  paper.intermediate_size = 11008;
  paper.head_dim = 128;
  paper.num_query_tokens = 128;
  transformer::DecoderConfig llama2 = dc;
  llama2.hidden_size = 4096;
  llama2.num_hidden_layers = 32;
  llama2.num_attention_heads = llama2.num_key_value_heads = 32;
  llama2.head_dim = 128;
  llama2.intermediate_size = 11008;
  std::printf("\nAt the published sizes, for 512 tokens -> 128 digests: IC-Former %.3g FLOPs, "
              "Llama-2-7b over 512 + 128 tokens %.3g FLOPs: 1/%.0f.\n",
              static_cast<double>(icformer::CompressionFlops(512, paper)),
              DecoderFlops(512 + 128, llama2),
              DecoderFlops(512 + 128, llama2) / icformer::CompressionFlops(512, paper));
  return 0;
}
