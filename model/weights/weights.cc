#include "model/weights/weights.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <new>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/weights/safetensors.h"

namespace ccs::model {
namespace {

namespace fs = std::filesystem;

constexpr char kSingleFileName[] = "model.safetensors";
constexpr char kIndexFileName[] = "model.safetensors.index.json";
constexpr uintmax_t kMaxIndexBytes = 100'000'000;

// Runs `fn`, turning an escaping libtorch or standard exception into a
// Status that says what was being done.
template <typename Fn>
auto CatchExceptions(absl::string_view what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const c10::OutOfMemoryError& e) {
    return absl::ResourceExhaustedError(
        absl::StrCat(what, ": out of memory: ", e.what_without_backtrace()));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": out of memory"));
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat(what, ": libtorch: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(what, ": ", e.what()));
  }
}

torch::Dtype ToTorch(SafetensorsDtype dtype) {
  switch (dtype) {
    case SafetensorsDtype::kBool:
      return torch::kBool;
    case SafetensorsDtype::kU8:
      return torch::kUInt8;
    case SafetensorsDtype::kI8:
      return torch::kInt8;
    case SafetensorsDtype::kI16:
      return torch::kInt16;
    case SafetensorsDtype::kU16:
      return torch::kUInt16;
    case SafetensorsDtype::kI32:
      return torch::kInt32;
    case SafetensorsDtype::kU32:
      return torch::kUInt32;
    case SafetensorsDtype::kI64:
      return torch::kInt64;
    case SafetensorsDtype::kU64:
      return torch::kUInt64;
    case SafetensorsDtype::kF16:
      return torch::kFloat16;
    case SafetensorsDtype::kBF16:
      return torch::kBFloat16;
    case SafetensorsDtype::kF32:
      return torch::kFloat32;
    case SafetensorsDtype::kF64:
      return torch::kFloat64;
  }
  return torch::kFloat32;  // unreachable
}

absl::StatusOr<SafetensorsDtype> FromTorch(torch::Dtype dtype) {
  for (SafetensorsDtype candidate :
       {SafetensorsDtype::kBool, SafetensorsDtype::kU8, SafetensorsDtype::kI8,
        SafetensorsDtype::kI16, SafetensorsDtype::kU16, SafetensorsDtype::kI32,
        SafetensorsDtype::kU32, SafetensorsDtype::kI64, SafetensorsDtype::kU64,
        SafetensorsDtype::kF16, SafetensorsDtype::kBF16, SafetensorsDtype::kF32,
        SafetensorsDtype::kF64}) {
    if (ToTorch(candidate) == dtype) return candidate;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "dtype ", c10::toString(dtype), " cannot be stored in safetensors here"));
}

bool IsFloating(SafetensorsDtype dtype) {
  return dtype == SafetensorsDtype::kF16 || dtype == SafetensorsDtype::kBF16 ||
         dtype == SafetensorsDtype::kF32 || dtype == SafetensorsDtype::kF64;
}

std::string ShapeString(c10::IntArrayRef shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// Copies one tensor out of a mapped file into an owned CPU tensor.
torch::Tensor ToTensor(const SafetensorsTensor& tensor, torch::Dtype target) {
  const bool is_bool = tensor.dtype == SafetensorsDtype::kBool;
  // BOOL is read as bytes, then compared with 0: a byte other than 0 or 1
  // is not a valid torch bool.
  const torch::Dtype source = is_bool ? torch::kUInt8 : ToTorch(tensor.dtype);
  const auto options = torch::TensorOptions().dtype(source);
  const bool convert = IsFloating(tensor.dtype) && source != target;
  const size_t element_size = SafetensorsDtypeSize(tensor.dtype);
  if (convert && tensor.num_elements > 0 &&
      reinterpret_cast<uintptr_t>(tensor.data.data()) % element_size == 0) {
    // Aligned: convert straight from the mapping (.to() makes a new tensor
    // and never writes to its input).
    void* data = const_cast<char*>(tensor.data.data());
    return torch::from_blob(data, tensor.shape, options).to(target);
  }
  torch::Tensor owned = torch::empty(tensor.shape, options);
  if (!tensor.data.empty()) {
    std::memcpy(owned.data_ptr(), tensor.data.data(), tensor.data.size());
  }
  if (is_bool) return owned.ne(0);
  return convert ? owned.to(target) : owned;
}

// Loads every tensor of one file; `accept` may refuse a tensor by returning
// an error (used to check it against a shard index).
template <typename Accept>
absl::Status LoadFile(const std::string& path, torch::Dtype target,
                      Accept&& accept, WeightMap& out) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
      SafetensorsFile::Open(path);
  if (!file.ok()) return file.status();
  for (const SafetensorsTensor& tensor : (*file)->view().tensors()) {
    absl::Status accepted = accept(tensor.name);
    if (!accepted.ok()) return accepted;
    if (!out.emplace(tensor.name, ToTensor(tensor, target)).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": tensor \"", tensor.name, "\" was already loaded"));
    }
  }
  return absl::OkStatus();
}

