#include "model/tokenizer/byte_level_bpe.h"

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "model/tokenizer/internal/added_tokens.h"
#include "model/tokenizer/internal/bpe_model.h"
#include "model/tokenizer/internal/pre_tokenizer.h"

namespace ccs {
namespace {

using Json = nlohmann::json;
using tokenizer_internal::AddedToken;
using tokenizer_internal::AddedTokenMatcher;
using tokenizer_internal::BpeModel;
using tokenizer_internal::PreTokenizer;
using tokenizer_internal::TextSegment;

// Ids from this on are refused rather than allocated for (vocabularies have
// at most a few hundred thousand tokens).
constexpr int64_t kMaxId = int64_t{1} << 21;

// The special ids of one tokenizer.
struct SpecialIds {
  std::optional<int32_t> bos, eos, pad;
};

class ByteLevelBpeTokenizer final : public Tokenizer {
 public:
  // Everything the tokenizer is made of; Create checks and indexes it.
  struct Parts {
    BpeModel::Config model;
    std::vector<AddedToken> added_tokens;
    std::vector<PreTokenizer::Step> pre_tokenizer;
  };

  static absl::StatusOr<std::unique_ptr<ByteLevelBpeTokenizer>> Create(Parts parts);

  absl::Status DecodeAppend(int32_t id, const DecodeOptions& options,
                            DecodeState* state, std::string* out) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(tokens_.size()); }
  std::optional<int32_t> TokenToId(absl::string_view token) const override;
  std::optional<std::string> IdToToken(int32_t id) const override;
  bool IsSpecial(int32_t id) const override {
    return id >= 0 && id < vocab_size() && special_[id];
  }
  std::optional<int32_t> bos_id() const override { return special_ids_.bos; }
  std::optional<int32_t> eos_id() const override { return special_ids_.eos; }
  std::optional<int32_t> pad_id() const override { return special_ids_.pad; }

  void set_special_ids(const SpecialIds& ids) { special_ids_ = ids; }

 protected:
  absl::Status EncodeText(absl::string_view text, bool parse_special_tokens,
                          std::vector<int32_t>* ids) const override;

 private:
  ByteLevelBpeTokenizer(BpeModel model, std::vector<AddedToken> added_tokens,
                        std::vector<PreTokenizer::Step> pre_tokenizer)
      : model_(std::move(model)),
        matcher_(std::move(added_tokens)),
        pre_tokenizer_(std::move(pre_tokenizer)) {}

  const BpeModel model_;
  const AddedTokenMatcher matcher_;
  const PreTokenizer pre_tokenizer_;
  absl::flat_hash_map<std::string, int32_t> added_ids_;  // content -> id
  std::vector<std::optional<std::string>> tokens_;       // id -> spelling
  std::vector<std::string> bytes_;                       // id -> decoded bytes
  std::vector<bool> special_;                            // id -> special?
  SpecialIds special_ids_;
};

absl::StatusOr<std::unique_ptr<ByteLevelBpeTokenizer>> ByteLevelBpeTokenizer::Create(
    Parts parts) {
  int64_t size = 0;
  for (const auto& entry : parts.model.vocab) size = std::max<int64_t>(size, entry.second + 1);
  for (const AddedToken& t : parts.added_tokens) size = std::max<int64_t>(size, t.id + 1);
  std::vector<std::optional<std::string>> tokens(size);
  std::vector<bool> special(size, false);
  for (const auto& [token, id] : parts.model.vocab) tokens[id] = token;
  absl::flat_hash_map<std::string, int32_t> added_ids;
  for (const AddedToken& t : parts.added_tokens) {
    tokens[t.id] = t.content;  // as in Hugging Face, added tokens come first
    special[t.id] = t.special;
    added_ids[t.content] = t.id;
  }
  std::vector<std::string> bytes(size);
  for (int64_t id = 0; id < size; ++id) {
    if (tokens[id].has_value()) bytes[id] = tokenizer_internal::ByteLevelDecode(*tokens[id]);
  }
  absl::StatusOr<BpeModel> model = BpeModel::Create(std::move(parts.model));
  if (!model.ok()) return model.status();
  std::unique_ptr<ByteLevelBpeTokenizer> tokenizer(new ByteLevelBpeTokenizer(
      *std::move(model), std::move(parts.added_tokens), std::move(parts.pre_tokenizer)));
  tokenizer->added_ids_ = std::move(added_ids);
  tokenizer->tokens_ = std::move(tokens);
  tokenizer->bytes_ = std::move(bytes);
  tokenizer->special_ = std::move(special);
  return tokenizer;
}

absl::Status ByteLevelBpeTokenizer::EncodeText(absl::string_view text,
                                               bool parse_special_tokens,
                                               std::vector<int32_t>* ids) const {
  std::vector<TextSegment> segments;
  matcher_.Split(text, parse_special_tokens, &segments);
  PreTokenizer::Buffer buffer;
  std::vector<absl::string_view> pieces;
  // Pre-token -> where its ids already are in *ids (first position, count).
  absl::flat_hash_map<absl::string_view, std::pair<size_t, size_t>> cache;
  for (const TextSegment& segment : segments) {
    if (segment.id >= 0) {
      ids->push_back(segment.id);
      continue;
    }
    pieces.clear();
    pre_tokenizer_.Split(segment.text, &buffer, &pieces);
    for (const absl::string_view piece : pieces) {
      const size_t start = ids->size();
      const auto [it, inserted] = cache.try_emplace(piece, start, 0);
      if (!inserted) {
        const auto [first, count] = it->second;
        ids->resize(start + count);
        std::copy(ids->begin() + first, ids->begin() + first + count, ids->begin() + start);
        continue;
      }
      model_.EncodeWord(piece, ids);
      it->second.second = ids->size() - start;
    }
  }
  return absl::OkStatus();
}

absl::Status ByteLevelBpeTokenizer::DecodeAppend(int32_t id, const DecodeOptions& options,
                                                 DecodeState* state,
                                                 std::string* out) const {
  if (id < 0 || id >= vocab_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "token id ", id, " is outside the vocabulary [0, ", vocab_size(), ")"));
  }
  if (options.skip_special_tokens && special_[id]) return absl::OkStatus();
  out->append(bytes_[id]);
  state->text_started = state->text_started || !bytes_[id].empty();
  return absl::OkStatus();
}

