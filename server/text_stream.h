// TextStream: generated token ids in, the text a client sees out, split on
// whole UTF-8 characters. It hides what is not the answer (everything up to
// an answer marker, for RCC's instruction reconstruction) and ends at the
// first stop string, which is never shown.
//
//   TextStream text(engine.tokenizer(), outcome_marker, stop_strings);
//   std::string delta = text.Add(token);   // per token; may be empty
//   if (text.stopped()) ... stop generating ...
//   std::string rest = text.Finish();      // at the end
//
// Thread-safety: one stream, one object.
#ifndef CCS_SERVER_TEXT_STREAM_H_
#define CCS_SERVER_TEXT_STREAM_H_

#include <string>
#include <vector>

#include "model/stop_strings.h"
#include "model/tokenizer/tokenizer.h"

namespace ccs::server {

class TextStream {
 public:
  TextStream(const Tokenizer& tokenizer, std::string answer_marker,
             std::vector<std::string> stop_strings);

  std::string Add(int32_t token);
  std::string Finish();
  bool stopped() const { return stops_.stopped(); }
  // Whether the answer has begun (always, without a marker).
  bool answering() const { return marker_.empty(); }

 private:
  std::string Filter(const std::string& text);

  StreamingDetokenizer detokenizer_;
  std::string marker_;   // emptied once seen
  std::string preamble_;  // text before the marker, kept to find it
  model::StopStringFilter stops_;
};

}  // namespace ccs::server

#endif  // CCS_SERVER_TEXT_STREAM_H_
