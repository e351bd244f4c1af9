#include "model/eval/evaluation.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "model/eval/bleu.h"
#include "model/eval/qa_metrics.h"
#include "model/train/text_windows.h"

namespace ccs::model::eval {
namespace {

using nlohmann::json;

// A generator per measurement and length, so that adding a length or a
// measurement leaves the others' data as it was.
train::SplitMix64 RngFor(uint64_t seed, uint64_t measurement, int64_t length) {
  train::SplitMix64 mix(seed * 0x9E3779B97F4A7C15ULL + measurement * 1000003ULL +
                        static_cast<uint64_t>(length));
  return train::SplitMix64(mix.Next());
}

std::string Name(Method method) { return std::string(MethodName(method)); }

json NotAvailable(const absl::Status& status) {
  return {{"status", "n/a"}, {"reason", std::string(status.message())}};
}

bool IsNotAvailable(const absl::Status& status) {
  return status.code() == absl::StatusCode::kFailedPrecondition;
}

double Seconds(absl::Time start) { return absl::ToDoubleSeconds(absl::Now() - start); }

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n == 0 ? 0 : n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

}  // namespace

Evaluator::Evaluator(const Engine& engine, const EvalCorpus& corpus, const TokenStream& stream,
                     EvalOptions options, Log log)
    : engine_(engine), corpus_(corpus), stream_(stream), options_(std::move(options)),
      log_(std::move(log)) {}

std::string Evaluator::Text(const std::vector<int32_t>& ids) const {
  absl::StatusOr<std::string> text = engine_.tokenizer().Decode(ids);
  return text.ok() ? *text : std::string();
}

int64_t Evaluator::EstimatedSlots(Method method, int64_t tokens) const {
  const ModelDescription& d = engine_.description();
  const int64_t pieces = (tokens + options_.append_tokens - 1) / options_.append_tokens;
  switch (method) {
    case Method::kRcc:
      return (tokens + d.rcc_ratio - 1) / std::max<int64_t>(d.rcc_ratio, 1) + pieces;
    case Method::kIcFormer: {
      const int64_t chunks_per_piece =
          (std::min(tokens, options_.append_tokens) + d.icformer_chunk_tokens - 1) /
          std::max<int64_t>(d.icformer_chunk_tokens, 1);
      return pieces * chunks_per_piece * d.icformer_digests;
    }
    case Method::kNone:
      return tokens;
  }
  return tokens;
}

absl::StatusOr<std::vector<std::shared_ptr<const Memory>>> Evaluator::CompressAll(
    Method method, const std::vector<std::vector<int32_t>>& contexts) const {
  std::vector<std::shared_ptr<const Memory>> memories;
  const size_t batch = static_cast<size_t>(std::max(options_.batch, 1));
  for (size_t start = 0; start < contexts.size(); start += batch) {
    const std::vector<std::vector<int32_t>> part(
        contexts.begin() + start, contexts.begin() + std::min(contexts.size(), start + batch));
    absl::StatusOr<std::vector<std::shared_ptr<const Memory>>> made =
        engine_.Compress(method, part);
    if (!made.ok()) return made.status();
    memories.insert(memories.end(), made->begin(), made->end());
  }
  return memories;
}

absl::StatusOr<std::shared_ptr<const Memory>> Evaluator::CompressByAppends(
    Method method, const std::vector<int32_t>& ids) const {
  std::vector<std::vector<int32_t>> pieces;
  for (size_t at = 0; at < ids.size(); at += static_cast<size_t>(options_.append_tokens)) {
    pieces.emplace_back(ids.begin() + at,
                        ids.begin() + std::min(ids.size(), at + options_.append_tokens));
  }
  absl::StatusOr<std::vector<std::shared_ptr<const Memory>>> parts = CompressAll(method, pieces);
  if (!parts.ok()) return parts.status();
  std::shared_ptr<const Memory> memory = (*parts)[0];
  for (size_t i = 1; i < parts->size(); ++i) {
    absl::StatusOr<std::shared_ptr<const Memory>> grown = engine_.Concat(*memory, *(*parts)[i]);
    if (!grown.ok()) return grown.status();
    memory = *std::move(grown);
  }
  return memory;
}

absl::StatusOr<std::vector<std::string>> Evaluator::GenerateAll(
    const std::vector<GenerationJob>& jobs) const {
  std::vector<std::string> texts;
  const size_t batch = static_cast<size_t>(std::max(options_.batch, 1));
  for (size_t start = 0; start < jobs.size(); start += batch) {
    const std::vector<GenerationJob> part(
        jobs.begin() + start, jobs.begin() + std::min(jobs.size(), start + batch));
    absl::StatusOr<std::vector<GenerationOutcome>> outcomes = engine_.Generate(part, nullptr);
    if (!outcomes.ok()) return outcomes.status();
    for (const GenerationOutcome& outcome : *outcomes) texts.push_back(Text(outcome.tokens));
  }
  return texts;
}

absl::StatusOr<json> Evaluator::ReconstructAll(
    Method method, const std::vector<std::vector<int32_t>>& contexts, double length_factor) const {
  std::vector<std::string> references;
  for (const std::vector<int32_t>& ids : contexts) references.push_back(Text(ids));
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<std::shared_ptr<const Memory>>> memories =
      CompressAll(method, contexts);
  if (!memories.ok()) return memories.status();
  std::vector<GenerationJob> jobs;
  int64_t slots = 0, tokens = 0;
  for (const std::shared_ptr<const Memory>& memory : *memories) {
    GenerationJob job;
    job.memory = memory;
    job.task = Task::kReconstruct;
    job.sampling.max_new_tokens = static_cast<int>(length_factor * memory->tokens());
    job.sampling.min_new_tokens = ReconstructMinTokens(
        memory->tokens(), options_.reconstruct_min_share, job.sampling.max_new_tokens);
    jobs.push_back(std::move(job));
    slots += memory->slots();
    tokens += memory->tokens();
  }
  absl::StatusOr<std::vector<std::string>> hypotheses = GenerateAll(jobs);
  if (!hypotheses.ok()) return hypotheses.status();
  const BleuScore bleu = CorpusBleu(*hypotheses, references);
  int exact = 0, cut_short = 0;
  for (size_t i = 0; i < references.size(); ++i) {
    exact += (*hypotheses)[i] == references[i];
    cut_short += 2 * (*hypotheses)[i].size() < references[i].size();
  }
  const double n = static_cast<double>(contexts.size());
  return json{{"samples", contexts.size()},
              {"mean_tokens", static_cast<double>(tokens) / n},
              {"memory_slots", static_cast<double>(slots) / n},
              {"ratio", static_cast<double>(tokens) /
                            static_cast<double>(std::max<int64_t>(slots, 1))},
              {"bleu", bleu.score},
              {"precisions", bleu.precisions},
              {"brevity_penalty", bleu.brevity_penalty},
              {"exact_text_rate", exact / n},
              {"cut_short_rate", cut_short / n},
              {"seconds", Seconds(start)},
              {"example", {{"reference", references[0]}, {"hypothesis", (*hypotheses)[0]}}}};
}

absl::StatusOr<json> Evaluator::Reconstruction() const {
  json result = json::object();
  for (Method method : options_.methods) {
    json entry = {{"status", "ok"}, {"results", json::array()}};
    for (int64_t length : options_.reconstruction_lengths) {
      train::SplitMix64 rng = RngFor(options_.seed, 1, length);
      std::vector<std::vector<int32_t>> windows;
      for (int i = 0; i < options_.reconstruction_samples; ++i) {
        windows.push_back(stream_.Window(length, &rng));
      }
      log_(absl::StrFormat("reconstruction %s, %d tokens, %d windows", Name(method), length,
                           windows.size()));
      absl::StatusOr<json> row = ReconstructAll(method, windows, /*length_factor=*/1.0);
      if (!row.ok() && IsNotAvailable(row.status())) {
        entry = NotAvailable(row.status());
        break;
      }
      if (!row.ok()) return row.status();
      (*row)["length"] = length;
      log_(absl::StrFormat("  BLEU-4 %.4f", (*row)["bleu"].get<double>()));
      entry["results"].push_back(*std::move(row));
    }
    result[Name(method)] = std::move(entry);
  }
  return result;
}

absl::StatusOr<json> Evaluator::Documents() const {
  if (options_.document_samples < 1 || options_.document_max_tokens < 8) {
    return absl::InvalidArgumentError(
        "documents: document_samples must be at least 1 and document_max_tokens at least 8");
  }
  absl::StatusOr<std::vector<std::vector<std::vector<int32_t>>>> by_source =
      train::ShortDocuments(engine_.tokenizer(), corpus_.documents, /*min_tokens=*/8,
                            options_.document_max_tokens, /*per_source=*/1000, options_.seed);
  if (!by_source.ok()) return by_source.status();
  if (by_source->empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "documents: the test split has no document of 8 to ", options_.document_max_tokens,
        " tokens"));
  }
  // Sources in turn, a random document of each.
  train::SplitMix64 rng = RngFor(options_.seed, 6, options_.document_max_tokens);
  std::vector<std::vector<int32_t>> documents;
  for (int i = 0; i < options_.document_samples; ++i) {
    const auto& source = (*by_source)[i % by_source->size()];
    documents.push_back(source[rng.Below(source.size())]);
  }
  json result = json::object();
  for (Method method : options_.methods) {
    log_(absl::StrFormat("documents %s, %d whole documents of 8 to %d tokens", Name(method),
                         documents.size(), options_.document_max_tokens));
    absl::StatusOr<json> row = ReconstructAll(method, documents, /*length_factor=*/1.5);
    if (!row.ok() && IsNotAvailable(row.status())) {
      result[Name(method)] = NotAvailable(row.status());
      continue;
    }
    if (!row.ok()) return row.status();
    log_(absl::StrFormat("  BLEU-4 %.4f, cut short %.0f%%", (*row)["bleu"].get<double>(),
                         100 * (*row)["cut_short_rate"].get<double>()));
    (*row)["status"] = "ok";
    (*row)["sources"] = by_source->size();
    result[Name(method)] = *std::move(row);
  }
  return result;
}

