#include "client/load_workload.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace ccs::client {
namespace {

constexpr std::array<absl::string_view, kOperationCount> kNames = {
    "compress", "generate", "reconstruct"};

bool IsContinuationByte(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

// Drops up to 3 trailing bytes of a character cut in two.
void TrimToCharacterBoundary(std::string* text) {
  // Find where the last character starts and check it is complete.
  size_t start = text->size();
  for (int back = 0; back < 4 && start > 0; ++back) {
    --start;
    if (!IsContinuationByte((*text)[start])) break;
  }
  if (start >= text->size()) return;
  const unsigned char lead = static_cast<unsigned char>((*text)[start]);
  const size_t length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3
                        : lead >= 0xC0                ? 2
                                                      : 1;
  if (text->size() - start < length) text->resize(start);
}

// Words for generated contexts: common English, so that a tokenizer sees
// ordinary text (about 4 to 5 bytes per token for GPT-style vocabularies).
constexpr absl::string_view kWords[] = {
    "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as",
    "was", "with", "be", "by", "on", "not", "he", "this", "are", "or",
    "his", "from", "at", "which", "but", "have", "an", "had", "they", "you",
    "were", "their", "one", "all", "we", "can", "her", "has", "there",
    "been", "if", "more", "when", "will", "would", "who", "so", "no",
    "time", "people", "year", "way", "day", "man", "thing", "woman", "life",
    "child", "world", "school", "state", "family", "student", "group",
    "country", "problem", "hand", "part", "place", "case", "week", "company",
    "system", "program", "question", "work", "government", "number", "night",
    "point", "home", "water", "room", "mother", "area", "money", "story",
    "fact", "month", "lot", "right", "study", "book", "eye", "job", "word",
    "business", "issue", "side", "kind", "head", "house", "service",
    "friend", "father", "power", "hour", "game", "line", "end", "member",
    "law", "car", "city", "community", "name", "president", "team",
    "minute", "idea", "kid", "body", "information", "back", "parent", "face",
    "others", "level", "office", "door", "health", "person", "art", "war",
    "history", "party", "result", "change", "morning", "reason", "research",
    "girl", "guy", "moment", "air", "teacher", "force", "education", "river",
    "mountain", "garden", "letter", "music", "market", "village", "winter",
    "summer", "island", "bridge", "library", "engine", "signal", "harbor",
    "lantern", "orchard", "meadow", "compass", "voyage", "recipe", "treaty",
    "found", "made", "said", "went", "took", "came", "saw", "knew", "gave",
    "told", "became", "left", "felt", "brought", "began", "kept", "held",
    "wrote", "stood", "heard", "let", "meant", "set", "met", "ran", "paid",
    "sat", "spoke", "lay", "led", "read", "grew", "lost", "fell", "sent",
    "built", "understood", "drew", "broke", "spent", "cut", "rose", "drove",
    "old", "new", "good", "great", "small", "large", "long", "little",
    "early", "young", "important", "few", "public", "bad", "same", "able",
    "quiet", "bright", "ancient", "northern", "careful", "golden", "narrow"};

}  // namespace

absl::string_view OperationName(Operation op) {
  return kNames[static_cast<int>(op)];
}

double UnitRandom(std::mt19937_64& random) {
  // 53 random bits: every double in [0, 1) with spacing 2^-53.
  return static_cast<double>(random() >> 11) * 0x1.0p-53;
}

absl::StatusOr<Mix> Mix::Parse(absl::string_view text) {
  Mix mix;
  std::array<bool, kOperationCount> seen{};
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    const std::pair<absl::string_view, absl::string_view> name_weight =
        absl::StrSplit(part, absl::MaxSplits(':', 1));
    const auto found = std::find(kNames.begin(), kNames.end(), name_weight.first);
    double weight = 0;
    if (found == kNames.end() || !absl::SimpleAtod(name_weight.second, &weight) ||
        !(weight >= 0) || weight > 1e9) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--mix: \"", part,
          "\" is not NAME:WEIGHT with NAME one of compress, generate, "
          "reconstruct and WEIGHT a number >= 0"));
    }
    const int index = static_cast<int>(found - kNames.begin());
    if (seen[index]) {
      return absl::InvalidArgumentError(
          absl::StrCat("--mix names ", name_weight.first, " twice"));
    }
    seen[index] = true;
    mix.weights_[index] = weight;
  }
  double total = 0;
  for (double weight : mix.weights_) total += weight;
  if (total <= 0) {
    return absl::InvalidArgumentError(
        "--mix needs at least one positive weight, e.g. "
        "compress:1,generate:3,reconstruct:1");
  }
  return mix;
}

