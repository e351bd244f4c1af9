// The C++ side of the decoder benchmark (model/benchmarks/run_decoder_benchmark.py
// runs it beside Hugging Face transformers and writes docs/benchmarks.md).
//
// Measures on a model directory, at a thread count, for each batch size B:
//   prefill tokens/s: one Forward over B prompts of T random tokens (logits of
//                     the last position only, as generation needs);
//   decode tokens/s:  Generate() from B prompts of 8 tokens, greedy, N new
//                     tokens each with EOS ignored, over the KV cache.
// Best of --repeats runs after one warm-up. Prints one JSON object per batch
// size on stdout.
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "model/runtime.h"
#include "model/transformer/generate.h"
#include "model/transformer/loader.h"

ABSL_FLAG(std::string, model_dir, "models/smollm2-135m-instruct",
          "Hugging Face model directory");
ABSL_FLAG(int, threads, 2, "libtorch intra-op threads");
ABSL_FLAG(std::string, batch, "1,8", "comma-separated batch sizes");
ABSL_FLAG(int, prompt_tokens, 256, "prefill prompt length");
ABSL_FLAG(int, decode_tokens, 64, "tokens generated per sequence");
ABSL_FLAG(int, repeats, 3, "timed runs per measurement (best is kept)");
ABSL_FLAG(std::string, profile, "",
          "if set, write a Chrome trace of one prefill and one decode run here and exit");
ABSL_FLAG(bool, fuse_projections, true, "DecoderOptions::fuse_projections");
ABSL_FLAG(std::string, dtype, "float32", "float32 or bfloat16 weights and activations");

namespace {

using ccs::model::transformer::Decoder;

double BestSeconds(int repeats, const std::function<void()>& run) {
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    run();
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    best = std::min(best, took.count());
  }
  return best;
}

void Check(const absl::Status& status) {
  if (!status.ok()) {
    std::cerr << status << "\n";
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  ccs::model::TorchOptions torch_options;
  torch_options.intra_op_threads = absl::GetFlag(FLAGS_threads);
  Check(ccs::model::ConfigureTorch(torch_options).status());
  const std::string dtype_name = absl::GetFlag(FLAGS_dtype);
  if (dtype_name != "float32" && dtype_name != "bfloat16") {
    std::cerr << "--dtype: use float32 or bfloat16\n";
    return 2;
  }
  const torch::ScalarType dtype = dtype_name == "float32" ? torch::kFloat32 : torch::kBFloat16;
  absl::StatusOr<std::unique_ptr<Decoder>> decoder = ccs::model::transformer::LoadDecoder(
      absl::GetFlag(FLAGS_model_dir),
      {torch::kCPU, dtype, absl::GetFlag(FLAGS_fuse_projections)});
  Check(decoder.status());
  const int64_t vocab = (*decoder)->config().vocab_size;
  const int prompt_tokens = absl::GetFlag(FLAGS_prompt_tokens);
  const int decode_tokens = absl::GetFlag(FLAGS_decode_tokens);
  const int repeats = absl::GetFlag(FLAGS_repeats);
  torch::manual_seed(0);

  for (absl::string_view b : absl::StrSplit(absl::GetFlag(FLAGS_batch), ',')) {
    int batch = 0;
    if (!absl::SimpleAtoi(b, &batch) || batch < 1) {
      std::cerr << "--batch: bad size " << b << "\n";
      return 2;
    }
    torch::InferenceMode guard;
    const torch::Tensor prompt = torch::randint(100, vocab, {batch, prompt_tokens}, torch::kLong);
    auto prefill = [&] {
      ccs::model::transformer::KvCache cache;
      ccs::model::transformer::DecoderInput input;
      input.input_ids = prompt;
      input.cache = &cache;
      input.logits = ccs::model::transformer::LogitsMode::kLast;
      Check((*decoder)->Forward(input).status());
    };
    std::vector<ccs::model::transformer::GenerationRequest> requests(batch);
    for (int i = 0; i < batch; ++i) {
      const torch::Tensor row = prompt[i].slice(0, 0, 8).contiguous();
      requests[i].prompt_ids.assign(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + 8);
      requests[i].sampling.max_new_tokens = decode_tokens;
      requests[i].sampling.ignore_eos = true;
    }
    auto decode = [&] {
      Check(ccs::model::transformer::Generate(**decoder, requests).status());
    };
    prefill();  // warm-up
    if (!absl::GetFlag(FLAGS_profile).empty()) {
      torch::autograd::profiler::RecordProfile profile(absl::GetFlag(FLAGS_profile));
      prefill();
      decode();
      return 0;
    }
    const double prefill_s = BestSeconds(repeats, prefill);
    const double decode_s = BestSeconds(repeats, decode);
    std::printf(
        "{\"engine\": \"ccs\", \"dtype\": \"%s\", \"batch\": %d, \"threads\": %d, "
        "\"prefill_tokens_per_s\": %.3f, \"decode_tokens_per_s\": %.3f}\n",
        dtype_name.c_str(), batch, absl::GetFlag(FLAGS_threads), batch * prompt_tokens / prefill_s,
        batch * decode_tokens / decode_s);
    std::fflush(stdout);
  }
  return 0;
}