absl::StatusOr<json> Evaluator::Passkey() const {
  const int64_t max_positions = engine_.description().max_positions;
  json result = json::object();
  for (Method method : options_.methods) {
    json entry = {{"status", "ok"}, {"results", json::array()}};
    for (int64_t length : options_.passkey_lengths) {
      const int64_t needed = EstimatedSlots(method, length) + options_.prompt_allowance +
                             options_.passkey_max_new_tokens;
      json row = {{"length", length}};
      if (max_positions > 0 && needed > max_positions) {
        row["status"] = "exceeds_capacity";
        row["reason"] = absl::StrFormat(
            "about %d memory slots + prompt + answer > the decoder's %d positions",
            EstimatedSlots(method, length), max_positions);
        entry["results"].push_back(std::move(row));
        continue;
      }
      train::SplitMix64 rng = RngFor(options_.seed, 2, length);
      std::vector<PasskeyCase> cases;
      std::vector<GenerationJob> jobs;
      int64_t slots = 0;
      log_(absl::StrFormat("passkey %s, %d tokens, %d contexts", Name(method), length,
                           options_.passkey_samples));
      const absl::Time start = absl::Now();
      absl::Status unavailable;
      for (int i = 0; i < options_.passkey_samples; ++i) {
        absl::StatusOr<PasskeyCase> c = MakePasskeyCase(engine_.tokenizer(), stream_, length, &rng);
        if (!c.ok()) return c.status();
        absl::StatusOr<std::shared_ptr<const Memory>> memory = CompressByAppends(method, c->context);
        if (!memory.ok() && IsNotAvailable(memory.status())) {
          unavailable = memory.status();
          break;
        }
        if (!memory.ok()) return memory.status();
        slots += (*memory)->slots();
        GenerationJob job;
        job.memory = *memory;
        job.prompt = kPasskeyQuestion;
        job.sampling.max_new_tokens = options_.passkey_max_new_tokens;
        jobs.push_back(std::move(job));
        cases.push_back(*std::move(c));
      }
      absl::StatusOr<std::vector<std::string>> answers =
          unavailable.ok() ? GenerateAll(jobs) : absl::StatusOr<std::vector<std::string>>(unavailable);
      if (!answers.ok() && IsNotAvailable(answers.status())) {
        entry = NotAvailable(answers.status());
        break;
      }
      if (!answers.ok()) return answers.status();
      int correct = 0;
      json examples = json::array();
      for (size_t i = 0; i < cases.size(); ++i) {
        const bool found = absl::StrContains((*answers)[i], cases[i].key);
        correct += found;
        if (i < 2) {
          examples.push_back({{"key", cases[i].key}, {"depth", cases[i].depth},
                              {"answer", (*answers)[i]}, {"correct", found}});
        }
      }
      row["status"] = "ok";
      row["samples"] = cases.size();
      row["correct"] = correct;
      row["accuracy"] = static_cast<double>(correct) / static_cast<double>(cases.size());
      row["memory_slots"] = static_cast<double>(slots) / static_cast<double>(cases.size());
      row["seconds"] = Seconds(start);
      row["examples"] = std::move(examples);
      log_(absl::StrFormat("  %d / %d correct", correct, cases.size()));
      entry["results"].push_back(std::move(row));
    }
    result[Name(method)] = std::move(entry);
  }
  return result;
}