std::optional<int32_t> ByteLevelBpeTokenizer::TokenToId(absl::string_view token) const {
  const auto it = added_ids_.find(token);
  if (it != added_ids_.end()) return it->second;
  return model_.TokenToId(token);
}

std::optional<std::string> ByteLevelBpeTokenizer::IdToToken(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return std::nullopt;
  return tokens_[id];
}

// --- Reading tokenizer.json ------------------------------------------------

// The member `name` of `object`, or nullptr if it is absent or null.
const Json* Member(const Json& object, const char* name) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::StatusOr<bool> BoolMember(const Json& object, const char* name, bool fallback,
                                absl::string_view where) {
  const Json* value = Member(object, name);
  if (value == nullptr) return fallback;
  if (!value->is_boolean()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".", name, " is not a boolean"));
  }
  return value->get<bool>();
}

// The "type" of a component such as the pre-tokenizer ("" if it has none).
absl::StatusOr<std::string> TypeOf(const Json& component, absl::string_view where) {
  if (!component.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " is not an object"));
  }
  const Json* type = Member(component, "type");
  if (type == nullptr) return std::string();
  if (!type->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".type is not a string"));
  }
  return type->get<std::string>();
}

absl::StatusOr<int32_t> IdValue(const Json& value, absl::string_view where) {
  if (!value.is_number_integer() || value.get<int64_t>() < 0 ||
      value.get<int64_t>() >= kMaxId) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, " is not a token id (an integer in [0, ", kMaxId, "))"));
  }
  return static_cast<int32_t>(value.get<int64_t>());
}

absl::Status ParseMerges(const Json& merges, BpeModel::Config* config) {
  if (!merges.is_array()) return absl::InvalidArgumentError("model.merges is not an array");
  config->merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const Json& merge = merges[i];
    if (merge.is_string()) {  // "a b": exactly one space, as Hugging Face reads it
      std::vector<std::string> parts = absl::StrSplit(merge.get<std::string>(), ' ');
      if (parts.size() == 2) {
        config->merges.emplace_back(std::move(parts[0]), std::move(parts[1]));
        continue;
      }
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
               merge[1].is_string()) {
      config->merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
      continue;
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "model.merges[", i, "] is neither \"a b\" nor [\"a\", \"b\"]: ", merge.dump()));
  }
  return absl::OkStatus();
}

