#include "model/tokenizer/sentencepiece_tokenizer.h"

#include <array>
#include <fstream>
#include <queue>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "model/tokenizer/internal/sentencepiece_model.h"

namespace ccs {
namespace {

using tokenizer_internal::SentencePieceModel;
using Type = SentencePieceModel::Type;

constexpr absl::string_view kSpaceSymbol = "\xE2\x96\x81";  // "▁", U+2581

// Bytes in the UTF-8 character led by `lead` (1 for bytes that lead none).
size_t OneCharLength(char lead) {
  const uint8_t b = static_cast<uint8_t>(lead);
  return b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}

class SentencePieceTokenizer final : public Tokenizer {
 public:
  static absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> Create(
      SentencePieceModel model, const TokenizerOptions& options);

  absl::Status DecodeAppend(int32_t id, const DecodeOptions& options,
                            DecodeState* state, std::string* out) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(model_.pieces.size()); }
  std::optional<int32_t> TokenToId(absl::string_view token) const override;
  std::optional<std::string> IdToToken(int32_t id) const override {
    if (id < 0 || id >= vocab_size()) return std::nullopt;
    return model_.pieces[id].text;
  }
  bool IsSpecial(int32_t id) const override {
    return id >= 0 && id < vocab_size() &&
           (model_.pieces[id].type == Type::kControl || model_.pieces[id].type == Type::kUnknown);
  }
  std::optional<int32_t> bos_id() const override { return bos_; }
  std::optional<int32_t> eos_id() const override { return eos_; }
  std::optional<int32_t> pad_id() const override { return pad_; }

 protected:
  absl::Status EncodeText(absl::string_view text, bool parse_special_tokens,
                          std::vector<int32_t>* ids) const override;

 private:
  // How one id decodes.
  struct Surface {
    std::string text;                // "▁" made " "; the byte of a byte piece
    bool starts_with_space = false;  // the piece starts with "▁"
  };

  SentencePieceTokenizer() = default;
  absl::Status Index(const TokenizerOptions& options);

  // The library's PieceToId: reserved pieces, then the others, else unk.
  int32_t PieceToId(absl::string_view piece) const;
  // The length of the user-defined symbol that starts `text` (0 if none).
  size_t UserDefinedPrefix(absl::string_view text) const;
  // SentencePiece's Normalizer::Normalize without a character map.
  std::string Normalize(absl::string_view text) const;
  // A symbol of SentencePiece's BPE: a piece of the normalized text.
  struct Symbol {
    int prev;  // index of the symbol before, -1 at the start
    int next;  // index of the symbol after, -1 at the end
    bool freeze;  // a user-defined symbol: never merged
    absl::string_view piece;  // empty once merged into the symbol before
  };
  // Unused piece -> the two pieces it was merged from.
  using ReverseMerges =
      absl::flat_hash_map<absl::string_view, std::pair<absl::string_view, absl::string_view>>;

  // SentencePiece's bpe::Model::Encode plus the processor's byte fallback.
  void EncodeNormalized(absl::string_view normalized, std::vector<int32_t>* ids) const;
  // The initial symbols: user-defined symbols and single characters.
  std::vector<Symbol> SplitSymbols(absl::string_view normalized) const;
  // Merges the best-scoring pair (the leftmost among equals) until none is
  // a piece, recording how unused pieces were made.
  void MergeSymbols(std::vector<Symbol>* symbols, ReverseMerges* rev_merge) const;
  // Appends the id of one piece of the result; *last_unknown: whether the
  // piece before was unknown (runs of unknown pieces become one <unk>).
  void AppendPiece(absl::string_view piece, bool* last_unknown,
                   std::vector<int32_t>* ids) const;

