#include "model/eval/eval_sets.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ccs::model::eval {
namespace {

absl::StatusOr<std::vector<train::JsonlRecord>> ReadNonEmpty(
    const std::string& path, const std::vector<std::string>& fields) {
  absl::StatusOr<std::vector<train::JsonlRecord>> records = train::ReadJsonl(path, fields);
  if (!records.ok()) return records.status();
  if (records->empty()) return absl::InvalidArgumentError(absl::StrCat(path, " has no records"));
  return records;
}

absl::StatusOr<std::vector<int32_t>> Encode(const Tokenizer& tokenizer, absl::string_view text) {
  EncodeOptions options;
  options.parse_special_tokens = false;
  return tokenizer.Encode(text, options);
}

// Consecutive records [start, start + k) drawn for each of `count` items,
// and which of them the question is about.
template <typename MakeLine, typename MakeQuestion, typename MakeAnswer>
std::vector<QaItem> MakeQa(const std::vector<train::JsonlRecord>& records, int count, int k,
                           uint64_t seed, MakeLine line, MakeQuestion question,
                           MakeAnswer answer) {
  std::vector<QaItem> items;
  if (k < 1 || records.size() < static_cast<size_t>(k)) return items;
  train::SplitMix64 rng(seed);
  for (int i = 0; i < count; ++i) {
    const size_t start = rng.Below(records.size() - k + 1);
    const size_t target = start + rng.Below(k);
    QaItem item;
    for (size_t j = start; j < start + k; ++j) {
      absl::StrAppend(&item.context, j > start ? "\n" : "", line(records[j]));
    }
    item.question = question(records[target]);
    item.answer = answer(records[target]);
    items.push_back(std::move(item));
  }
  return items;
}

}  // namespace

absl::StatusOr<EvalCorpus> ReadEvalCorpus(const std::string& dir) {
  EvalCorpus corpus;
  absl::StatusOr<std::vector<train::JsonlRecord>> docs =
      ReadNonEmpty(dir + "/test.jsonl", {"source", "text"});
  if (!docs.ok()) return docs.status();
  corpus.documents = *std::move(docs);
  absl::StatusOr<std::vector<train::JsonlRecord>> verses =
      ReadNonEmpty(dir + "/verses.test.jsonl", {"ref", "text"});
  if (!verses.ok()) return verses.status();
  corpus.verses = *std::move(verses);
  absl::StatusOr<std::vector<train::JsonlRecord>> dictionary =
      ReadNonEmpty(dir + "/dictionary.test.jsonl", {"headword", "pos", "definition"});
  if (!dictionary.ok()) return dictionary.status();
  corpus.dictionary = *std::move(dictionary);
  return corpus;
}

absl::StatusOr<TokenStream> TokenStream::Make(const Tokenizer& tokenizer,
                                              const std::vector<std::string>& texts,
                                              uint64_t seed) {
  std::vector<std::string> shuffled = texts;
  train::Shuffle(shuffled, seed);
  absl::StatusOr<std::vector<int32_t>> separator = Encode(tokenizer, "\n\n");
  if (!separator.ok()) return separator.status();
  std::vector<int32_t> tokens;
  for (const std::string& text : shuffled) {
    absl::StatusOr<std::vector<int32_t>> ids = Encode(tokenizer, text);
    if (!ids.ok()) return ids.status();
    if (!tokens.empty()) tokens.insert(tokens.end(), separator->begin(), separator->end());
    tokens.insert(tokens.end(), ids->begin(), ids->end());
  }
  if (tokens.empty()) return absl::InvalidArgumentError("the test texts give no tokens");
  return TokenStream(std::move(tokens));
}

std::vector<int32_t> TokenStream::Window(int64_t length, train::SplitMix64* rng) const {
  std::vector<int32_t> window;
  window.reserve(static_cast<size_t>(std::max<int64_t>(length, 0)));
  size_t at = rng->Below(tokens_.size());
  for (int64_t i = 0; i < length; ++i) {
    window.push_back(tokens_[at]);
    at = (at + 1) % tokens_.size();
  }
  return window;
}

absl::StatusOr<PasskeyCase> MakePasskeyCase(const Tokenizer& tokenizer, const TokenStream& stream,
                                            int64_t length, train::SplitMix64* rng) {
  PasskeyCase c;
  c.key = absl::StrFormat("%05d", 10000 + static_cast<int>(rng->Below(90000)));
  absl::StatusOr<std::vector<int32_t>> sentence = Encode(
      tokenizer,
      absl::StrCat("\nThe pass key is ", c.key, ". Remember it. ", c.key, " is the pass key.\n"));
  if (!sentence.ok()) return sentence.status();
  const int64_t filler_length = length - static_cast<int64_t>(sentence->size());
  if (filler_length < 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "a passkey context of %d tokens cannot hold the %d-token key sentence", length,
        sentence->size()));
  }
  const std::vector<int32_t> filler = stream.Window(filler_length, rng);
  const size_t at = rng->Below(filler.size() + 1);
  c.context.assign(filler.begin(), filler.begin() + at);
  c.context.insert(c.context.end(), sentence->begin(), sentence->end());
  c.context.insert(c.context.end(), filler.begin() + at, filler.end());
  c.depth = static_cast<double>(at) / static_cast<double>(length);
  return c;
}

std::vector<QaItem> MakeVerseQa(const std::vector<train::JsonlRecord>& verses, int count,
                                int items_per_context, uint64_t seed) {
  return MakeQa(
      verses, count, items_per_context, seed,
      [](const train::JsonlRecord& r) { return absl::StrCat(r.at("ref"), " ", r.at("text")); },
      [](const train::JsonlRecord& r) { return absl::StrCat("What does ", r.at("ref"), " say?"); },
      [](const train::JsonlRecord& r) { return r.at("text"); });
}

std::vector<QaItem> MakeDictionaryQa(const std::vector<train::JsonlRecord>& entries, int count,
                                     int items_per_context, uint64_t seed) {
  return MakeQa(
      entries, count, items_per_context, seed,
      [](const train::JsonlRecord& r) {
        return absl::StrCat(r.at("headword"), " (", r.at("pos"), "): ", r.at("definition"));
      },
      [](const train::JsonlRecord& r) {
        return absl::StrCat("What is the definition of \"", r.at("headword"), "\"?");
      },
      [](const train::JsonlRecord& r) { return r.at("definition"); });
}

}  // namespace ccs::model::eval
