// The one translation unit of the tokenizer that includes SentencePiece's
// headers: no abseil here (see sentencepiece_bridge.h).
#include "model/tokenizer/internal/sentencepiece_bridge.h"

#include <cstdint>

#include <sentencepiece_processor.h>

namespace ccs {
namespace tokenizer_internal {
namespace {

// A minimal reader of the protobuf wire format, enough to find two booleans.
class WireReader {
 public:
  explicit WireReader(std::string_view bytes) : bytes_(bytes) {}
  bool done() const { return pos_ >= bytes_.size(); }
  bool ReadVarint(uint64_t* value) {
    *value = 0;
    for (int shift = 0; shift < 64 && pos_ < bytes_.size(); shift += 7) {
      const uint8_t b = static_cast<uint8_t>(bytes_[pos_++]);
      *value |= uint64_t{b & 0x7Fu} << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  // Reads one field: its number, wire type, varint value or bytes.
  bool ReadField(uint32_t* number, uint32_t* wire_type, uint64_t* varint,
                 std::string_view* bytes) {
    uint64_t key;
    if (!ReadVarint(&key)) return false;
    *number = static_cast<uint32_t>(key >> 3);
    *wire_type = static_cast<uint32_t>(key & 7);
    switch (*wire_type) {
      case 0:
        return ReadVarint(varint);
      case 1:
        return Skip(8);
      case 5:
        return Skip(4);
      case 2: {
        uint64_t length;
        if (!ReadVarint(&length) || length > bytes_.size() - pos_) return false;
        *bytes = bytes_.substr(pos_, length);
        pos_ += length;
        return true;
      }
      default:
        return false;  // groups are not used by sentencepiece_model.proto
    }
  }

 private:
  bool Skip(size_t n) {
    if (n > bytes_.size() - pos_) return false;
    pos_ += n;
    return true;
  }
  std::string_view bytes_;
  size_t pos_ = 0;
};

// Reads NormalizerSpec (ModelProto field 3): add_dummy_prefix is its field 3
// and remove_extra_whitespaces its field 4, both true by default.
void ReadNormalizerSpec(std::string_view model, bool* add_dummy_prefix,
                        bool* remove_extra_whitespaces) {
  WireReader reader(model);
  uint32_t number, wire_type;
  uint64_t varint;
  std::string_view bytes;
  while (!reader.done() && reader.ReadField(&number, &wire_type, &varint, &bytes)) {
    if (number != 3 || wire_type != 2) continue;
    WireReader spec(bytes);
    while (!spec.done() && spec.ReadField(&number, &wire_type, &varint, &bytes)) {
      if (wire_type != 0) continue;
      if (number == 3) *add_dummy_prefix = varint != 0;
      if (number == 4) *remove_extra_whitespaces = varint != 0;
    }
  }
}

}  // namespace

SentencePieceBridge::SentencePieceBridge()
    : processor_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {}

SentencePieceBridge::~SentencePieceBridge() = default;

std::unique_ptr<SentencePieceBridge> SentencePieceBridge::Load(const std::string& serialized,
                                                               std::string* error) {
  std::unique_ptr<SentencePieceBridge> bridge(new SentencePieceBridge());
  const sentencepiece::util::Status status =
      bridge->processor_->LoadFromSerializedProto(serialized);
  if (!status.ok()) {
    *error = status.ToString();
    return nullptr;
  }
  ReadNormalizerSpec(serialized, &bridge->add_dummy_prefix_,
                     &bridge->remove_extra_whitespaces_);
  const int unk = bridge->unk_id();
  if (unk >= 0 && !bridge->DecodeIds({unk}, &bridge->unk_surface_, error)) return nullptr;
  return bridge;
}

bool SentencePieceBridge::Encode(std::string_view text, std::vector<int>* ids,
                                 std::string* error) const {
  const sentencepiece::util::Status status = processor_->Encode(text, ids);
  if (!status.ok()) *error = status.ToString();
  return status.ok();
}

bool SentencePieceBridge::DecodeIds(const std::vector<int>& ids, std::string* text,
                                    std::string* error) const {
  const sentencepiece::util::Status status = processor_->Decode(ids, text);
  if (!status.ok()) *error = status.ToString();
  return status.ok();
}

int SentencePieceBridge::piece_size() const { return processor_->GetPieceSize(); }
const std::string& SentencePieceBridge::IdToPiece(int id) const {
  return processor_->IdToPiece(id);
}
int SentencePieceBridge::PieceToId(std::string_view piece) const {
  const int id = processor_->PieceToId(piece);
  if (processor_->IsUnknown(id) && processor_->IdToPiece(id) != piece) return -1;
  return id;
}
bool SentencePieceBridge::IsControl(int id) const { return processor_->IsControl(id); }
bool SentencePieceBridge::IsUnknown(int id) const { return processor_->IsUnknown(id); }
bool SentencePieceBridge::IsByte(int id) const { return processor_->IsByte(id); }
int SentencePieceBridge::bos_id() const { return processor_->bos_id(); }
int SentencePieceBridge::eos_id() const { return processor_->eos_id(); }
int SentencePieceBridge::pad_id() const { return processor_->pad_id(); }
int SentencePieceBridge::unk_id() const { return processor_->unk_id(); }

}  // namespace tokenizer_internal
}  // namespace ccs