  SentencePieceModel model_;
  absl::flat_hash_map<std::string, int32_t> normal_;    // normal, user-defined, unused
  absl::flat_hash_map<std::string, int32_t> reserved_;  // unknown, control, byte
  absl::flat_hash_set<std::string> user_defined_;
  size_t max_user_defined_ = 0;
  bool has_unused_ = false;
  std::array<int32_t, 256> byte_ids_{};  // -1: no <0xNN> piece
  int32_t unk_id_ = -1;
  std::vector<Surface> surfaces_;
  std::optional<int32_t> bos_, eos_, pad_;
};

absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> SentencePieceTokenizer::Create(
    SentencePieceModel model, const TokenizerOptions& options) {
  if (model.model_type != SentencePieceModel::ModelType::kBpe) {
    return absl::UnimplementedError(absl::StrCat(
        "SentencePiece model type ", static_cast<int>(model.model_type),
        " is not supported (only BPE, as Llama uses; 1 is unigram)"));
  }
  if (!model.precompiled_charsmap.empty()) {
    return absl::UnimplementedError(absl::StrCat(
        "SentencePiece normalization \"", model.normalizer_name,
        "\" is not supported (only identity, as Llama uses)"));
  }
  if (model.treat_whitespace_as_suffix) {
    return absl::UnimplementedError("SentencePiece treat_whitespace_as_suffix is not supported");
  }
  std::unique_ptr<SentencePieceTokenizer> t(new SentencePieceTokenizer());
  t->model_ = std::move(model);
  absl::Status status = t->Index(options);
  if (!status.ok()) return status;
  return t;
}

// The byte of a byte-fallback piece "<0xNN>".
absl::StatusOr<uint8_t> PieceByte(const std::string& piece) {
  uint32_t value = 0;
  if (piece.size() != 6 || !absl::StartsWith(piece, "<0x") || piece[5] != '>' ||
      !absl::SimpleHexAtoi(absl::string_view(piece).substr(3, 2), &value)) {
    return absl::InvalidArgumentError(absl::StrCat("byte piece \"", piece, "\" is not <0xNN>"));
  }
  return static_cast<uint8_t>(value);
}

absl::Status SentencePieceTokenizer::Index(const TokenizerOptions& options) {
  byte_ids_.fill(-1);
  surfaces_.resize(model_.pieces.size());
  for (int32_t id = 0; id < vocab_size(); ++id) {
    const SentencePieceModel::Piece& piece = model_.pieces[id];
    const bool normal = piece.type == Type::kNormal || piece.type == Type::kUserDefined ||
                        piece.type == Type::kUnused;
    if (!(normal ? normal_ : reserved_).try_emplace(piece.text, id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("SentencePiece model defines \"", piece.text, "\" twice"));
    }
    Surface& surface = surfaces_[id];
    switch (piece.type) {
      case Type::kUnknown:
        if (unk_id_ >= 0) return absl::InvalidArgumentError("two unknown pieces");
        unk_id_ = id;
        surface.text = model_.unk_surface;
        break;
      case Type::kControl:
        break;
      case Type::kByte: {
        absl::StatusOr<uint8_t> byte = PieceByte(piece.text);
        if (!byte.ok()) return byte.status();
        byte_ids_[*byte] = id;
        surface.text = std::string(1, static_cast<char>(*byte));
        break;
      }
      default:
        if (piece.type == Type::kUserDefined) {
          user_defined_.insert(piece.text);
          max_user_defined_ = std::max(max_user_defined_, piece.text.size());
        }
        has_unused_ = has_unused_ || piece.type == Type::kUnused;
        surface.starts_with_space = absl::StartsWith(piece.text, kSpaceSymbol);
        surface.text = absl::StrReplaceAll(piece.text, {{kSpaceSymbol, " "}});
    }
  }
  if (unk_id_ < 0) return absl::InvalidArgumentError("SentencePiece model has no unknown piece");
  // As the library: the named piece if it is a control piece, or the option.
  const auto special = [&](const std::string& option, const std::string& model_piece,
                           std::optional<int32_t>* id) -> absl::Status {
    if (option.empty()) {
      const int32_t found = PieceToId(model_piece);
      if (model_.pieces[found].type == Type::kControl) *id = found;
      return absl::OkStatus();
    }
    const std::optional<int32_t> found = TokenToId(option);
    if (!found.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("special token \"", option, "\" is not a piece of this model"));
    }
    *id = found;
    return absl::OkStatus();
  };
  absl::Status status = special(options.bos_token, model_.bos_piece, &bos_);
  if (status.ok()) status = special(options.eos_token, model_.eos_piece, &eos_);
  if (status.ok()) status = special(options.pad_token, model_.pad_piece, &pad_);
  return status;
}

int32_t SentencePieceTokenizer::PieceToId(absl::string_view piece) const {
  if (const auto it = reserved_.find(piece); it != reserved_.end()) return it->second;
  if (const auto it = normal_.find(piece); it != normal_.end()) return it->second;
  return unk_id_;
}