absl::Status AcceptAll(const std::string&) { return absl::OkStatus(); }

absl::StatusOr<nlohmann::json> ReadJsonFile(const std::string& path) {
  std::error_code error;
  const uintmax_t size = fs::file_size(path, error);
  if (error) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot read: ", error.message()));
  }
  if (size > kMaxIndexBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", size, " bytes, more than the ", kMaxIndexBytes,
                     "-byte limit for an index"));
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read"));
  nlohmann::json parsed =
      nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not valid JSON"));
  }
  return parsed;
}

// A shard name from an index must be a plain file name in the directory.
bool IsPlainFileName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

// Reads model.safetensors.index.json: weight_map, tensor name -> shard file.
absl::StatusOr<std::map<std::string, std::string>> ReadIndex(
    const std::string& index_path) {
  absl::StatusOr<nlohmann::json> index = ReadJsonFile(index_path);
  if (!index.ok()) return index.status();
  auto weight_map = index->find("weight_map");
  if (!index->is_object() || weight_map == index->end() ||
      !weight_map->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        index_path, ": no \"weight_map\" object (tensor name -> shard file)"));
  }
  std::map<std::string, std::string> shard_of;
  for (const auto& [name, shard] : weight_map->items()) {
    if (!shard.is_string() || !IsPlainFileName(shard.get<std::string>())) {
      return absl::InvalidArgumentError(
          absl::StrCat(index_path, ": weight_map entry for \"", name,
                       "\" is not a file name in the same directory"));
    }
    shard_of.emplace(name, shard.get<std::string>());
  }
  return shard_of;
}

absl::StatusOr<WeightMap> LoadIndexed(const std::string& dir,
                                      const std::string& index_path,
                                      torch::Dtype target) {
  absl::StatusOr<std::map<std::string, std::string>> shard_of =
      ReadIndex(index_path);
  if (!shard_of.ok()) return shard_of.status();
  std::map<std::string, std::vector<std::string>> names_in;  // shard -> names
  for (const auto& [name, shard] : *shard_of) names_in[shard].push_back(name);

  WeightMap weights;
  for (const auto& [shard, names] : names_in) {
    const std::string path = (fs::path(dir) / shard).string();
    std::error_code error;
    if (!fs::is_regular_file(path, error)) {
      return absl::NotFoundError(
          absl::StrCat(index_path, " lists shard ", shard, " (for ",
                       names.size(), " tensors, e.g. \"", names.front(),
                       "\") but ", path, " is not a file"));
    }
    auto accept = [&, &shard = shard](const std::string& name) {
      auto it = shard_of->find(name);
      if (it == shard_of->end()) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, " holds tensor \"", name, "\", which ",
                         index_path, " does not list"));
      }
      if (it->second != shard) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, " holds tensor \"", name, "\", which ",
                         index_path, " assigns to ", it->second));
      }
      return absl::OkStatus();
    };
    absl::Status loaded = LoadFile(path, target, accept, weights);
    if (!loaded.ok()) return loaded;
    for (const std::string& name : names) {
      if (weights.count(name) == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(index_path, " assigns tensor \"", name, "\" to ",
                         shard, ", which does not hold it"));
      }
    }
  }
  return weights;
}

