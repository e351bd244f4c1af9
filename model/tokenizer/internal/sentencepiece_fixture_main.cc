// sentencepiece_fixture: trains a small Llama-style SentencePiece model with
// the library and writes it with the library's ids for a few texts.
//
//   sentencepiece_fixture OUT.model OUT_cases.json
//
// The cases file is [{"text": ..., "ids": [...]}]. Exits 1 on failure.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/tokenizer/internal/sentencepiece_reference.h"

int main(int argc, char** argv) {
  using ccs::tokenizer_internal::SentencePieceReference;
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s OUT.model OUT_cases.json\n", argv[0]);
    return 1;
  }
  std::vector<std::string> corpus;
  const char* words[] = {"memory", "context", "segment", "digest", "the", "a", "compress",
                         "tokens", "slot", "session", "café", "naïve"};
  for (int i = 0; i < 300; ++i) {
    std::string s;
    for (int w = 0; w < 8; ++w) s += std::string(w ? " " : "") + words[(i * 7 + w * 5) % 12];
    corpus.push_back(s + (i % 2 ? "." : ", 42"));
  }
  std::string model, error;
  if (!ccs::tokenizer_internal::TrainSentencePieceModel(
          corpus,
          "--model_type=bpe --vocab_size=320 --byte_fallback=true --minloglevel=2 "
          "--num_threads=1 --normalization_rule_name=identity "
          "--remove_extra_whitespaces=false --split_digits=true",
          &model, &error)) {
    std::fprintf(stderr, "training failed: %s\n", error.c_str());
    return 1;
  }
  std::unique_ptr<SentencePieceReference> sp = SentencePieceReference::Load(model, &error);
  if (sp == nullptr) {
    std::fprintf(stderr, "loading failed: %s\n", error.c_str());
    return 1;
  }
  nlohmann::json cases = nlohmann::json::array();
  for (const std::string text :
       {"the memory of a session", "  compress  the context\n", "café 1234 \U0001F680 Привет",
        ""}) {
    std::vector<int> ids;
    if (!sp->Encode(text, &ids, &error)) {
      std::fprintf(stderr, "encoding failed: %s\n", error.c_str());
      return 1;
    }
    cases.push_back({{"text", text}, {"ids", ids}});
  }
  std::ofstream(argv[1], std::ios::binary) << model;
  std::ofstream(argv[2]) << cases.dump(1);
  return 0;
}