absl::Status ParseModel(const Json& root, BpeModel::Config* config) {
  const Json* model = Member(root, "model");
  if (model == nullptr || !model->is_object()) {
    return absl::InvalidArgumentError("tokenizer.json has no \"model\" object");
  }
  absl::StatusOr<std::string> type = TypeOf(*model, "model");
  if (!type.ok()) return type.status();
  if (!type->empty() && *type != "BPE") {
    return absl::UnimplementedError(absl::StrCat(
        "model type \"", *type, "\" is not supported (only byte-level \"BPE\")"));
  }
  const Json* vocab = Member(*model, "vocab");
  if (vocab == nullptr || !vocab->is_object()) {
    return absl::InvalidArgumentError("model.vocab is missing or not an object");
  }
  config->vocab.reserve(vocab->size());
  for (const auto& [token, value] : vocab->items()) {
    absl::StatusOr<int32_t> id = IdValue(value, absl::StrCat("model.vocab[\"", token, "\"]"));
    if (!id.ok()) return id.status();
    config->vocab.emplace_back(token, *id);
  }
  if (const Json* merges = Member(*model, "merges")) {
    absl::Status status = ParseMerges(*merges, config);
    if (!status.ok()) return status;
  }
  const Json* dropout = Member(*model, "dropout");
  if (dropout != nullptr && !(dropout->is_number() && dropout->get<double>() == 0.0)) {
    return absl::UnimplementedError("model.dropout is not supported (must be null)");
  }
  for (const char* name : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const Json* affix = Member(*model, name);
    if (affix != nullptr && !(affix->is_string() && affix->get<std::string>().empty())) {
      return absl::UnimplementedError(absl::StrCat("model.", name, " is not supported"));
    }
  }
  absl::StatusOr<bool> byte_fallback = BoolMember(*model, "byte_fallback", false, "model");
  absl::StatusOr<bool> fuse_unk = BoolMember(*model, "fuse_unk", false, "model");
  absl::StatusOr<bool> ignore_merges = BoolMember(*model, "ignore_merges", false, "model");
  for (const auto* s : {&byte_fallback, &fuse_unk, &ignore_merges}) {
    if (!s->ok()) return s->status();
  }
  if (*byte_fallback) {
    return absl::UnimplementedError("model.byte_fallback is not supported with byte-level BPE");
  }
  config->fuse_unk = *fuse_unk;
  config->ignore_merges = *ignore_merges;
  if (const Json* unk = Member(*model, "unk_token")) {
    if (!unk->is_string()) return absl::InvalidArgumentError("model.unk_token is not a string");
    config->unk_token = unk->get<std::string>();
  }
  return absl::OkStatus();
}

absl::Status ParseAddedToken(const Json& entry, absl::string_view where, AddedToken* token) {
  if (!entry.is_object()) return absl::InvalidArgumentError(absl::StrCat(where, " is not an object"));
  const Json* id = Member(entry, "id");
  const Json* content = Member(entry, "content");
  if (id == nullptr || content == nullptr || !content->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " lacks an id or a content string"));
  }
  absl::StatusOr<int32_t> id_value = IdValue(*id, absl::StrCat(where, ".id"));
  if (!id_value.ok()) return id_value.status();
  token->id = *id_value;
  token->content = content->get<std::string>();
  absl::StatusOr<bool> special = BoolMember(entry, "special", false, where);
  if (!special.ok()) return special.status();
  token->special = *special;
  absl::StatusOr<bool> single_word = BoolMember(entry, "single_word", false, where);
  absl::StatusOr<bool> lstrip = BoolMember(entry, "lstrip", false, where);
  absl::StatusOr<bool> rstrip = BoolMember(entry, "rstrip", false, where);
  absl::StatusOr<bool> normalized = BoolMember(entry, "normalized", !*special, where);
  for (const auto* s : {&single_word, &lstrip, &rstrip, &normalized}) {
    if (!s->ok()) return s->status();
  }
  if (*single_word) {
    return absl::UnimplementedError(
        absl::StrCat(where, " (\"", token->content, "\"): single_word is not supported"));
  }
  token->lstrip = *lstrip;
  token->rstrip = *rstrip;
  token->normalized = *normalized;
  return absl::OkStatus();
}

absl::Status ParseAddedTokens(const Json& root, std::vector<AddedToken>* tokens) {
  const Json* added = Member(root, "added_tokens");
  if (added == nullptr) return absl::OkStatus();
  if (!added->is_array()) return absl::InvalidArgumentError("added_tokens is not an array");
  for (size_t i = 0; i < added->size(); ++i) {
    AddedToken token;
    absl::Status status =
        ParseAddedToken((*added)[i], absl::StrCat("added_tokens[", i, "]"), &token);
    if (!status.ok()) return status;
    if (!token.content.empty()) tokens->push_back(std::move(token));  // as HF: ignored
  }
  return absl::OkStatus();
}

