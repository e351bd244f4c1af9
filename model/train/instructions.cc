#include "model/train/instructions.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ccs::model::train {

std::vector<FactLine> DictionaryFacts(const std::vector<JsonlRecord>& records) {
  std::vector<FactLine> facts;
  for (const JsonlRecord& r : records) {
    const std::string& headword = r.at("headword");
    const std::string& definition = r.at("definition");
    facts.push_back({absl::StrCat(headword, " (", r.at("pos"), "): ", definition),
                     absl::StrCat("What does \"", headword, "\" mean?"), definition});
  }
  return facts;
}

std::vector<FactLine> VerseFacts(const std::vector<JsonlRecord>& records) {
  std::vector<FactLine> facts;
  for (const JsonlRecord& r : records) {
    facts.push_back({absl::StrCat(r.at("ref"), " ", r.at("text")),
                     absl::StrCat("What does ", r.at("ref"), " say?"), r.at("text")});
  }
  return facts;
}

InstructionGenerator::InstructionGenerator(const Tokenizer* tokenizer,
                                           std::vector<std::vector<int32_t>> filler,
                                           std::vector<FactLine> dictionary,
                                           std::vector<FactLine> verses)
    : tokenizer_(tokenizer),
      filler_(std::move(filler)),
      dictionary_(std::move(dictionary)),
      verses_(std::move(verses)) {}

absl::StatusOr<std::vector<int32_t>> InstructionGenerator::Encode(const std::string& text) const {
  EncodeOptions plain;
  plain.parse_special_tokens = false;
  return tokenizer_->Encode(text, plain);
}

absl::StatusOr<InstructionExample> InstructionGenerator::Make(const std::string& kind,
                                                              int64_t context_tokens,
                                                              SplitMix64& rng) const {
  if (context_tokens < 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("instruction contexts need at least 32 tokens, not ", context_tokens));
  }
  if (kind == "passkey") return Passkey(context_tokens, rng);
  if (kind == "dictionary") return Facts(kind, dictionary_, context_tokens, rng);
  if (kind == "verse") return Facts(kind, verses_, context_tokens, rng);
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown instruction kind \"", kind, "\" (passkey, dictionary or verse)"));
}

absl::StatusOr<InstructionExample> InstructionGenerator::Passkey(int64_t n,
                                                                 SplitMix64& rng) const {
  if (filler_.empty()) return absl::FailedPreconditionError("no filler text for passkeys");
  const std::string key = absl::StrFormat("%05d", static_cast<int>(rng.Below(100000)));
  absl::StatusOr<std::vector<int32_t>> needle =
      Encode(absl::StrCat(" The pass key is ", key, ". Remember it. ", key, " is the pass key. "));
  if (!needle.ok()) return needle.status();
  const int64_t room = n - static_cast<int64_t>(needle->size());
  if (room < 0) return absl::InvalidArgumentError("context too short for the pass key");
  std::vector<int32_t> filler;
  while (static_cast<int64_t>(filler.size()) < room) {
    const std::vector<int32_t>& w = filler_[rng.Below(filler_.size())];
    filler.insert(filler.end(), w.begin(), w.end());
  }
  filler.resize(room);
  const int64_t depth = static_cast<int64_t>(rng.Below(room + 1));
  InstructionExample example;
  example.kind = "passkey";
  example.context.assign(filler.begin(), filler.begin() + depth);
  example.context.insert(example.context.end(), needle->begin(), needle->end());
  example.context.insert(example.context.end(), filler.begin() + depth, filler.end());
  example.question = "What is the pass key?";
  example.answer = absl::StrCat("The pass key is ", key, ".");
  return example;
}

absl::StatusOr<InstructionExample> InstructionGenerator::Facts(const std::string& kind,
                                                               const std::vector<FactLine>& facts,
                                                               int64_t n, SplitMix64& rng) const {
  if (facts.empty()) return absl::FailedPreconditionError(absl::StrCat("no ", kind, " records"));
  // Lines from a random start until n tokens are covered; each line's span.
  const size_t start = rng.Below(facts.size());
  std::vector<int32_t> context;
  std::vector<std::pair<size_t, int64_t>> whole;  // (fact, end token) of lines inside n
  for (size_t used = 0; static_cast<int64_t>(context.size()) < n && used < facts.size(); ++used) {
    const size_t i = (start + used) % facts.size();
    absl::StatusOr<std::vector<int32_t>> ids =
        Encode(context.empty() ? facts[i].text : "\n" + facts[i].text);
    if (!ids.ok()) return ids.status();
    context.insert(context.end(), ids->begin(), ids->end());
    if (static_cast<int64_t>(context.size()) <= n) whole.emplace_back(i, context.size());
  }
  if (static_cast<int64_t>(context.size()) < n || whole.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the ", kind, " records cannot fill ", n, " tokens with a whole line"));
  }
  context.resize(n);
  const FactLine& asked = facts[whole[rng.Below(whole.size())].first];
  return InstructionExample{kind, std::move(context), asked.question, asked.answer};
}

}  // namespace ccs::model::train