Operation Mix::Draw(double unit_random) const {
  double total = 0;
  for (double weight : weights_) total += weight;
  double point = unit_random * total;
  int last_positive = 0;
  for (int i = 0; i < kOperationCount; ++i) {
    if (weights_[i] <= 0) continue;
    last_positive = i;
    if (point < weights_[i]) return static_cast<Operation>(i);
    point -= weights_[i];
  }
  return static_cast<Operation>(last_positive);  // rounding at the top end
}

bool Mix::NeedsSessions() const {
  return weight(Operation::kGenerate) > 0 || weight(Operation::kReconstruct) > 0;
}

std::string Mix::ToString() const {
  std::vector<std::string> parts;
  for (int i = 0; i < kOperationCount; ++i) {
    if (weights_[i] > 0) parts.push_back(absl::StrCat(kNames[i], ":", weights_[i]));
  }
  return absl::StrJoin(parts, ",");
}

absl::StatusOr<SizeRange> SizeRange::Parse(absl::string_view text) {
  SizeRange range;
  const std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(text, absl::MaxSplits(':', 1));
  const bool single = text.find(':') == absl::string_view::npos;
  if (!absl::SimpleAtoi(parts.first, &range.min) ||
      !absl::SimpleAtoi(single ? parts.first : parts.second, &range.max) ||
      range.min < 1 || range.max < range.min) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", text, "\" is not a size range: use MIN:MAX with 1 <= MIN <= MAX, "
        "or one number"));
  }
  return range;
}

int64_t SizeRange::Draw(std::mt19937_64& random) const {
  return std::uniform_int_distribution<int64_t>(min, max)(random);
}

absl::StatusOr<ContextSource> ContextSource::FromCorpus(std::string corpus) {
  if (corpus.empty()) {
    return absl::InvalidArgumentError("the corpus is empty");
  }
  return ContextSource(std::move(corpus));
}

ContextSource ContextSource::Generated() { return ContextSource(""); }

std::string ContextSource::Draw(int64_t bytes, std::mt19937_64& random) const {
  if (bytes <= 0) return "";
  std::string text = is_corpus() ? DrawFromCorpus(bytes, random)
                                  : Generate(bytes, random);
  TrimToCharacterBoundary(&text);
  return text;
}

std::string ContextSource::DrawFromCorpus(int64_t bytes,
                                          std::mt19937_64& random) const {
  const size_t size = corpus_.size();
  size_t start = std::uniform_int_distribution<size_t>(0, size - 1)(random);
  // Start at a word: just past the next whitespace, if one is near.
  for (size_t i = start; i < size && i < start + 64; ++i) {
    if (IsSpace(corpus_[i])) {
      start = i + 1;
      break;
    }
  }
  while (start < size && IsContinuationByte(corpus_[start])) ++start;
  if (start >= size) start = 0;
  std::string text;
  text.reserve(static_cast<size_t>(bytes));
  while (static_cast<int64_t>(text.size()) < bytes) {
    const size_t wanted = static_cast<size_t>(bytes) - text.size();
    text.append(corpus_, start, std::min(wanted, size - start));
    if (static_cast<int64_t>(text.size()) < bytes) {
      text.append("\n\n", std::min<size_t>(2, bytes - text.size()));
    }
    start = 0;
  }
  return text;
}

std::string ContextSource::Generate(int64_t bytes, std::mt19937_64& random) {
  constexpr size_t kWordCount = sizeof(kWords) / sizeof(kWords[0]);
  std::string text;
  text.reserve(static_cast<size_t>(bytes) + 32);
  while (static_cast<int64_t>(text.size()) < bytes) {
    const int length = 6 + static_cast<int>(random() % 12);
    for (int w = 0; w < length; ++w) {
      std::string word(kWords[random() % kWordCount]);
      if (w == 0) word[0] = static_cast<char>(word[0] - 'a' + 'A');
      if (w > 0) text += ' ';
      text += word;
    }
    text += random() % 5 == 0 ? ".\n" : ". ";
  }
  text.resize(static_cast<size_t>(bytes));
  return text;
}

}  // namespace ccs::client
