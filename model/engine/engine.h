// Engine: one loaded model as the server sees it, behind a torch-free
// interface: its tokenizer, the compression methods it serves, and batched
// generation from compressed memory. The server's scheduler calls it from its
// own worker threads; nothing here blocks on I/O.
//
//   EngineOptions options;
//   options.decoder_dir = "models/smollm2-135m-instruct";
//   options.rcc_dir = "models/demo/rcc";                 // optional
//   absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Load(options);
//   absl::StatusOr<std::vector<int32_t>> ids = (*engine)->Tokenize(text);
//   auto memories = (*engine)->Compress(Method::kRcc, {*ids});
//   GenerationJob job;
//   job.memory = (*memories)[0];
//   job.prompt = "Who wrote it?";
//   (*engine)->Generate({job}, [](size_t job, int32_t token) { return true; });
//
// Methods: kNone always (the context's tokens, prefilled by the decoder);
// kRcc when an RCC checkpoint is loaded; kIcFormer when an IC-Former is.
//
// Prompt layout (chat templates of the ChatML family, which SmolLM2 and the
// released RCC demo use; the strings are EngineTemplates):
//   NONE answer:   none_context_prefix + context + none_prompt_prefix +
//                  prompt + answer_prefix          -> the answer
//   RCC answer:    [memory] + rcc_prompt_prefix + prompt + answer_prefix
//   RCC instruction reconstruction: the memory is extended with
//                  instruction_separator + prompt, compressed; the decoder
//                  reads [memory] + rcc_prompt_prefix, regenerates the
//                  instruction, then answers after answer_marker; only the
//                  answer is the result (see TextStream in the server).
//   RCC reconstruct: [memory] + rcc_reconstruct_prompt (or the BOS/EOS token
//                  when empty), the decoder regenerates the text.
//   IC-Former answer: [emb(answer_prefix), digests, FT, emb(prompt),
//                  emb(answer_suffix)], the templates from the former's config.
//   IC-Former reconstruct: [digests, AE].
//   NONE reconstruct: the stored tokens themselves.
//
// Thread-safety: Load once; every other method is const and may run
// concurrently (generation calls and decode batches hold their own caches).
#ifndef CCS_MODEL_ENGINE_ENGINE_H_
#define CCS_MODEL_ENGINE_ENGINE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/memory.h"
#include "model/tokenizer/tokenizer.h"