absl::StatusOr<json> Evaluator::QuestionAnswering() const {
  const std::vector<std::pair<std::string, std::vector<QaItem>>> sets = {
      {"verses", MakeVerseQa(corpus_.verses, options_.qa_samples, options_.qa_context_items,
                             options_.seed * 31 + 3)},
      {"dictionary", MakeDictionaryQa(corpus_.dictionary, options_.qa_samples,
                                      options_.qa_context_items, options_.seed * 31 + 4)}};
  json result = json::object();
  for (Method method : options_.methods) {
    json entry = {{"status", "ok"}, {"sets", json::object()}};
    for (const auto& [name, items] : sets) {
      log_(absl::StrFormat("question answering %s, %s, %d items", Name(method), name,
                           items.size()));
      if (items.empty()) continue;
      const absl::Time start = absl::Now();
      std::vector<std::vector<int32_t>> contexts;
      for (const QaItem& item : items) {
        absl::StatusOr<std::vector<int32_t>> ids = engine_.Tokenize(item.context);
        if (!ids.ok()) return ids.status();
        contexts.push_back(*std::move(ids));
      }
      absl::StatusOr<std::vector<std::shared_ptr<const Memory>>> memories =
          CompressAll(method, contexts);
      absl::StatusOr<std::vector<std::string>> answers =
          memories.ok() ? absl::StatusOr<std::vector<std::string>>(std::vector<std::string>())
                        : absl::StatusOr<std::vector<std::string>>(memories.status());
      int64_t tokens = 0, slots = 0;
      if (memories.ok()) {
        std::vector<GenerationJob> jobs;
        for (size_t i = 0; i < items.size(); ++i) {
          GenerationJob job;
          job.memory = (*memories)[i];
          job.prompt = items[i].question;
          job.sampling.max_new_tokens = options_.qa_max_new_tokens;
          jobs.push_back(std::move(job));
          tokens += (*memories)[i]->tokens();
          slots += (*memories)[i]->slots();
        }
        answers = GenerateAll(jobs);
      }
      if (!answers.ok() && IsNotAvailable(answers.status())) {
        entry = NotAvailable(answers.status());
        break;
      }
      if (!answers.ok()) return answers.status();
      double em = 0, f1 = 0;
      json examples = json::array();
      for (size_t i = 0; i < items.size(); ++i) {
        em += ExactMatch((*answers)[i], items[i].answer);
        f1 += TokenF1((*answers)[i], items[i].answer);
        if (i < 2) {
          examples.push_back({{"question", items[i].question}, {"reference", items[i].answer},
                              {"answer", (*answers)[i]}});
        }
      }
      const double n = static_cast<double>(items.size());
      entry["sets"][name] = {{"samples", items.size()},
                             {"exact_match", em / n},
                             {"f1", f1 / n},
                             {"ratio", static_cast<double>(tokens) / std::max<double>(slots, 1)},
                             {"seconds", Seconds(start)},
                             {"examples", std::move(examples)}};
      log_(absl::StrFormat("  exact match %.3f, F1 %.3f", em / n, f1 / n));
    }
    result[Name(method)] = std::move(entry);
  }
  // Each method's scores over NONE's (the target: at least 0.9).
  if (result.contains("NONE") && result["NONE"]["status"] == "ok") {
    for (auto& [method, entry] : result.items()) {
      if (entry["status"] != "ok") continue;
      for (auto& [name, set] : entry["sets"].items()) {
        const json& none = result["NONE"]["sets"][name];
        for (const char* metric : {"exact_match", "f1"}) {
          const double base = none[metric].get<double>();
          set[absl::StrCat(metric, "_vs_none")] =
              base > 0 ? json(set[metric].get<double>() / base) : json(nullptr);
        }
      }
    }
  }
  return result;
}

