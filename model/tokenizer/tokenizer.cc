#include "model/tokenizer/tokenizer.h"

#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "model/tokenizer/byte_level_bpe.h"
#include "model/tokenizer/sentencepiece_tokenizer.h"
#include "model/utf8.h"

namespace ccs {
namespace {

constexpr absl::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

// Appends `bytes` to `out`, each byte that starts no valid character replaced
// by U+FFFD. `bytes` must not end inside a character that could still be
// completed (see Utf8CompletePrefix).
void AppendValidUtf8(absl::string_view bytes, std::string* out) {
  while (!bytes.empty()) {
    const size_t bad = FindInvalidUtf8(bytes);
    if (bad == absl::string_view::npos) {
      out->append(bytes.data(), bytes.size());
      return;
    }
    out->append(bytes.data(), bad);
    out->append(kReplacementCharacter.data(), kReplacementCharacter.size());
    bytes.remove_prefix(bad + 1);
  }
}

// Whether the file at `path` starts (after white space) with '{'.
bool LooksLikeJson(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char c;
  while (in.get(c)) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return c == '{';
  }
  return false;
}

}  // namespace

absl::StatusOr<std::vector<int32_t>> Tokenizer::Encode(
    absl::string_view text, const EncodeOptions& options) const {
  const size_t bad = FindInvalidUtf8(text);
  if (bad != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "text is not valid UTF-8: byte offset ", bad, " (byte 0x",
        absl::Hex(static_cast<uint8_t>(text[bad]), absl::kZeroPad2),
        ") starts or continues no valid character"));
  }
  const std::optional<int32_t> bos = bos_id();
  const std::optional<int32_t> eos = eos_id();
  if (options.add_bos && !bos.has_value()) {
    return absl::FailedPreconditionError(
        "add_bos was requested but this tokenizer defines no BOS token");
  }
  if (options.add_eos && !eos.has_value()) {
    return absl::FailedPreconditionError(
        "add_eos was requested but this tokenizer defines no EOS token");
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 4 + 2);
  if (options.add_bos) ids.push_back(*bos);
  absl::Status status = EncodeText(text, options.parse_special_tokens, &ids);
  if (!status.ok()) return status;
  if (options.add_eos) ids.push_back(*eos);
  return ids;
}

absl::StatusOr<std::string> Tokenizer::Decode(absl::Span<const int32_t> ids,
                                              const DecodeOptions& options) const {
  std::string text;
  DecodeState state;
  for (const int32_t id : ids) {
    absl::Status status = DecodeAppend(id, options, &state, &text);
    if (!status.ok()) return status;
  }
  return text;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(
    const std::string& path, const TokenizerOptions& options) {
  namespace fs = std::filesystem;
  std::error_code error;
  std::string file = path;
  if (fs::is_directory(path, error)) {
    const fs::path dir(path);
    if (fs::is_regular_file(dir / "tokenizer.json", error)) {
      file = (dir / "tokenizer.json").string();
    } else if (fs::is_regular_file(dir / "tokenizer.model", error)) {
      file = (dir / "tokenizer.model").string();
    } else {
      return absl::NotFoundError(absl::StrCat(
          "directory ", path, " holds neither tokenizer.json nor tokenizer.model"));
    }
  } else if (!fs::is_regular_file(path, error)) {
    return absl::NotFoundError(absl::StrCat("tokenizer file ", path, " not found"));
  }
  const bool json = absl::EndsWith(file, ".json") ||
                    (!absl::EndsWith(file, ".model") && LooksLikeJson(file));
  if (json) return LoadHuggingFaceTokenizer(file, options);
  return LoadSentencePieceTokenizer(file, options);
}

StreamingDetokenizer::StreamingDetokenizer(const Tokenizer& tokenizer,
                                           const DecodeOptions& options)
    : tokenizer_(tokenizer), options_(options) {}

absl::StatusOr<std::string> StreamingDetokenizer::Add(int32_t id) {
  Tokenizer::DecodeState state = state_;
  const size_t old_size = pending_.size();
  absl::Status status = tokenizer_.DecodeAppend(id, options_, &state, &pending_);
  if (!status.ok()) {
    pending_.resize(old_size);
    return status;
  }
  state_ = state;
  const size_t complete = Utf8CompletePrefix(pending_);
  std::string chunk;
  AppendValidUtf8(absl::string_view(pending_).substr(0, complete), &chunk);
  pending_.erase(0, complete);
  return chunk;
}

std::string StreamingDetokenizer::Flush() {
  // What is held back is the valid start of one character.
  std::string tail = pending_.empty() ? "" : std::string(kReplacementCharacter);
  pending_.clear();
  state_ = Tokenizer::DecodeState();
  return tail;
}

}  // namespace ccs
