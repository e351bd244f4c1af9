// evaluate: measures what compression does to quality and speed for every
// method the engine loads (NONE always; IC_FORMER with --icformer_dir; RCC
// with --rcc_dir), over the serving path, and writes every figure to one
// JSON file (see model/eval/evaluation.h for what each measurement is).
// model/eval/run_evaluation.sh runs it with the documented settings and
// turns the JSON into docs/evaluation.md and plots.
//
//   bazel-bin/model/eval/evaluate --icformer_dir=models/demo/icformer \
//       --out=evaluation.json --threads=2
//
// Deterministic given --seed (greedy decoding throughout); the timings of
// the speed measurement are what they are.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "model/engine/engine.h"
#include "model/eval/eval_sets.h"
#include "model/eval/evaluation.h"
#include "model/runtime.h"

ABSL_FLAG(std::string, decoder_dir, "models/smollm2-135m-instruct", "the decoder (Hugging Face dir)");
ABSL_FLAG(std::string, icformer_dir, "", "an IC-Former checkpoint (empty: not measured)");
ABSL_FLAG(std::string, rcc_dir, "", "an RCC checkpoint (empty: not measured)");
ABSL_FLAG(std::string, label, "", "free text recorded with the results (e.g. the checkpoint step)");
ABSL_FLAG(std::string, corpus_dir, "data/corpus", "deploy/build_corpus.py's output (test split used)");
ABSL_FLAG(std::string, out, "evaluation.json", "the JSON file written");
ABSL_FLAG(std::string, metrics, "reconstruction,documents,passkey,qa,perplexity,speed",
          "which to run");
ABSL_FLAG(std::string, device, "cpu", "cpu, cuda or cuda:N");
ABSL_FLAG(std::string, dtype, "float32", "float32 or bfloat16");
ABSL_FLAG(int, threads, 0, "libtorch intra-op threads (0: libtorch's default)");
ABSL_FLAG(uint64_t, seed, 1, "every sample is drawn from generators seeded by this");
ABSL_FLAG(int, batch, 8, "jobs per Generate call, contexts per Compress call");
ABSL_FLAG(std::string, reconstruction_lengths, "128,256,512", "window lengths in tokens");
ABSL_FLAG(int, reconstruction_samples, 8, "windows per length");
ABSL_FLAG(int, document_samples, 12, "whole short test documents reconstructed");
ABSL_FLAG(int64_t, document_max_tokens, 256, "the longest of those documents, in tokens");
ABSL_FLAG(double, reconstruct_min_share, ccs::model::kDefaultReconstructMinShare,
          "reconstructions do not stop before this share of the compressed tokens (the "
          "server's Reconstruct uses the default)");
ABSL_FLAG(std::string, passkey_lengths, "1024,2048,4096,8192,16384", "context lengths in tokens");
ABSL_FLAG(int, passkey_samples, 5, "contexts per length");
ABSL_FLAG(int64_t, append_tokens, 512, "tokens per append when a context is built up");
ABSL_FLAG(int, qa_samples, 20, "questions per QA set");
ABSL_FLAG(int, qa_context_items, 4, "verses or dictionary entries per context");
ABSL_FLAG(int, qa_max_new_tokens, 96, "answer length cap");
ABSL_FLAG(int64_t, perplexity_window, 256, "tokens of the previous window and of the continuation");
ABSL_FLAG(int, perplexity_samples, 8, "window pairs");
ABSL_FLAG(std::string, speed_lengths, "512,2048,8192", "context lengths in tokens");
ABSL_FLAG(int, speed_repeats, 3, "Compress calls per length (the median is reported)");