absl::StatusOr<json> Evaluator::Perplexity() const {
  const int64_t window = options_.perplexity_window;
  train::SplitMix64 rng = RngFor(options_.seed, 4, window);
  std::vector<std::vector<int32_t>> previous, continuations;
  for (int i = 0; i < options_.perplexity_samples; ++i) {
    const std::vector<int32_t> both = stream_.Window(2 * window, &rng);
    previous.emplace_back(both.begin(), both.begin() + window);
    continuations.emplace_back(both.begin() + window, both.end());
  }
  json conditions = json::object();
  // Perplexity over all continuation tokens of one condition.
  const auto score = [&](const std::string& name,
                         const std::vector<std::shared_ptr<const Memory>>* memories)
      -> absl::Status {
    log_(absl::StrFormat("perplexity given %s, %d windows of %d tokens", name,
                         continuations.size(), window));
    const absl::Time start = absl::Now();
    double log_prob = 0;
    int64_t tokens = 0, slots = 0;
    for (size_t i = 0; i < continuations.size(); ++i) {
      const Memory* memory = memories == nullptr ? nullptr : (*memories)[i].get();
      absl::StatusOr<double> sum = engine_.ScoreContinuation(memory, continuations[i]);
      if (!sum.ok()) return sum.status();
      log_prob += *sum;
      tokens += static_cast<int64_t>(continuations[i].size());
      if (memory != nullptr) slots += memory->slots();
    }
    json row = {{"perplexity", std::exp(-log_prob / static_cast<double>(tokens))},
                {"mean_log_prob", log_prob / static_cast<double>(tokens)},
                {"tokens", tokens},
                {"seconds", Seconds(start)}};
    if (memories != nullptr) {
      row["ratio"] = static_cast<double>(window * static_cast<int64_t>(continuations.size())) /
                     static_cast<double>(std::max<int64_t>(slots, 1));
    }
    log_(absl::StrFormat("  perplexity %.3f", row["perplexity"].get<double>()));
    conditions[name] = std::move(row);
    return absl::OkStatus();
  };
  if (absl::Status s = score("no_context", nullptr); !s.ok()) return s;
  for (Method method : options_.methods) {
    absl::StatusOr<std::vector<std::shared_ptr<const Memory>>> memories =
        CompressAll(method, previous);
    absl::Status s = memories.ok() ? score(Name(method), &*memories) : memories.status();
    if (IsNotAvailable(s)) {
      conditions[Name(method)] = NotAvailable(s);
    } else if (!s.ok()) {
      return s;
    }
  }
  return json{{"window_tokens", window},
              {"samples", continuations.size()},
              {"conditions", std::move(conditions)}};
}