absl::StatusOr<PreTokenizer::Step> ParsePreTokenizerStep(const Json& step,
                                                         absl::string_view where) {
  absl::StatusOr<std::string> type = TypeOf(step, where);
  if (!type.ok()) return type.status();
  PreTokenizer::Step result;
  if (*type == "Digits") {
    absl::StatusOr<bool> individual = BoolMember(step, "individual_digits", false, where);
    if (!individual.ok()) return individual.status();
    result.kind = PreTokenizer::Kind::kDigits;
    result.individual_digits = *individual;
    return result;
  }
  if (*type == "ByteLevel") {
    // Defaults of Hugging Face's ByteLevel::default().
    absl::StatusOr<bool> prefix = BoolMember(step, "add_prefix_space", true, where);
    absl::StatusOr<bool> use_regex = BoolMember(step, "use_regex", true, where);
    if (!prefix.ok()) return prefix.status();
    if (!use_regex.ok()) return use_regex.status();
    result.kind = PreTokenizer::Kind::kByteLevel;
    result.add_prefix_space = *prefix;
    result.use_regex = *use_regex;
    return result;
  }
  return absl::UnimplementedError(absl::StrCat(
      where, " type \"", *type,
      "\" is not supported (supported: ByteLevel, Digits, and a Sequence of them)"));
}

absl::Status ParsePreTokenizer(const Json& root, std::vector<PreTokenizer::Step>* steps) {
  const Json* pre = Member(root, "pre_tokenizer");
  if (pre == nullptr) {
    return absl::UnimplementedError(
        "tokenizer.json has no pre_tokenizer: only byte-level BPE (a ByteLevel "
        "pre-tokenizer) is supported");
  }
  absl::StatusOr<std::string> type = TypeOf(*pre, "pre_tokenizer");
  if (!type.ok()) return type.status();
  if (*type == "Sequence") {
    const Json* list = Member(*pre, "pretokenizers");
    if (list == nullptr || !list->is_array()) {
      return absl::InvalidArgumentError("pre_tokenizer.pretokenizers is not an array");
    }
    for (size_t i = 0; i < list->size(); ++i) {
      absl::StatusOr<PreTokenizer::Step> step =
          ParsePreTokenizerStep((*list)[i], absl::StrCat("pre_tokenizer.pretokenizers[", i, "]"));
      if (!step.ok()) return step.status();
      steps->push_back(*step);
    }
  } else {
    absl::StatusOr<PreTokenizer::Step> step = ParsePreTokenizerStep(*pre, "pre_tokenizer");
    if (!step.ok()) return step.status();
    steps->push_back(*step);
  }
  for (size_t i = 0; i < steps->size(); ++i) {
    const bool byte_level = (*steps)[i].kind == PreTokenizer::Kind::kByteLevel;
    if (byte_level != (i + 1 == steps->size())) {
      return absl::UnimplementedError(
          "pre_tokenizer must end in exactly one ByteLevel step (byte-level BPE)");
    }
  }
  return absl::OkStatus();
}

// Refuses normalizers and decoders other than the ones byte-level BPE uses.
absl::Status CheckNormalizerAndDecoder(const Json& root) {
  if (const Json* normalizer = Member(root, "normalizer")) {
    absl::StatusOr<std::string> type = TypeOf(*normalizer, "normalizer");
    if (!type.ok()) return type.status();
    const Json* list = Member(*normalizer, "normalizers");
    const bool empty_sequence = *type == "Sequence" && list != nullptr &&
                                list->is_array() && list->empty();
    if (!empty_sequence) {
      return absl::UnimplementedError(
          absl::StrCat("normalizer type \"", *type, "\" is not supported (must be null)"));
    }
  }
  const Json* decoder = Member(root, "decoder");
  if (decoder == nullptr) {
    return absl::UnimplementedError("tokenizer.json has no decoder (ByteLevel is required)");
  }
  absl::StatusOr<std::string> type = TypeOf(*decoder, "decoder");
  if (!type.ok()) return type.status();
  if (*type != "ByteLevel") {
    return absl::UnimplementedError(
        absl::StrCat("decoder type \"", *type, "\" is not supported (only ByteLevel)"));
  }
  return absl::OkStatus();
}

// The text of a special token entry of tokenizer_config.json: a string or an
// object with "content" (nothing if absent or null).
absl::StatusOr<std::optional<std::string>> ConfigToken(const Json& config, const char* name) {
  const Json* value = Member(config, name);
  if (value == nullptr) return std::optional<std::string>();
  if (value->is_string()) return std::optional<std::string>(value->get<std::string>());
  const Json* content = Member(*value, "content");
  if (content != nullptr && content->is_string()) {
    return std::optional<std::string>(content->get<std::string>());
  }
  return absl::InvalidArgumentError(
      absl::StrCat("tokenizer_config.json: ", name, " is neither a string nor {\"content\": ...}"));
}