std::optional<int32_t> SentencePieceTokenizer::TokenToId(absl::string_view token) const {
  const int32_t id = PieceToId(token);
  if (id == unk_id_ && model_.pieces[id].text != token) return std::nullopt;
  return id;
}

size_t SentencePieceTokenizer::UserDefinedPrefix(absl::string_view text) const {
  for (size_t n = std::min(max_user_defined_, text.size()); n > 0; --n) {
    if (user_defined_.contains(text.substr(0, n))) return n;
  }
  return 0;
}

std::string SentencePieceTokenizer::Normalize(absl::string_view input) const {
  const absl::string_view space = model_.escape_whitespaces ? kSpaceSymbol : " ";
  const bool remove_extra = model_.remove_extra_whitespaces;
  // The next unit: a user-defined symbol or one character.
  const auto next_unit = [this](absl::string_view text) {
    const size_t user_defined = UserDefinedPrefix(text);
    return text.substr(0, user_defined > 0 ? user_defined
                                           : std::min(OneCharLength(text[0]), text.size()));
  };
  if (remove_extra) {  // leading spaces
    while (!input.empty() && next_unit(input) == " ") input.remove_prefix(1);
  }
  std::string normalized;
  if (input.empty()) return normalized;
  normalized.reserve(input.size() * 3 / 2 + 3);
  if (model_.add_dummy_prefix) normalized.append(space.data(), space.size());
  bool is_prev_space = remove_extra;
  while (!input.empty()) {
    const absl::string_view unit = next_unit(input);
    absl::string_view sp = unit;
    while (is_prev_space && absl::ConsumePrefix(&sp, " ")) {
    }
    if (!sp.empty()) {
      for (const char c : sp) {
        if (c == ' ') {
          normalized.append(space.data(), space.size());
        } else {
          normalized.push_back(c);
        }
      }
      is_prev_space = absl::EndsWith(sp, " ");
    }
    input.remove_prefix(unit.size());
    if (!remove_extra) is_prev_space = false;
  }
  if (remove_extra) {  // trailing spaces
    while (absl::EndsWith(normalized, space)) normalized.resize(normalized.size() - space.size());
  }
  return normalized;
}

void SentencePieceTokenizer::AppendPiece(absl::string_view piece, bool* last_unknown,
                                         std::vector<int32_t>* ids) const {
  const int32_t id = PieceToId(piece);
  const bool unknown = id == unk_id_;
  if (unknown && model_.byte_fallback) {
    for (const char c : piece) {  // <0xNN> per byte
      const int32_t byte_id = byte_ids_[static_cast<uint8_t>(c)];
      ids->push_back(byte_id >= 0 ? byte_id : unk_id_);
    }
    *last_unknown = false;
    return;
  }
  if (!(unknown && *last_unknown)) ids->push_back(id);
  *last_unknown = unknown;
}

std::vector<SentencePieceTokenizer::Symbol> SentencePieceTokenizer::SplitSymbols(
    absl::string_view normalized) const {
  std::vector<Symbol> symbols;
  symbols.reserve(normalized.size());
  for (size_t pos = 0; pos < normalized.size();) {
    const size_t user_defined = UserDefinedPrefix(normalized.substr(pos));
    const size_t length = user_defined > 0
                              ? user_defined
                              : std::min(OneCharLength(normalized[pos]), normalized.size() - pos);
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({index - 1, -1, user_defined > 0, normalized.substr(pos, length)});
    pos += length;
    if (pos < normalized.size()) symbols.back().next = index + 1;
  }
  return symbols;
}