absl::StatusOr<json> Evaluator::Speed() const {
  json result = json::object();
  for (Method method : options_.methods) {
    json entry = {{"status", "ok"}, {"results", json::array()}};
    for (int64_t length : options_.speed_lengths) {
      train::SplitMix64 rng = RngFor(options_.seed, 5, length);
      const std::vector<int32_t> context = stream_.Window(length, &rng);
      log_(absl::StrFormat("speed %s, %d tokens, %d repeats", Name(method), length,
                           options_.speed_repeats));
      std::vector<double> times;
      std::shared_ptr<const Memory> memory;
      absl::Status unavailable;
      for (int r = 0; r < std::max(options_.speed_repeats, 1); ++r) {
        const absl::Time start = absl::Now();
        absl::StatusOr<std::vector<std::shared_ptr<const Memory>>> made =
            engine_.Compress(method, {context});
        if (!made.ok() && IsNotAvailable(made.status())) {
          unavailable = made.status();
          break;
        }
        if (!made.ok()) return made.status();
        times.push_back(Seconds(start));
        memory = (*made)[0];
      }
      if (!unavailable.ok()) {
        entry = NotAvailable(unavailable);
        break;
      }
      const double seconds = Median(times);
      json row = {{"length", length},
                  {"compress_seconds", seconds},
                  {"tokens_per_s", seconds > 0 ? json(length / seconds) : json(nullptr)},
                  {"memory_slots", memory->slots()},
                  {"memory_bytes", memory->bytes()}};
      // The decoder's cache of the memory: what the first answer token waits for.
      const int64_t needed = memory->slots() + options_.prompt_allowance;
      const int64_t max_positions = engine_.description().max_positions;
      if (max_positions > 0 && needed > max_positions) {
        row["prefix_seconds"] = nullptr;
        row["prefix_note"] = "exceeds the decoder's positions";
      } else {
        const absl::Time start = absl::Now();
        absl::StatusOr<std::shared_ptr<const PrefixCache>> prefix = engine_.BuildPrefix(*memory);
        if (prefix.ok()) {
          row["prefix_seconds"] = Seconds(start);
        } else if (IsNotAvailable(prefix.status())) {
          row["prefix_seconds"] = nullptr;
          row["prefix_note"] = std::string(prefix.status().message());
        } else {
          return prefix.status();
        }
      }
      log_(absl::StrFormat("  %.0f tokens/s", length / std::max(seconds, 1e-9)));
      entry["results"].push_back(std::move(row));
    }
    result[Name(method)] = std::move(entry);
  }
  return result;
}

}  // namespace ccs::model::eval