// The *.safetensors files of `dir`, in byte order of their names.
absl::StatusOr<std::vector<std::string>> ListSafetensors(
    const std::string& dir) {
  std::vector<std::string> paths;
  std::error_code error;
  for (fs::directory_iterator it(dir, error), end; !error && it != end;
       it.increment(error)) {
    std::error_code type_error;
    if (absl::EndsWith(it->path().filename().string(), ".safetensors") &&
        it->is_regular_file(type_error)) {
      paths.push_back(it->path().string());
    }
  }
  if (error) {
    return absl::NotFoundError(
        absl::StrCat(dir, ": cannot list: ", error.message()));
  }
  if (paths.empty()) {
    return absl::NotFoundError(
        absl::StrCat(dir, ": no *.safetensors file in the directory"));
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

// Concatenates the parts of a tensor found in several files along dim 0.
absl::StatusOr<torch::Tensor> Concatenate(
    const std::string& name, const std::vector<torch::Tensor>& parts,
    const std::vector<std::string>& files) {
  const torch::Tensor& first = parts.front();
  for (size_t i = 0; i < parts.size(); ++i) {
    const torch::Tensor& part = parts[i];
    if (part.dim() == 0 || part.dim() != first.dim() ||
        part.sizes().slice(1) != first.sizes().slice(1) ||
        part.scalar_type() != first.scalar_type()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor \"", name,
          "\" is in several files but cannot be "
          "concatenated along dim 0: ",
          files.front(), " has ", c10::toString(first.scalar_type()), " ",
          ShapeString(first.sizes()), ", ", files[i], " has ",
          c10::toString(part.scalar_type()), " ", ShapeString(part.sizes())));
    }
  }
  return torch::cat(parts, 0);
}

absl::StatusOr<WeightMap> LoadConcatenated(const std::string& dir,
                                           torch::Dtype target) {
  absl::StatusOr<std::vector<std::string>> paths = ListSafetensors(dir);
  if (!paths.ok()) return paths.status();
  std::map<std::string, std::vector<torch::Tensor>> parts;
  std::map<std::string, std::vector<std::string>> files;
  for (const std::string& path : *paths) {
    WeightMap one;
    absl::Status loaded = LoadFile(path, target, AcceptAll, one);
    if (!loaded.ok()) return loaded;
    for (auto& [name, tensor] : one) {
      parts[name].push_back(std::move(tensor));
      files[name].push_back(path);
    }
  }
  WeightMap weights;
  for (auto& [name, tensors] : parts) {
    if (tensors.size() == 1) {
      weights.emplace(name, std::move(tensors.front()));
      continue;
    }
    absl::StatusOr<torch::Tensor> joined =
        Concatenate(name, tensors, files[name]);
    if (!joined.ok()) return joined.status();
    weights.emplace(name, *std::move(joined));
  }
  return weights;
}

absl::StatusOr<WeightMap> Load(const std::string& path_or_dir,
                               torch::Dtype target,
                               const LoadOptions& options) {
  std::error_code error;
  const fs::file_status status = fs::status(path_or_dir, error);
  if (!fs::exists(status)) {
    return absl::NotFoundError(
        absl::StrCat(path_or_dir, ": no such file or directory"));
  }
  WeightMap weights;
  if (!fs::is_directory(status)) {
    absl::Status loaded = LoadFile(path_or_dir, target, AcceptAll, weights);
    if (!loaded.ok()) return loaded;
    return weights;
  }
  if (options.layout == ShardLayout::kConcatenateAll) {
    return LoadConcatenated(path_or_dir, target);
  }
  const std::string single = (fs::path(path_or_dir) / kSingleFileName).string();
  const std::string index = (fs::path(path_or_dir) / kIndexFileName).string();
  if (fs::is_regular_file(single, error)) {
    absl::Status loaded = LoadFile(single, target, AcceptAll, weights);
    if (!loaded.ok()) return loaded;
    return weights;
  }
  if (fs::is_regular_file(index, error)) {
    return LoadIndexed(path_or_dir, index, target);
  }
  return absl::NotFoundError(absl::StrCat(
      path_or_dir, ": neither ", kSingleFileName, " nor ", kIndexFileName,
      " is there (for a directory of other *.safetensors files, such as the "
      "RCC release, use ShardLayout::kConcatenateAll)"));
}