namespace ccs::model {

struct EngineTemplates {
  std::string none_context_prefix = "<|im_start|>user\n";
  std::string none_prompt_prefix = "\n\n";
  std::string rcc_prompt_prefix =
      "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n";
  std::string answer_prefix = "<|im_end|>\n<|im_start|>assistant\n";
  std::string answer_marker = "assistant\n";
  std::string instruction_separator = "\n\n";
  std::string rcc_reconstruct_prompt;
};

struct EngineOptions {
  // Name clients use to pick this model.
  std::string name = "default";
  // Hugging Face directory of the decoder: config.json, safetensors,
  // tokenizer.json (and tokenizer_config.json for special tokens).
  std::string decoder_dir;
  // Optional RCC checkpoint: rcc_config.json and *.safetensors holding
  // <base>rcc_encoder.* and the projections (a released checkpoint that also
  // holds the decoder works too; its decoder tensors are then ignored in
  // favour of decoder_dir's).
  std::string rcc_dir;
  // Optional IC-Former checkpoint: the former's config.json (its answer
  // template strings included), model.safetensors, and param.pt (released
  // checkpoints) or params.safetensors (this project's trainer).
  std::string icformer_dir;
  // "cpu", "cuda", "cuda:N".
  std::string device = "cpu";
  // "float32" or "bfloat16" weights and activations.
  std::string dtype = "float32";
  EngineTemplates templates;
};

struct ModelDescription {
  std::string name;
  std::string architecture;  // "llama" or "gpt_neox"
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 0;
  // The decoder's max_position_embeddings: memory slots, prompt and answer
  // together must fit in it.
  int64_t max_positions = 0;
  std::vector<Method> methods;
  int64_t rcc_ratio = 0;
  int64_t rcc_segment_tokens = 0;
  int64_t icformer_digests = 0;
  int64_t icformer_chunk_tokens = 0;
  std::string storage_dtype;
  std::string device;
};

struct Sampling {
  int max_new_tokens = 256;
  // Stop tokens are not chosen before this many tokens (<= max_new_tokens).
  int min_new_tokens = 0;
  double temperature = 0;  // 0: greedy
  int top_k = 0;           // 0: off
  double top_p = 1.0;      // 1: off
  double repetition_penalty = 1.0;
  uint64_t seed = 0;
};

// ReconstructMinTokens is Reconstruct's length policy, shared by the server
// and the evaluation: a memory of `compressed_tokens` tokens is regenerated
// without a stop token before min_share * compressed_tokens tokens (at most
// max_new_tokens). A reconstruction is about as long as its text, and a
// weakly trained compressor otherwise ends short texts after a token or two.
int ReconstructMinTokens(int64_t compressed_tokens, double min_share, int max_new_tokens);
inline constexpr double kDefaultReconstructMinShare = 0.5;

enum class Task {
  kAnswer,       // answer `prompt` from the memory
  kReconstruct,  // regenerate the compressed text
};

struct GenerationJob {
  std::shared_ptr<const Memory> memory;
  // From BuildPrefix(*memory); optional (null: built for this call).
  std::shared_ptr<const PrefixCache> prefix;
  Task task = Task::kAnswer;
  std::string prompt;  // kAnswer: UTF-8, non-empty
  // RCC only (see the header comment).
  bool instruction_reconstruction = false;
  Sampling sampling;
};

enum class FinishReason { kEos, kLength, kCancelled };

struct GenerationOutcome {
  std::vector<int32_t> tokens;  // the stop token excluded
  FinishReason finish_reason = FinishReason::kLength;
  int64_t prompt_tokens = 0;    // decoder input tokens besides the memory
};

// Called with each generated token of job `job` (for a DecodeBatch: of
// stream `job`), in order; returning false stops that job (kCancelled). Not
// called for the stop token.
using TokenCallback = std::function<bool(size_t job, int32_t token)>;

// DecodeBatch: generation streams decoded together, continuously: streams
// join (Add: their prompts are prefilled) and leave (they finish, or
// Remove) between steps, and each Step gives every stream its next token in
// one decoder pass. Engine::Generate is a batch whose jobs all join at once;
// the server keeps one running so that concurrent requests share steps.
//
//   std::unique_ptr<DecodeBatch> batch = engine->NewDecodeBatch();
//   std::vector<absl::StatusOr<DecodeBatch::StreamId>> ids = batch->Add({job_a, job_b});
//   while (!batch->empty()) {
//     auto finished = batch->Step([](DecodeBatch::StreamId id, int32_t token) {
//       return Send(id, token);          // false: that stream stops now
//     });
//     ... batch->Add({job_c}) ...        // joins before the next step
//     ... batch->Remove(id) ...          // a client went away
//   }
//
// Each stream keeps its own sampling parameters and random generator, so
// what it generates does not depend on the others in the batch (greedy
// decoding gives the tokens it gives alone; so does seeded sampling).
// A NONE session's reconstruction needs no model (the memory is the text):
// its whole text comes in the first Step after it joined.
//
// Thread-safety: not thread-safe; one thread drives a batch. Several batches
// may run at once.
class DecodeBatch {
 public:
  using StreamId = size_t;
  struct Finished {
    StreamId id;
    GenerationOutcome outcome;
  };

  virtual ~DecodeBatch() = default;

  // Add prepares each job (its prompt and memory prefix) and prefills them
  // together; result i is job i's stream id, or why it cannot join (that job
  // only: INVALID_ARGUMENT for a prompt the tokenizer refuses,
  // FAILED_PRECONDITION for a method not loaded; a failed prefill fails the
  // jobs prefilled with it). Streams that joined get tokens from the next
  // Step.
  virtual std::vector<absl::StatusOr<StreamId>> Add(const std::vector<GenerationJob>& jobs) = 0;

  // Step gives each stream its next token through on_token(id, token) and
  // returns the streams that finished (EOS, max_new_tokens, or on_token
  // returning false). On error every stream is dropped (the batch is empty)
  // and the error applies to all of them.
  virtual absl::StatusOr<std::vector<Finished>> Step(const TokenCallback& on_token) = 0;

  // Remove drops stream `id` at once (kCancelled) and returns what it had
  // generated. NOT_FOUND for an id not in the batch.
  virtual absl::StatusOr<GenerationOutcome> Remove(StreamId id) = 0;

