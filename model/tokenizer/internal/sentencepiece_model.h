// Reads SentencePiece model files (tokenizer.model: a serialized
// sentencepiece.ModelProto) without libsentencepiece or libprotobuf.
//
//   absl::StatusOr<SentencePieceModel> model = ParseSentencePieceModel(bytes);
//   for (const SentencePieceModel::Piece& p : model->pieces) ...
//
// Why not the library: Debian's libsentencepiece carries its own copy of
// protobuf 3.14 and exports its symbols; in a process that also loads
// libprotobuf 3.21 (gRPC) one of the two aborts or crashes. The library stays
// the reference in tests. Stateless; thread-safe.
#ifndef CCS_MODEL_TOKENIZER_INTERNAL_SENTENCEPIECE_MODEL_H_
#define CCS_MODEL_TOKENIZER_INTERNAL_SENTENCEPIECE_MODEL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ccs {
namespace tokenizer_internal {

// The fields of ModelProto (sentencepiece_model.proto) that encoding and
// decoding depend on, with the proto's defaults.
struct SentencePieceModel {
  enum class Type { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5,
                    kByte = 6 };
  enum class ModelType { kUnigram = 1, kBpe = 2, kWord = 3, kChar = 4 };
  struct Piece {
    std::string text;
    float score = 0;
    Type type = Type::kNormal;
  };

  std::vector<Piece> pieces;  // index = id
  // TrainerSpec
  ModelType model_type = ModelType::kUnigram;
  bool byte_fallback = false;
  bool treat_whitespace_as_suffix = false;
  std::string unk_surface = " \xE2\x81\x87 ";  // " ⁇ "
  std::string unk_piece = "<unk>";
  std::string bos_piece = "<s>";
  std::string eos_piece = "</s>";
  std::string pad_piece = "<pad>";
  // NormalizerSpec
  std::string normalizer_name;
  std::string precompiled_charsmap;  // empty: no normalization (identity)
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
};

// ParseSentencePieceModel decodes a serialized ModelProto. INVALID_ARGUMENT
// if the bytes are not one (malformed wire format, no pieces, a piece with
// no text or an unknown type).
absl::StatusOr<SentencePieceModel> ParseSentencePieceModel(absl::string_view bytes);

}  // namespace tokenizer_internal
}  // namespace ccs

#endif  // CCS_MODEL_TOKENIZER_INTERNAL_SENTENCEPIECE_MODEL_H_
