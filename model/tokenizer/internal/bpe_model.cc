#include "model/tokenizer/internal/bpe_model.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "model/tokenizer/internal/unicode_classes.h"

namespace ccs {
namespace tokenizer_internal {
namespace {

// GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the
// other 68 take the code points 256, 257, ... in byte order.
constexpr bool IsPrintable(int b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct ByteTables {
  char32_t to_code_point[256] = {};
  int16_t from_code_point[256 + 68] = {};  // -1: not a stand-in
};

constexpr ByteTables MakeByteTables() {
  ByteTables t{};
  for (int c = 0; c < 256 + 68; ++c) t.from_code_point[c] = -1;
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    const char32_t c = IsPrintable(b) ? b : 256 + n++;
    t.to_code_point[b] = c;
    t.from_code_point[c] = static_cast<int16_t>(b);
  }
  return t;
}
constexpr ByteTables kByteTables = MakeByteTables();

void AppendUtf8(char32_t c, std::string* out) {  // c < 0x800 here
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

// The bytes of a token made only of byte stand-ins, or nothing.
std::optional<std::string> StandInBytes(absl::string_view token) {
  std::string bytes;
  size_t i = 0;
  while (i < token.size()) {
    size_t length;
    const char32_t c = DecodeUtf8(token, i, &length);
    if (c >= 256 + 68 || kByteTables.from_code_point[c] < 0) return std::nullopt;
    bytes.push_back(static_cast<char>(kByteTables.from_code_point[c]));
    i += length;
  }
  return bytes;
}

}  // namespace

std::string ByteToUnicode(uint8_t byte) {
  std::string s;
  AppendUtf8(kByteTables.to_code_point[byte], &s);
  return s;
}

std::string ByteLevelDecode(absl::string_view token) {
  std::optional<std::string> bytes = StandInBytes(token);
  return bytes.has_value() ? *std::move(bytes) : std::string(token);
}

absl::StatusOr<BpeModel> BpeModel::Create(Config config) {
  BpeModel model;
  model.vocab_.reserve(config.vocab.size());
  for (auto& [token, id] : config.vocab) {
    if (std::optional<std::string> bytes = StandInBytes(token)) {
      model.bytes_to_id_[*bytes] = id;
    }
    model.vocab_[std::move(token)] = id;
  }
  for (int b = 0; b < 256; ++b) {
    const std::optional<int32_t> id = model.TokenToId(ByteToUnicode(b));
    model.byte_id_[b] = id.value_or(-1);
  }
  model.merges_.reserve(config.merges.size());
  for (size_t rank = 0; rank < config.merges.size(); ++rank) {
    const auto& [left, right] = config.merges[rank];
    const std::optional<int32_t> left_id = model.TokenToId(left);
    const std::optional<int32_t> right_id = model.TokenToId(right);
    const std::optional<int32_t> new_id = model.TokenToId(absl::StrCat(left, right));
    if (!left_id || !right_id || !new_id) {
      return absl::InvalidArgumentError(absl::StrCat(
          "merge ", rank, " (\"", left, "\" + \"", right, "\") names a token that is ",
          "not in the vocabulary: \"",
          !left_id ? left : !right_id ? right : absl::StrCat(left, right), "\""));
    }
    // As in Hugging Face, a repeated pair takes its last rank.
    model.merges_[PairKey(*left_id, *right_id)] = {static_cast<int32_t>(rank), *new_id};
  }
  if (config.unk_token.has_value()) {
    const std::optional<int32_t> unk = model.TokenToId(*config.unk_token);
    if (!unk) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unk_token \"", *config.unk_token, "\" is not in the vocabulary"));
    }
    model.unk_id_ = *unk;
  }
  model.fuse_unk_ = config.fuse_unk;
  model.ignore_merges_ = config.ignore_merges;
  return model;
}

std::optional<int32_t> BpeModel::TokenToId(absl::string_view token) const {
  const auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const BpeModel::Merge* BpeModel::FindMerge(int32_t left, int32_t right) const {
  const auto it = merges_.find(PairKey(left, right));
  return it == merges_.end() ? nullptr : &it->second;
}

namespace {

struct Symbol {
  int32_t id;
  int32_t prev;  // index of the symbol before, -1 at the start
  int32_t next;  // index of the symbol after, -1 at the end
  bool removed;  // merged into the symbol before it
};

// Merges `symbols` in place as Hugging Face's BPE does: the lowest-ranked
// pair first, the leftmost among equal ranks; `find_merge(left, right)`
// returns the merge of two ids or null.
template <typename FindMerge>
void MergeSymbols(const FindMerge& find_merge, std::vector<Symbol>* symbols_ptr) {
  std::vector<Symbol>& symbols = *symbols_ptr;
  struct Candidate {
    int32_t rank;
    int32_t pos;  // index of the left symbol
    int32_t new_id;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::vector<Candidate> heap;
  const auto push = [&](int32_t pos, int32_t left_id, int32_t right_id) {
    if (const auto* m = find_merge(left_id, right_id)) {
      heap.push_back({m->rank, pos, m->new_id});
      std::push_heap(heap.begin(), heap.end(), std::greater<Candidate>());
    }
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) {
    push(i, symbols[i].id, symbols[i + 1].id);
  }
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<Candidate>());
    const Candidate top = heap.back();
    heap.pop_back();
    Symbol& left = symbols[top.pos];
    if (left.removed || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    const auto* current = find_merge(left.id, right.id);
    if (current == nullptr || current->new_id != top.new_id) continue;  // stale
    left.id = top.new_id;
    right.removed = true;
    left.next = right.next;
    if (left.next >= 0) symbols[left.next].prev = top.pos;
    if (left.prev >= 0) push(left.prev, symbols[left.prev].id, left.id);
    if (left.next >= 0) push(top.pos, left.id, symbols[left.next].id);
  }
}

}  // namespace

void BpeModel::EncodeWord(absl::string_view bytes, std::vector<int32_t>* ids) const {
  if (ignore_merges_) {
    const auto it = bytes_to_id_.find(bytes);
    if (it != bytes_to_id_.end()) {
      ids->push_back(it->second);
      return;
    }
  }
  std::vector<Symbol> symbols;
  symbols.reserve(bytes.size());
  bool last_unknown = false;
  for (const char c : bytes) {
    int32_t id = byte_id_[static_cast<uint8_t>(c)];
    const bool unknown = id < 0;
    if (unknown) {
      if (unk_id_ < 0) continue;
      if (fuse_unk_ && last_unknown) continue;
      id = unk_id_;
    }
    last_unknown = unknown;
    const int32_t index = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, index - 1, -1, false});
    if (index > 0) symbols[index - 1].next = index;
  }
  MergeSymbols([this](int32_t left, int32_t right) { return FindMerge(left, right); },
               &symbols);
  for (const Symbol& s : symbols) {
    if (!s.removed) ids->push_back(s.id);
  }
}

}  // namespace tokenizer_internal
}  // namespace ccs