namespace ccs::model::eval {
namespace {

absl::StatusOr<std::vector<int64_t>> ParseLengths(const std::string& flag, const std::string& text) {
  std::vector<int64_t> lengths;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    int64_t value = 0;
    if (!absl::SimpleAtoi(part, &value) || value < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--", flag, "=", text, ": use positive token counts separated by commas"));
    }
    lengths.push_back(value);
  }
  return lengths;
}

void Log(const std::string& line) {
  std::cerr << absl::FormatTime("%H:%M:%S ", absl::Now(), absl::LocalTimeZone()) << line
            << std::endl;
}

absl::Status Run() {
  const absl::Time started = absl::Now();
  TorchOptions torch_options;
  torch_options.device = absl::GetFlag(FLAGS_device);
  torch_options.intra_op_threads = absl::GetFlag(FLAGS_threads);
  absl::StatusOr<TorchRuntime> runtime = ConfigureTorch(torch_options);
  if (!runtime.ok()) return runtime.status();

  EvalOptions options;
  options.seed = absl::GetFlag(FLAGS_seed);
  options.batch = absl::GetFlag(FLAGS_batch);
  for (auto [flag, text, target] :
       {std::tuple{"reconstruction_lengths", absl::GetFlag(FLAGS_reconstruction_lengths),
                   &options.reconstruction_lengths},
        std::tuple{"passkey_lengths", absl::GetFlag(FLAGS_passkey_lengths),
                   &options.passkey_lengths},
        std::tuple{"speed_lengths", absl::GetFlag(FLAGS_speed_lengths), &options.speed_lengths}}) {
    absl::StatusOr<std::vector<int64_t>> lengths = ParseLengths(flag, text);
    if (!lengths.ok()) return lengths.status();
    *target = *std::move(lengths);
  }
  options.reconstruction_samples = absl::GetFlag(FLAGS_reconstruction_samples);
  options.document_samples = absl::GetFlag(FLAGS_document_samples);
  options.document_max_tokens = absl::GetFlag(FLAGS_document_max_tokens);
  options.reconstruct_min_share = absl::GetFlag(FLAGS_reconstruct_min_share);
  if (!(options.reconstruct_min_share >= 0 && options.reconstruct_min_share <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("--reconstruct_min_share is ",
                                                   options.reconstruct_min_share,
                                                   ": must be in [0, 1]"));
  }
  options.passkey_samples = absl::GetFlag(FLAGS_passkey_samples);
  options.append_tokens = absl::GetFlag(FLAGS_append_tokens);
  options.qa_samples = absl::GetFlag(FLAGS_qa_samples);
  options.qa_context_items = absl::GetFlag(FLAGS_qa_context_items);
  options.qa_max_new_tokens = absl::GetFlag(FLAGS_qa_max_new_tokens);
  options.perplexity_window = absl::GetFlag(FLAGS_perplexity_window);
  options.perplexity_samples = absl::GetFlag(FLAGS_perplexity_samples);
  options.speed_repeats = absl::GetFlag(FLAGS_speed_repeats);
  if (options.append_tokens < 1 || options.perplexity_window < 1 || options.batch < 1) {
    return absl::InvalidArgumentError(
        "--append_tokens, --perplexity_window and --batch must be at least 1");
  }
  const std::vector<std::string> metrics =
      absl::StrSplit(absl::GetFlag(FLAGS_metrics), ',', absl::SkipWhitespace());
  for (const std::string& m : metrics) {
    if (m != "reconstruction" && m != "documents" && m != "passkey" && m != "qa" &&
        m != "perplexity" && m != "speed") {
      return absl::InvalidArgumentError(
          absl::StrCat("--metrics: unknown \"", m,
                       "\"; use reconstruction, documents, passkey, qa, perplexity, speed"));
    }
  }

  EngineOptions engine_options;
  engine_options.name = "evaluated";
  engine_options.decoder_dir = absl::GetFlag(FLAGS_decoder_dir);
  engine_options.icformer_dir = absl::GetFlag(FLAGS_icformer_dir);
  engine_options.rcc_dir = absl::GetFlag(FLAGS_rcc_dir);
  engine_options.device = runtime->device;
  engine_options.dtype = absl::GetFlag(FLAGS_dtype);
  Log("loading " + engine_options.decoder_dir);
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Load(engine_options);
  if (!engine.ok()) return engine.status();
  // NONE first: the other methods' QA scores are relative to it.
  options.methods = {Method::kNone};
  for (Method m : {Method::kIcFormer, Method::kRcc}) {
    if ((*engine)->Supports(m)) options.methods.push_back(m);
  }

  absl::StatusOr<EvalCorpus> corpus = ReadEvalCorpus(absl::GetFlag(FLAGS_corpus_dir));
  if (!corpus.ok()) return corpus.status();
  absl::StatusOr<TokenStream> stream =
      TokenStream::Make((*engine)->tokenizer(), train::Texts(corpus->documents, "text"),
                        options.seed);
  if (!stream.ok()) return stream.status();
  Log(absl::StrFormat("test split: %d documents, %d tokens; %d verses, %d dictionary entries",
                      corpus->documents.size(), stream->size(), corpus->verses.size(),
                      corpus->dictionary.size()));

  const ModelDescription& d = (*engine)->description();
  nlohmann::json methods = nlohmann::json::array();
  for (Method m : options.methods) methods.push_back(std::string(MethodName(m)));
  nlohmann::json report = {
      {"settings",
       {{"label", absl::GetFlag(FLAGS_label)},
        {"decoder_dir", engine_options.decoder_dir},
        {"icformer_dir", engine_options.icformer_dir},
        {"rcc_dir", engine_options.rcc_dir},
        {"corpus_dir", absl::GetFlag(FLAGS_corpus_dir)},
        {"device", runtime->device},
        {"dtype", engine_options.dtype},
        {"threads", runtime->intra_op_threads},
        {"seed", options.seed},
        {"batch", options.batch},
        {"reconstruction_lengths", options.reconstruction_lengths},
        {"reconstruction_samples", options.reconstruction_samples},
        {"document_samples", options.document_samples},
        {"document_max_tokens", options.document_max_tokens},
        {"reconstruct_min_share", options.reconstruct_min_share},
        {"passkey_lengths", options.passkey_lengths},
        {"passkey_samples", options.passkey_samples},
        {"append_tokens", options.append_tokens},
        {"qa_samples", options.qa_samples},
        {"qa_context_items", options.qa_context_items},
        {"perplexity_window", options.perplexity_window},
        {"perplexity_samples", options.perplexity_samples},
        {"speed_lengths", options.speed_lengths},
        {"speed_repeats", options.speed_repeats}}},
      {"model",
       {{"architecture", d.architecture},
        {"max_positions", d.max_positions},
        {"methods", methods},
        {"icformer_digests", d.icformer_digests},
        {"icformer_chunk_tokens", d.icformer_chunk_tokens},
        {"rcc_ratio", d.rcc_ratio}}}};

  Evaluator evaluator(**engine, *corpus, *stream, options, Log);
  const std::vector<std::pair<std::string, absl::StatusOr<nlohmann::json> (Evaluator::*)() const>>
      runs = {{"reconstruction", &Evaluator::Reconstruction},
              {"documents", &Evaluator::Documents},
              {"passkey", &Evaluator::Passkey},
              {"qa", &Evaluator::QuestionAnswering},
              {"perplexity", &Evaluator::Perplexity},
              {"speed", &Evaluator::Speed}};
  for (const auto& [name, run] : runs) {
    if (std::find(metrics.begin(), metrics.end(), name) == metrics.end()) continue;
    const absl::Time start = absl::Now();
    absl::StatusOr<nlohmann::json> result = (evaluator.*run)();
    if (!result.ok()) {
      return absl::Status(result.status().code(),
                          absl::StrCat(name, ": ", result.status().message()));
    }
    report[name] = *std::move(result);
    report["seconds"][name] = absl::ToDoubleSeconds(absl::Now() - start);
  }
  report["seconds"]["total"] = absl::ToDoubleSeconds(absl::Now() - started);

  const std::string path = absl::GetFlag(FLAGS_out);
  std::ofstream file(path);
  // Generated text may hold invalid UTF-8 (a token that is part of a
  // character): replaced by U+FFFD rather than failing the dump.
  file << report.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  if (!file.good()) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  Log("wrote " + path);
  return absl::OkStatus();
}

}  // namespace
}  // namespace ccs::model::eval

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Measures reconstruction BLEU (windows and whole short documents), passkey retrieval, "
      "QA, perplexity and compression speed "
      "per method; writes --out (JSON).");
  absl::ParseCommandLine(argc, argv);
  const absl::Status status = ccs::model::eval::Run();
  if (!status.ok()) {
    std::fprintf(stderr, "evaluate: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
