#include "model/tokenizer/internal/sentencepiece_model.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ccs {
namespace tokenizer_internal {
namespace {

// Field numbers in sentencepiece_model.proto.
constexpr uint32_t kModelPieces = 1, kModelTrainerSpec = 2, kModelNormalizerSpec = 3;
constexpr uint32_t kPieceText = 1, kPieceScore = 2, kPieceType = 3;
constexpr uint32_t kTrainerModelType = 3, kTrainerTreatWhitespaceAsSuffix = 24,
                   kTrainerByteFallback = 35, kTrainerUnkSurface = 44, kTrainerUnkPiece = 45,
                   kTrainerBosPiece = 46, kTrainerEosPiece = 47, kTrainerPadPiece = 48;
constexpr uint32_t kNormalizerName = 1, kNormalizerCharsmap = 2, kNormalizerDummyPrefix = 3,
                   kNormalizerRemoveExtraWhitespaces = 4, kNormalizerEscapeWhitespaces = 5;

// One field of a protobuf message in wire format.
struct Field {
  uint32_t number = 0;
  uint32_t wire_type = 0;
  uint64_t varint = 0;      // wire types 0 (varint), 1 and 5 (fixed)
  absl::string_view bytes;  // wire type 2 (length-delimited)
};

// Reads the fields of one message, in order.
class WireReader {
 public:
  explicit WireReader(absl::string_view bytes) : bytes_(bytes) {}
  bool done() const { return pos_ >= bytes_.size(); }

  // Reads the next field; false on malformed input.
  bool Next(Field* field) {
    uint64_t key;
    if (!Varint(&key) || (key >> 3) == 0 || (key >> 3) > 0x1FFFFFFF) return false;
    field->number = static_cast<uint32_t>(key >> 3);
    field->wire_type = static_cast<uint32_t>(key & 7);
    switch (field->wire_type) {
      case 0:
        return Varint(&field->varint);
      case 1:
        return Fixed(8, &field->varint);
      case 5:
        return Fixed(4, &field->varint);
      case 2: {
        uint64_t length;
        if (!Varint(&length) || length > bytes_.size() - pos_) return false;
        field->bytes = bytes_.substr(pos_, length);
        pos_ += length;
        return true;
      }
      default:  // groups (3, 4) are not used by sentencepiece_model.proto
        return false;
    }
  }

 private:
  bool Varint(uint64_t* value) {
    *value = 0;
    for (int shift = 0; shift < 64 && pos_ < bytes_.size(); shift += 7) {
      const uint8_t b = static_cast<uint8_t>(bytes_[pos_++]);
      *value |= uint64_t{b & 0x7Fu} << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  bool Fixed(size_t n, uint64_t* value) {
    if (n > bytes_.size() - pos_) return false;
    *value = 0;
    for (size_t i = 0; i < n; ++i) {
      *value |= uint64_t{static_cast<uint8_t>(bytes_[pos_ + i])} << (8 * i);
    }
    pos_ += n;
    return true;
  }

  absl::string_view bytes_;
  size_t pos_ = 0;
};

absl::Status Malformed(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("malformed SentencePiece model: ", what));
}

absl::Status ParsePiece(absl::string_view bytes, SentencePieceModel::Piece* piece) {
  WireReader reader(bytes);
  Field f;
  while (!reader.done()) {
    if (!reader.Next(&f)) return Malformed("bad piece");
    if (f.number == kPieceText && f.wire_type == 2) {
      piece->text = std::string(f.bytes);
    } else if (f.number == kPieceScore && f.wire_type == 5) {
      const uint32_t bits = static_cast<uint32_t>(f.varint);
      std::memcpy(&piece->score, &bits, sizeof(float));
      if (std::isnan(piece->score)) return Malformed("a piece's score is NaN");
    } else if (f.number == kPieceType && f.wire_type == 0) {
      if (f.varint < 1 || f.varint > 6) {
        return Malformed(absl::StrCat("piece type ", f.varint));
      }
      piece->type = static_cast<SentencePieceModel::Type>(f.varint);
    }
  }
  if (piece->text.empty()) return Malformed("a piece has no text");
  return absl::OkStatus();
}

absl::Status ParseTrainerSpec(absl::string_view bytes, SentencePieceModel* model) {
  WireReader reader(bytes);
  Field f;
  while (!reader.done()) {
    if (!reader.Next(&f)) return Malformed("bad trainer_spec");
    if (f.wire_type == 0) {
      if (f.number == kTrainerModelType) {
        model->model_type = static_cast<SentencePieceModel::ModelType>(f.varint);
      }
      if (f.number == kTrainerTreatWhitespaceAsSuffix) model->treat_whitespace_as_suffix = f.varint;
      if (f.number == kTrainerByteFallback) model->byte_fallback = f.varint != 0;
    } else if (f.wire_type == 2) {
      const std::string value(f.bytes);
      if (f.number == kTrainerUnkSurface) model->unk_surface = value;
      // Empty names keep the defaults, as the library does.
      if (f.number == kTrainerUnkPiece && !value.empty()) model->unk_piece = value;
      if (f.number == kTrainerBosPiece && !value.empty()) model->bos_piece = value;
      if (f.number == kTrainerEosPiece && !value.empty()) model->eos_piece = value;
      if (f.number == kTrainerPadPiece && !value.empty()) model->pad_piece = value;
    }
  }
  return absl::OkStatus();
}

absl::Status ParseNormalizerSpec(absl::string_view bytes, SentencePieceModel* model) {
  WireReader reader(bytes);
  Field f;
  while (!reader.done()) {
    if (!reader.Next(&f)) return Malformed("bad normalizer_spec");
    if (f.wire_type == 2 && f.number == kNormalizerName) model->normalizer_name = std::string(f.bytes);
    if (f.wire_type == 2 && f.number == kNormalizerCharsmap) {
      model->precompiled_charsmap = std::string(f.bytes);
    }
    if (f.wire_type != 0) continue;
    if (f.number == kNormalizerDummyPrefix) model->add_dummy_prefix = f.varint != 0;
    if (f.number == kNormalizerRemoveExtraWhitespaces) {
      model->remove_extra_whitespaces = f.varint != 0;
    }
    if (f.number == kNormalizerEscapeWhitespaces) model->escape_whitespaces = f.varint != 0;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SentencePieceModel> ParseSentencePieceModel(absl::string_view bytes) {
  SentencePieceModel model;
  WireReader reader(bytes);
  Field f;
  while (!reader.done()) {
    if (!reader.Next(&f)) return Malformed("not protobuf wire format");
    if (f.wire_type != 2) continue;
    absl::Status status;
    if (f.number == kModelPieces) {
      model.pieces.emplace_back();
      status = ParsePiece(f.bytes, &model.pieces.back());
    } else if (f.number == kModelTrainerSpec) {
      status = ParseTrainerSpec(f.bytes, &model);
    } else if (f.number == kModelNormalizerSpec) {
      status = ParseNormalizerSpec(f.bytes, &model);
    }
    if (!status.ok()) return status;
  }
  if (model.pieces.empty()) return Malformed("no pieces");
  return model;
}

}  // namespace tokenizer_internal
}  // namespace ccs
