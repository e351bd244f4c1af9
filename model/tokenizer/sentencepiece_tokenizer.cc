#include "model/tokenizer/sentencepiece_tokenizer.h"

#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "model/tokenizer/internal/sentencepiece_bridge.h"

namespace ccs {
namespace {

using tokenizer_internal::SentencePieceBridge;

constexpr absl::string_view kSpaceSymbol = "\xE2\x96\x81";  // "▁", U+2581

class SentencePieceTokenizer final : public Tokenizer {
 public:
  static absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> Create(
      std::unique_ptr<SentencePieceBridge> sp, const TokenizerOptions& options);

  absl::Status DecodeAppend(int32_t id, const DecodeOptions& options,
                            DecodeState* state, std::string* out) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }
  std::optional<int32_t> TokenToId(absl::string_view token) const override {
    const int id = sp_->PieceToId(std::string_view(token.data(), token.size()));
    return id < 0 ? std::nullopt : std::optional<int32_t>(id);
  }
  std::optional<std::string> IdToToken(int32_t id) const override {
    if (id < 0 || id >= vocab_size()) return std::nullopt;
    return sp_->IdToPiece(id);
  }
  bool IsSpecial(int32_t id) const override {
    return id >= 0 && id < vocab_size() &&
           (pieces_[id].kind == Kind::kControl || pieces_[id].kind == Kind::kUnknown);
  }
  std::optional<int32_t> bos_id() const override { return bos_; }
  std::optional<int32_t> eos_id() const override { return eos_; }
  std::optional<int32_t> pad_id() const override { return pad_; }

 protected:
  absl::Status EncodeText(absl::string_view text, bool parse_special_tokens,
                          std::vector<int32_t>* ids) const override;

 private:
  enum class Kind { kNormal, kControl, kUnknown, kByte };
  // How one id decodes.
  struct Piece {
    Kind kind = Kind::kNormal;
    std::string surface;             // "▁" made " "; the byte for kByte
    bool starts_with_space = false;  // the piece starts with "▁"
  };

  explicit SentencePieceTokenizer(std::unique_ptr<SentencePieceBridge> sp)
      : sp_(std::move(sp)) {}

  std::unique_ptr<SentencePieceBridge> sp_;
  std::vector<Piece> pieces_;
  bool drops_leading_space_ = true;  // add_dummy_prefix || remove_extra_whitespaces
  bool remove_extra_whitespaces_ = true;
  std::optional<int32_t> bos_, eos_, pad_;
};

// The byte of a byte-fallback piece "<0xNN>".
absl::StatusOr<char> PieceByte(const std::string& piece) {
  uint32_t value = 0;
  if (piece.size() != 6 || !absl::StartsWith(piece, "<0x") || piece[5] != '>' ||
      !absl::SimpleHexAtoi(absl::string_view(piece).substr(3, 2), &value)) {
    return absl::InvalidArgumentError(absl::StrCat("byte piece \"", piece, "\" is not <0xNN>"));
  }
  return static_cast<char>(value);
}

// The id named `name` (if any), else the model's (`model_id`, -1 for none).
absl::StatusOr<std::optional<int32_t>> SpecialId(const SentencePieceBridge& sp,
                                                 const std::string& name, int model_id) {
  if (name.empty()) {
    return model_id < 0 ? std::optional<int32_t>() : std::optional<int32_t>(model_id);
  }
  const int id = sp.PieceToId(name);
  if (id < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("special token \"", name, "\" is not a piece of this model"));
  }
  return std::optional<int32_t>(id);
}

absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> SentencePieceTokenizer::Create(
    std::unique_ptr<SentencePieceBridge> sp, const TokenizerOptions& options) {
  std::unique_ptr<SentencePieceTokenizer> t(new SentencePieceTokenizer(std::move(sp)));
  const SentencePieceBridge& bridge = *t->sp_;
  t->pieces_.resize(bridge.piece_size());
  for (int id = 0; id < bridge.piece_size(); ++id) {
    Piece& piece = t->pieces_[id];
    const std::string& text = bridge.IdToPiece(id);
    if (bridge.IsControl(id)) {
      piece.kind = Kind::kControl;
    } else if (bridge.IsUnknown(id)) {
      piece.kind = Kind::kUnknown;
      piece.surface = bridge.unk_surface();
    } else if (bridge.IsByte(id)) {
      absl::StatusOr<char> byte = PieceByte(text);
      if (!byte.ok()) return byte.status();
      piece.kind = Kind::kByte;
      piece.surface = std::string(1, *byte);
    } else {
      piece.starts_with_space = absl::StartsWith(text, kSpaceSymbol);
      piece.surface = absl::StrReplaceAll(text, {{kSpaceSymbol, " "}});
    }
  }
  t->drops_leading_space_ = bridge.add_dummy_prefix() || bridge.remove_extra_whitespaces();
  t->remove_extra_whitespaces_ = bridge.remove_extra_whitespaces();
  absl::StatusOr<std::optional<int32_t>> bos = SpecialId(bridge, options.bos_token, bridge.bos_id());
  if (!bos.ok()) return bos.status();
  absl::StatusOr<std::optional<int32_t>> eos = SpecialId(bridge, options.eos_token, bridge.eos_id());
  if (!eos.ok()) return eos.status();
  absl::StatusOr<std::optional<int32_t>> pad = SpecialId(bridge, options.pad_token, bridge.pad_id());
  if (!pad.ok()) return pad.status();
  t->bos_ = *bos;
  t->eos_ = *eos;
  t->pad_ = *pad;
  return t;
}

absl::Status SentencePieceTokenizer::EncodeText(absl::string_view text,
                                                bool /*parse_special_tokens*/,
                                                std::vector<int32_t>* ids) const {
  std::vector<int> piece_ids;
  std::string error;
  if (!sp_->Encode(std::string_view(text.data(), text.size()), &piece_ids, &error)) {
    return absl::InternalError(absl::StrCat("SentencePiece Encode failed: ", error));
  }
  ids->insert(ids->end(), piece_ids.begin(), piece_ids.end());
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
  const Piece& piece = pieces_[id];
  if (piece.kind == Kind::kControl) return absl::OkStatus();
  if (piece.kind == Kind::kUnknown && options.skip_special_tokens) return absl::OkStatus();
  absl::string_view surface = piece.surface;
  const bool at_start = !state->text_started && !state->dropped_leading_space;
  if (piece.kind == Kind::kNormal && at_start && drops_leading_space_ &&
      piece.starts_with_space) {
    surface.remove_prefix(1);
    // With remove_extra_whitespaces the library keeps dropping leading spaces.
    state->dropped_leading_space = !remove_extra_whitespaces_;
  }
  out->append(surface.data(), surface.size());
  state->text_started = state->text_started || !surface.empty();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> ParseSentencePieceTokenizer(
    const std::string& serialized_model, const TokenizerOptions& options) {
  std::string error;
  std::unique_ptr<SentencePieceBridge> sp = SentencePieceBridge::Load(serialized_model, &error);
  if (sp == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a SentencePiece model: ", error));
  }
  absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> tokenizer =
      SentencePieceTokenizer::Create(std::move(sp), options);
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
