#include "server/validation.h"

#include <cmath>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/utf8.h"

namespace ccs::server {
namespace {

using absl::InvalidArgumentError;

constexpr int kMaxStopStrings = 8;
constexpr size_t kMaxStopStringBytes = 256;
constexpr int kMaxPageSize = 1000;
constexpr size_t kMaxModelNameBytes = 256;

// Shows a value from a request in a message without flooding the log.
std::string Quote(absl::string_view value) {
  constexpr size_t kShown = 40;
  std::string shown(value.substr(0, kShown));
  for (char& c : shown) {
    if (!absl::ascii_isprint(static_cast<unsigned char>(c))) c = '?';
  }
  return absl::StrCat("\"", shown, value.size() > kShown ? "...\"" : "\"");
}

absl::Status ValidateText(absl::string_view text, absl::string_view field) {
  const size_t bad = FindInvalidUtf8(text);
  if (bad == absl::string_view::npos) return absl::OkStatus();
  return InvalidArgumentError(absl::StrCat(
      field, " is not valid UTF-8 (first bad byte at offset ", bad,
      "): send UTF-8 text, or token ids"));
}

absl::Status ValidateMethod(v1::Method method, absl::string_view field) {
  if (v1::Method_IsValid(method)) return absl::OkStatus();
  return InvalidArgumentError(absl::StrCat(
      field, " is ", static_cast<int>(method),
      ": use METHOD_AUTO, METHOD_RCC, METHOD_IC_FORMER or METHOD_NONE"));
}

absl::Status ValidateModelName(absl::string_view model, absl::string_view field) {
  if (model.size() <= kMaxModelNameBytes &&
      FindInvalidUtf8(model) == absl::string_view::npos) {
    return absl::OkStatus();
  }
  return InvalidArgumentError(absl::StrCat(
      field, " must be a model name from ListModels (UTF-8, at most ",
      kMaxModelNameBytes, " bytes), or empty for the default model"));
}

absl::Status ValidateTokenIds(const google::protobuf::RepeatedField<int32_t>& ids,
                              absl::string_view field, int max_tokens) {
  if (ids.size() > max_tokens) {
    return InvalidArgumentError(absl::StrCat(
        field, " holds ", ids.size(), " tokens; at most ", max_tokens,
        " are allowed per call: send the rest as appends to the same session"));
  }
  for (int i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0) {
      return InvalidArgumentError(absl::StrCat(
          field, "[", i, "] is ", ids[i],
          ": token ids are in [0, vocabulary size)"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateSampling(const v1::SamplingParams& sampling,
                              const RequestLimits& limits) {
  if (sampling.max_new_tokens() < 0 ||
      sampling.max_new_tokens() > limits.max_new_tokens) {
    return InvalidArgumentError(absl::StrCat(
        "sampling.max_new_tokens is ", sampling.max_new_tokens(),
        ": use 1 to ", limits.max_new_tokens, ", or 0 for the default"));
  }
  const float temperature = sampling.temperature();
  if (!std::isfinite(temperature) || temperature < 0 || temperature > 2) {
    return InvalidArgumentError(absl::StrFormat(
        "sampling.temperature is %g: use 0 (greedy) to 2", temperature));
  }
  if (sampling.top_k() < 0) {
    return InvalidArgumentError(absl::StrCat(
        "sampling.top_k is ", sampling.top_k(), ": use 0 (off) or at least 1"));
  }
  const float top_p = sampling.top_p();
  if (!std::isfinite(top_p) || top_p < 0 || top_p > 1) {
    return InvalidArgumentError(absl::StrFormat(
        "sampling.top_p is %g: use a value in (0, 1], or 0 for off", top_p));
  }
  const float penalty = sampling.repetition_penalty();
  if (!std::isfinite(penalty) || penalty < 0 || penalty > 10) {
    return InvalidArgumentError(absl::StrFormat(
        "sampling.repetition_penalty is %g: use a value in (0, 10], or 0 for "
        "off", penalty));
  }
  if (sampling.stop_size() > kMaxStopStrings) {
    return InvalidArgumentError(absl::StrCat(
        "sampling.stop holds ", sampling.stop_size(), " strings; at most ",
        kMaxStopStrings, " are allowed"));
  }
  for (int i = 0; i < sampling.stop_size(); ++i) {
    const std::string& stop = sampling.stop(i);
    const std::string field = absl::StrCat("sampling.stop[", i, "]");
    if (stop.empty() || stop.size() > kMaxStopStringBytes) {
      return InvalidArgumentError(absl::StrCat(
          field, " has ", stop.size(), " bytes: use 1 to ",
          kMaxStopStringBytes));
    }
    if (absl::Status status = ValidateText(stop, field); !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateSessionId(absl::string_view id, absl::string_view field) {
  bool ok = id.size() == kSessionIdLength;
  for (char c : id) ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (ok) return absl::OkStatus();
  return InvalidArgumentError(absl::StrCat(
      field, " ", Quote(id), " is not a session id: expected ",
      kSessionIdLength, " lowercase hex digits as returned by Compress"));
}

absl::Status ValidateCompressRequest(const v1::CompressRequest& request,
                                     const RequestLimits& limits) {
  if (!request.session_id().empty()) {
    if (absl::Status s = ValidateSessionId(request.session_id(), "session_id");
        !s.ok()) {
      return s;
    }
  }
  if (request.expected_session_tokens() < 0) {
    return InvalidArgumentError(absl::StrCat(
        "expected_session_tokens is ", request.expected_session_tokens(),
        "; it must be 0 (no check) or the session's token count"));
  }
  if (request.expected_session_tokens() > 0 && request.session_id().empty()) {
    return InvalidArgumentError(
        "expected_session_tokens applies to appends: set session_id, or leave "
        "it 0 when creating a session");
  }
  const bool has_text = !request.text().empty();
  const bool has_ids = request.token_ids_size() > 0;
  if (has_text == has_ids) {
    return InvalidArgumentError(
        has_text ? "both text and token_ids are set: send exactly one of them"
                 : "the context is empty: set text (UTF-8) or token_ids");
  }
  if (has_text) {
    if (absl::Status s = ValidateText(request.text(), "text"); !s.ok()) return s;
  } else if (absl::Status s = ValidateTokenIds(request.token_ids(), "token_ids",
                                               limits.max_context_tokens);
             !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateModelName(request.model(), "model"); !s.ok()) {
    return s;
  }
  return ValidateMethod(request.method(), "method");
}

absl::Status ValidateGenerateRequest(const v1::GenerateRequest& request,
                                     const RequestLimits& limits) {
  const bool has_session = !request.session_id().empty();
  const bool has_context = !request.context().empty();
  if (has_session == has_context) {
    return InvalidArgumentError(
        has_session ? "both session_id and context are set: answer from a "
                      "session, or from an inline context, not both"
                    : "neither session_id nor context is set: name a session "
                      "made by Compress, or pass an inline context");
  }
  if (has_session) {
    if (absl::Status s = ValidateSessionId(request.session_id(), "session_id");
        !s.ok()) {
      return s;
    }
    if (!request.model().empty() || request.method() != v1::METHOD_AUTO) {
      return InvalidArgumentError(
          "model and method apply to an inline context only: a session keeps "
          "the model and method it was compressed with");
    }
  } else {
    if (absl::Status s = ValidateText(request.context(), "context"); !s.ok()) {
      return s;
    }
    if (absl::Status s = ValidateModelName(request.model(), "model"); !s.ok()) {
      return s;
    }
    if (absl::Status s = ValidateMethod(request.method(), "method"); !s.ok()) {
      return s;
    }
  }
  if (request.prompt().empty()) {
    return InvalidArgumentError("prompt is empty: send the question or "
                                "instruction to answer from the memory");
  }
  if (absl::Status s = ValidateText(request.prompt(), "prompt"); !s.ok()) {
    return s;
  }
  return ValidateSampling(request.sampling(), limits);
}

absl::Status ValidateReconstructRequest(const v1::ReconstructRequest& request,
                                        const RequestLimits& limits) {
  if (absl::Status s = ValidateSessionId(request.session_id(), "session_id");
      !s.ok()) {
    return s;
  }
  if (request.max_tokens() < 0 || request.max_tokens() > limits.max_new_tokens) {
    return InvalidArgumentError(absl::StrCat(
        "max_tokens is ", request.max_tokens(), ": use 1 to ",
        limits.max_new_tokens, ", or 0 for about as many as were compressed"));
  }
  return absl::OkStatus();
}

absl::Status ValidateGetSessionRequest(const v1::GetSessionRequest& request) {
  return ValidateSessionId(request.session_id(), "session_id");
}

absl::Status ValidateListSessionsRequest(
    const v1::ListSessionsRequest& request) {
  if (request.page_size() < 0 || request.page_size() > kMaxPageSize) {
    return InvalidArgumentError(absl::StrCat(
        "page_size is ", request.page_size(), ": use 1 to ", kMaxPageSize,
        ", or 0 for 100"));
  }
  return absl::OkStatus();
}

absl::Status ValidateDeleteSessionRequest(
    const v1::DeleteSessionRequest& request) {
  return ValidateSessionId(request.session_id(), "session_id");
}

}  // namespace ccs::server
