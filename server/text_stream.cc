#include "server/text_stream.h"

#include <utility>

namespace ccs::server {

TextStream::TextStream(const Tokenizer& tokenizer, std::string answer_marker,
                       std::vector<std::string> stop_strings)
    : detokenizer_(tokenizer, DecodeOptions{/*skip_special_tokens=*/true}),
      marker_(std::move(answer_marker)),
      stops_(std::move(stop_strings)) {}

std::string TextStream::Filter(const std::string& text) {
  if (marker_.empty()) return stops_.Push(text);
  preamble_ += text;
  const size_t at = preamble_.find(marker_);
  if (at == std::string::npos) return "";
  std::string answer = preamble_.substr(at + marker_.size());
  marker_.clear();
  preamble_.clear();
  return stops_.Push(answer);
}

std::string TextStream::Add(int32_t token) {
  absl::StatusOr<std::string> text = detokenizer_.Add(token);
  // Ids come from the model's own vocabulary; an id without text adds none.
  return Filter(text.ok() ? *text : "");
}

std::string TextStream::Finish() {
  std::string out = Filter(detokenizer_.Flush());
  if (!marker_.empty()) {
    // The marker never came: the model did not follow the answer format, so
    // the whole output is the best answer there is.
    marker_.clear();
    out += stops_.Push(preamble_);
    preamble_.clear();
  }
  return out + stops_.Flush();
}

}  // namespace ccs::server