  // Streams in the batch.
  virtual size_t size() const = 0;
  bool empty() const { return size() == 0; }
};

class Engine {
 public:
  // Load reads the decoder, its tokenizer and any compressor. Errors name
  // the directory and what is wrong with it.
  static absl::StatusOr<std::unique_ptr<Engine>> Load(const EngineOptions& options);

  virtual ~Engine() = default;

  virtual const ModelDescription& description() const = 0;
  virtual const Tokenizer& tokenizer() const = 0;
  virtual bool Supports(Method method) const = 0;

  // Tokenize encodes untrusted text (special tokens spelled out in it are
  // ordinary text). INVALID_ARGUMENT for invalid UTF-8, and for characters
  // the vocabulary cannot represent (they would be silently dropped).
  virtual absl::StatusOr<std::vector<int32_t>> Tokenize(absl::string_view text) const = 0;

  // Compress makes one memory per context (non-empty token ids), batching
  // their encoder work. FAILED_PRECONDITION when `method` is not loaded.
  virtual absl::StatusOr<std::vector<std::shared_ptr<const Memory>>> Compress(
      Method method, const std::vector<std::vector<int32_t>>& contexts) const = 0;

  // Concat is the memory of `first`'s context followed by `second`'s (same
  // method): how a session grows.
  virtual absl::StatusOr<std::shared_ptr<const Memory>> Concat(const Memory& first,
                                                               const Memory& second) const = 0;

  // BuildPrefix computes the decoder cache of a memory for reuse.
  virtual absl::StatusOr<std::shared_ptr<const PrefixCache>> BuildPrefix(
      const Memory& memory) const = 0;

  // SerializeMemory encodes a memory this engine made (model/memory_record.h:
  // versioned and checksummed, the vectors in their storage dtype) for the
  // persistent session tier. INVALID_ARGUMENT for a memory of another kind.
  virtual absl::StatusOr<std::string> SerializeMemory(const Memory& memory) const = 0;

  // DeserializeMemory rebuilds a memory from SerializeMemory's bytes.
  // DATA_LOSS for corrupt or truncated bytes; INVALID_ARGUMENT when the
  // record was made by another model (name, or shapes that do not fit this
  // one) or in a format version this build does not read;
  // FAILED_PRECONDITION when its method is not loaded. Never crashes.
  virtual absl::StatusOr<std::shared_ptr<const Memory>> DeserializeMemory(
      absl::string_view bytes) const = 0;

  // AnswerMarker is the text in `job`'s output before which nothing is the
  // answer (RCC instruction reconstruction regenerates the instruction
  // first); empty when the whole output is the answer.
  virtual std::string AnswerMarker(const GenerationJob& job) const = 0;

  // Generate runs the jobs as one batch (a DecodeBatch they all join at
  // once). Any job that cannot join fails the call.
  virtual absl::StatusOr<std::vector<GenerationOutcome>> Generate(
      const std::vector<GenerationJob>& jobs, const TokenCallback& on_token) const = 0;

  // ScoreContinuation is the summed natural-log probability that the decoder
  // gives `continuation` (non-empty token ids), teacher-forced, as the text
  // that directly follows `memory`'s context: the measure behind perplexity,
  // exp(-sum / continuation.size()). It is for evaluation; serving never
  // calls it. The decoder reads the memory as plain preceding text, without
  // a chat template: NONE its tokens, RCC its P memory positions (the
  // memory injected as for answering), IC-Former its digests (ICAE's
  // language-modelling layout [digests, text]). A null memory is no
  // context: the continuation follows the tokenizer's BOS token (EOS when it
  // has none), so that its first token is scored too. One decoder pass over
  // memory and continuation. INVALID_ARGUMENT for an empty continuation or
  // ids outside the vocabulary; FAILED_PRECONDITION when the memory's method
  // is not loaded.
  virtual absl::StatusOr<double> ScoreContinuation(
      const Memory* memory, const std::vector<int32_t>& continuation) const = 0;
  // NewDecodeBatch starts an empty continuous batch over this model; it
  // must not outlive the engine.
  virtual std::unique_ptr<DecodeBatch> NewDecodeBatch() const = 0;
};

}  // namespace ccs::model

#endif  // CCS_MODEL_ENGINE_ENGINE_H_