void SentencePieceTokenizer::MergeSymbols(std::vector<Symbol>* symbols_ptr,
                                          ReverseMerges* rev_merge) const {
  std::vector<Symbol>& symbols = *symbols_ptr;
  struct Pair {
    float score;
    int left;
    int right;
    size_t size;
    bool operator<(const Pair& o) const {  // best: highest score, then leftmost
      return score != o.score ? score < o.score : left > o.left;
    }
  };
  std::priority_queue<Pair> agenda;
  const auto maybe_add_pair = [&](int left, int right) {
    if (left < 0 || right < 0 || symbols[left].freeze || symbols[right].freeze) return;
    const absl::string_view piece(symbols[left].piece.data(),
                                  symbols[left].piece.size() + symbols[right].piece.size());
    const auto it = normal_.find(piece);
    if (it == normal_.end()) return;
    agenda.push({model_.pieces[it->second].score, left, right, piece.size()});
    if (model_.pieces[it->second].type == Type::kUnused) {
      (*rev_merge)[piece] = {symbols[left].piece, symbols[right].piece};
    }
  };
  for (size_t i = 1; i < symbols.size(); ++i) maybe_add_pair(static_cast<int>(i) - 1, i);
  while (!agenda.empty()) {
    const Pair top = agenda.top();
    agenda.pop();
    Symbol& left = symbols[top.left];
    Symbol& right = symbols[top.right];
    if (left.piece.empty() || right.piece.empty() ||
        left.piece.size() + right.piece.size() != top.size) {
      continue;  // stale
    }
    left.piece = absl::string_view(left.piece.data(), top.size);
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.left;
    right.piece = absl::string_view();
    maybe_add_pair(left.prev, top.left);
    maybe_add_pair(top.left, left.next);
  }
}

void SentencePieceTokenizer::EncodeNormalized(absl::string_view normalized,
                                              std::vector<int32_t>* ids) const {
  std::vector<Symbol> symbols = SplitSymbols(normalized);
  ReverseMerges rev_merge;
  MergeSymbols(&symbols, &rev_merge);
  // Unused pieces are split back into the pieces they were merged from.
  std::vector<absl::string_view> stack;
  bool last_unknown = false;
  for (int i = symbols.empty() ? -1 : 0; i != -1; i = symbols[i].next) {
    stack.push_back(symbols[i].piece);
    while (!stack.empty()) {
      const absl::string_view piece = stack.back();
      stack.pop_back();
      const auto it = has_unused_ ? rev_merge.find(piece) : rev_merge.end();
      if (it != rev_merge.end() && model_.pieces[PieceToId(piece)].type == Type::kUnused) {
        stack.push_back(it->second.second);
        stack.push_back(it->second.first);
        continue;
      }
      AppendPiece(piece, &last_unknown, ids);
    }
  }
}

absl::Status SentencePieceTokenizer::EncodeText(absl::string_view text,
                                                bool /*parse_special_tokens*/,
                                                std::vector<int32_t>* ids) const {
  EncodeNormalized(Normalize(text), ids);
  return absl::OkStatus();
}

// Mirrors SentencePieceProcessor::Decode one piece at a time: the first
// piece that is not a byte and comes before any text loses its leading "▁";
// after such a piece no other does.
absl::Status SentencePieceTokenizer::DecodeAppend(int32_t id, const DecodeOptions& options,
                                                  DecodeState* state,
                                                  std::string* out) const {
  if (id < 0 || id >= vocab_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "token id ", id, " is outside the vocabulary [0, ", vocab_size(), ")"));
  }
  const Type type = model_.pieces[id].type;
  if (type == Type::kControl) return absl::OkStatus();
  if (type == Type::kUnknown && options.skip_special_tokens) return absl::OkStatus();
  absl::string_view surface = surfaces_[id].text;
  const bool at_start = !state->text_started && !state->dropped_leading_space;
  const bool drops = model_.add_dummy_prefix || model_.remove_extra_whitespaces;
  if (at_start && drops && surfaces_[id].starts_with_space) {
    surface.remove_prefix(1);
    // With remove_extra_whitespaces the library keeps dropping leading spaces.
    state->dropped_leading_space = !model_.remove_extra_whitespaces;
  }
  out->append(surface.data(), surface.size());
  state->text_started = state->text_started || !surface.empty();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> ParseSentencePieceTokenizer(
    const std::string& serialized_model, const TokenizerOptions& options) {
  absl::StatusOr<SentencePieceModel> model =
      tokenizer_internal::ParseSentencePieceModel(serialized_model);
  if (!model.ok()) return model.status();
  absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> tokenizer =
      SentencePieceTokenizer::Create(*std::move(model), options);
  if (!tokenizer.ok()) return tokenizer.status();
  return std::unique_ptr<Tokenizer>(*std::move(tokenizer));
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadSentencePieceTokenizer(
    const std::string& path, const TokenizerOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream contents;
  contents << in.rdbuf();
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
      ParseSentencePieceTokenizer(contents.str(), options);
  if (!tokenizer.ok()) {
    return absl::Status(tokenizer.status().code(),
                        absl::StrCat(path, ": ", tokenizer.status().message()));
  }
  return tokenizer;
}

}  // namespace ccs
