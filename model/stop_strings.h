// StopStringFilter: ends a text stream at the first occurrence of any stop
// string, without ever showing the client a stop string or a prefix of one
// that turns out to be one. Text that might be the start of a stop string is
// held back until the next piece decides it.
//
//   StopStringFilter filter({"\n\nQ:", "</answer>"});
//   for (each decoded piece) {
//     std::string out = filter.Push(piece);   // safe to stream now
//     if (filter.stopped()) break;            // out holds the text before it
//   }
//   std::string rest = filter.Flush();        // at the end of the stream
//
// Pieces and stop strings are UTF-8; since a stop string starts on a
// character boundary, so does every cut. Thread-safety: one stream, one
// filter.
#ifndef CCS_MODEL_STOP_STRINGS_H_
#define CCS_MODEL_STOP_STRINGS_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace ccs::model {

class StopStringFilter {
 public:
  // Empty stop strings are ignored.
  explicit StopStringFilter(std::vector<std::string> stops);

  // Push adds `piece` and returns what can be emitted. After a stop string is
  // found, returns the text before it and then only empty strings.
  std::string Push(absl::string_view piece);
  // Flush returns the text still held back (none once stopped).
  std::string Flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;  // text not emitted yet: a possible start of a stop string
  bool stopped_ = false;
};

}  // namespace ccs::model

#endif  // CCS_MODEL_STOP_STRINGS_H_