// One special id: the option's name, else the config's, else a conventional
// special token.
absl::StatusOr<std::optional<int32_t>> ResolveSpecial(
    const Tokenizer& tokenizer, const std::string& option, const Json& config,
    const char* config_name, std::initializer_list<const char*> conventional) {
  std::optional<std::string> name;
  if (!option.empty()) {
    name = option;
  } else {
    absl::StatusOr<std::optional<std::string>> from_config = ConfigToken(config, config_name);
    if (!from_config.ok()) return from_config.status();
    name = *from_config;
  }
  if (name.has_value()) {
    const std::optional<int32_t> id = tokenizer.TokenToId(*name);
    if (!id.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          config_name, " \"", *name, "\" is not a token of this vocabulary"));
    }
    return id;
  }
  for (const char* token : conventional) {
    const std::optional<int32_t> id = tokenizer.TokenToId(token);
    if (id.has_value() && tokenizer.IsSpecial(*id)) return id;
  }
  return std::optional<int32_t>();
}

absl::Status ResolveSpecialIds(const TokenizerOptions& options, const Json& config,
                               ByteLevelBpeTokenizer* tokenizer) {
  SpecialIds ids;
  absl::StatusOr<std::optional<int32_t>> bos = ResolveSpecial(
      *tokenizer, options.bos_token, config, "bos_token", {"<|endoftext|>", "<s>"});
  if (!bos.ok()) return bos.status();
  absl::StatusOr<std::optional<int32_t>> eos = ResolveSpecial(
      *tokenizer, options.eos_token, config, "eos_token", {"<|endoftext|>", "</s>"});
  if (!eos.ok()) return eos.status();
  absl::StatusOr<std::optional<int32_t>> pad = ResolveSpecial(
      *tokenizer, options.pad_token, config, "pad_token", {"<|padding|>", "<pad>"});
  if (!pad.ok()) return pad.status();
  tokenizer->set_special_ids({*bos, *eos, *pad});
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Parse(absl::string_view json,
                                                 const TokenizerOptions& options,
                                                 absl::string_view config_json) {
  const Json root = Json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    return absl::InvalidArgumentError("tokenizer.json is not a JSON object");
  }
  Json config = Json::object();
  if (!config_json.empty()) {
    config = Json::parse(config_json.begin(), config_json.end(), nullptr, false);
    if (config.is_discarded() || !config.is_object()) {
      return absl::InvalidArgumentError("tokenizer_config.json is not a JSON object");
    }
  }
  ByteLevelBpeTokenizer::Parts parts;
  absl::Status status = ParseModel(root, &parts.model);
  if (status.ok()) status = ParseAddedTokens(root, &parts.added_tokens);
  if (status.ok()) status = ParsePreTokenizer(root, &parts.pre_tokenizer);
  if (status.ok()) status = CheckNormalizerAndDecoder(root);
  if (!status.ok()) return status;
  absl::StatusOr<std::unique_ptr<ByteLevelBpeTokenizer>> tokenizer =
      ByteLevelBpeTokenizer::Create(std::move(parts));
  if (!tokenizer.ok()) return tokenizer.status();
  status = ResolveSpecialIds(options, config, tokenizer->get());
  if (!status.ok()) return status;
  return std::unique_ptr<Tokenizer>(*std::move(tokenizer));
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("error reading ", path));
  return contents.str();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> ParseHuggingFaceTokenizer(
    absl::string_view json, const TokenizerOptions& options, absl::string_view config_json) {
  try {
    return Parse(json, options, config_json);
  } catch (const Json::exception& e) {  // a type this reader did not check
    return absl::InvalidArgumentError(absl::StrCat("malformed tokenizer.json: ", e.what()));
  }
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadHuggingFaceTokenizer(
    const std::string& path, const TokenizerOptions& options) {
  absl::StatusOr<std::string> json = ReadFile(path);
  if (!json.ok()) return json.status();
  std::string config;
  const std::filesystem::path config_path =
      std::filesystem::path(path).parent_path() / "tokenizer_config.json";
  std::error_code error;
  if (std::filesystem::is_regular_file(config_path, error)) {
    absl::StatusOr<std::string> text = ReadFile(config_path.string());
    if (!text.ok()) return text.status();
    config = *std::move(text);
  }
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
      ParseHuggingFaceTokenizer(*json, options, config);
  if (!tokenizer.ok()) {
    return absl::Status(tokenizer.status().code(),
                        absl::StrCat(path, ": ", tokenizer.status().message()));
  }
  return tokenizer;
}

}  // namespace ccs