// Appends "N <kind>: a, b, c (first M listed)" to `parts` when `names` is
// not empty.
void AppendList(absl::string_view kind, const std::vector<std::string>& names,
                int max_listed, std::vector<std::string>& parts) {
  if (names.empty()) return;
  const size_t listed =
      std::min(names.size(), static_cast<size_t>(std::max(max_listed, 0)));
  std::string text =
      absl::StrCat(names.size(), " ", kind, ": ",
                   absl::StrJoin(names.begin(), names.begin() + listed, ", "));
  if (listed < names.size()) {
    absl::StrAppend(&text, listed == 0 ? "" : ", ", "... (",
                    names.size() - listed, " more)");
  }
  parts.push_back(std::move(text));
}

bool IsIgnorable(const std::string& name, const CheckOptions& options) {
  if (options.ignorable_names.count(name) > 0) return true;
  return std::any_of(
      options.ignorable_suffixes.begin(), options.ignorable_suffixes.end(),
      [&](const std::string& suffix) { return absl::EndsWith(name, suffix); });
}

}  // namespace

absl::StatusOr<WeightMap> LoadSafetensors(const std::string& path_or_dir,
                                          torch::Dtype target,
                                          const LoadOptions& options) {
  if (target != torch::kFloat32 && target != torch::kFloat16 &&
      target != torch::kBFloat16 && target != torch::kFloat64) {
    return absl::InvalidArgumentError(absl::StrCat(
        "target dtype ", c10::toString(target),
        " is not floating-point: use Float, Half, BFloat16 or Double"));
  }
  return CatchExceptions(absl::StrCat("loading ", path_or_dir),
                         [&] { return Load(path_or_dir, target, options); });
}

absl::Status CheckWeights(
    const WeightMap& weights,
    const std::map<std::string, std::vector<int64_t>>& expected_shapes,
    const CheckOptions& options) {
  std::vector<std::string> missing, unexpected, misshaped;
  for (const auto& [name, shape] : expected_shapes) {
    auto it = weights.find(name);
    if (it == weights.end()) {
      missing.push_back(name);
    } else if (!it->second.defined() || it->second.sizes() != shape) {
      misshaped.push_back(absl::StrCat(
          name, " ",
          it->second.defined() ? ShapeString(it->second.sizes()) : "undefined",
          " (expected ", ShapeString(shape), ")"));
    }
  }
  for (const auto& [name, tensor] : weights) {
    if (expected_shapes.count(name) == 0 && !IsIgnorable(name, options)) {
      unexpected.push_back(name);
    }
  }
  if (missing.empty() && unexpected.empty() && misshaped.empty()) {
    return absl::OkStatus();
  }
  std::sort(unexpected.begin(), unexpected.end());
  std::vector<std::string> parts;
  AppendList("missing", missing, options.max_listed, parts);
  AppendList("unexpected", unexpected, options.max_listed, parts);
  AppendList("mis-shaped", misshaped, options.max_listed, parts);
  return absl::InvalidArgumentError(absl::StrCat(
      "weights do not match the model (", weights.size(), " tensors found, ",
      expected_shapes.size(), " expected): ", absl::StrJoin(parts, "; ")));
}

absl::Status WriteSafetensors(
    const std::string& path, const NamedTensors& tensors,
    const std::map<std::string, std::string>& metadata) {
  return CatchExceptions(absl::StrCat("writing ", path), [&]() -> absl::Status {
    std::vector<torch::Tensor> contiguous;  // keeps the bytes alive
    std::vector<SafetensorsEntry> entries;
    contiguous.reserve(tensors.size());
    for (const auto& [name, tensor] : tensors) {
      if (!tensor.defined() || tensor.layout() != torch::kStrided) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": tensor \"", name, "\" is undefined or not dense"));
      }
      absl::StatusOr<SafetensorsDtype> dtype = FromTorch(tensor.scalar_type());
      if (!dtype.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": tensor \"", name, "\": ", dtype.status().message()));
      }
      contiguous.push_back(tensor.detach()
                               .to(torch::kCPU)
                               .resolve_conj()
                               .resolve_neg()
                               .contiguous());
      const torch::Tensor& bytes = contiguous.back();
      entries.push_back(SafetensorsEntry{
          name, *dtype, bytes.sizes().vec(),
          absl::string_view(static_cast<const char*>(bytes.data_ptr()),
                            bytes.nbytes())});
    }
    return WriteSafetensorsFile(path, entries, metadata);
  });
}

}  // namespace ccs::model
