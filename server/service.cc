#include "server/service.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/grpc_status.h"
#include "server/stream_reactor.h"
#include "server/text_stream.h"

namespace ccs::server {
namespace {

constexpr int kDefaultMaxNewTokens = 256;
constexpr int kAppendAttempts = 8;
constexpr int kDefaultPageSize = 100;
// Every caller's tenant when authentication is off.
constexpr char kDefaultTenant[] = "default";

v1::Method ToProto(model::Method method) {
  switch (method) {
    case model::Method::kRcc:
      return v1::METHOD_RCC;
    case model::Method::kIcFormer:
      return v1::METHOD_IC_FORMER;
    case model::Method::kNone:
      return v1::METHOD_NONE;
  }
  return v1::METHOD_AUTO;
}

void ToProto(const SessionInfo& info, v1::Session* out) {
  out->set_session_id(info.id);
  out->set_model(info.model);
  out->set_method(ToProto(info.method));
  out->set_tokens(info.tokens);
  out->set_memory_slots(info.slots);
  out->set_segments(info.segments);
  out->set_bytes(info.bytes);
  out->set_storage_dtype(info.dtype);
  out->set_tier(info.tier == StorageTier::kRam ? v1::STORAGE_TIER_MEMORY : v1::STORAGE_TIER_DISK);
  out->set_created_unix_micros(absl::ToUnixMicros(info.created));
  out->set_last_used_unix_micros(absl::ToUnixMicros(info.last_used));
  out->set_expires_unix_micros(info.expires == absl::InfiniteFuture()
                                   ? 0
                                   : absl::ToUnixMicros(info.expires));
}

absl::Status NoModel() {
  return absl::FailedPreconditionError(
      "no model is loaded on this server: start it with --model_dir (see README.md)");
}

grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context,
                                      const RequestLog& log, const absl::Status& status) {
  const grpc::Status wire = ToGrpcStatus(status);
  log.Finish(wire);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(wire);
  return reactor;
}

int64_t MicrosSince(absl::Time start) { return absl::ToInt64Microseconds(absl::Now() - start); }

v1::FinishReason ToProto(model::FinishReason reason, bool stopped) {
  if (stopped) return v1::FINISH_REASON_STOP;
  return reason == model::FinishReason::kEos ? v1::FINISH_REASON_EOS : v1::FINISH_REASON_LENGTH;
}

// The call's deadline; InfiniteFuture when it has none.
absl::Time DeadlineOf(const grpc::CallbackServerContext& context) {
  const std::chrono::system_clock::time_point deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

// Why a call taken off the work queue should not run: its client cancelled,
// or its deadline passed while it waited (since `queued`).
absl::Status StillWanted(grpc::CallbackServerContext* context, absl::Time queued) {
  if (context->IsCancelled()) return absl::CancelledError("the client cancelled the call");
  const absl::Time now = absl::Now();
  if (DeadlineOf(*context) <= now) {
    return absl::DeadlineExceededError(
        absl::StrCat("the call's deadline passed while it waited ",
                     absl::FormatDuration(now - queued), " in the work queue"));
  }
  return absl::OkStatus();
}

// One Generate or Reconstruct call's output: tokens in; text split on whole
// characters, then the finish reason and usage, out. It runs a stream alone
// on a worker (batching off) and is the stream's DecodeScheduler sink when
// decode steps are batched.
template <typename Response>
class GenerationStream final : public DecodeScheduler::Sink {
 public:
  // `start` is when the call's model work began (time to first token).
  GenerationStream(const model::Engine& engine, ServerMetrics* metrics,
                   const model::GenerationJob& job, std::vector<std::string> stops,
                   absl::Time start, StreamReactor<Response>* stream)
      : metrics_(metrics),
        text_(engine.tokenizer(), engine.AnswerMarker(job), std::move(stops)),
        task_(job.task == model::Task::kReconstruct ? "reconstruct" : "answer"),
        memory_slots_(job.memory->slots()),
        start_(start),
        stream_(stream) {}

  bool OnToken(int32_t token) override {
    ++generated_;
    if (first_token_micros_ < 0) {
      first_token_micros_ = MicrosSince(start_);
      metrics_->ObserveTimeToFirstToken(task_, absl::Microseconds(first_token_micros_));
    }
    const std::string delta = text_.Add(token);
    if (text_.answering()) pending_.add_token_ids(token);
    if (!delta.empty()) {
      pending_.set_text(delta);
      stream_->Send(std::move(pending_));
      pending_ = Response();
    }
    return !text_.stopped();
  }

  bool Cancelled() const override { return stream_->cancelled(); }

  void OnDone(absl::StatusOr<model::GenerationOutcome> outcome) override {
    metrics_->AddGeneratedTokens(task_, generated_);
    if (!outcome.ok()) return stream_->Close(ToGrpcStatus(outcome.status()));
    pending_.set_text(pending_.text() + text_.Finish());
    pending_.set_finish_reason(ToProto(outcome->finish_reason, text_.stopped()));
    v1::Usage* usage = pending_.mutable_usage();
    usage->set_prompt_tokens(outcome->prompt_tokens);
    usage->set_memory_slots(memory_slots_);
    usage->set_generated_tokens(static_cast<int64_t>(outcome->tokens.size()));
    usage->set_time_to_first_token_micros(first_token_micros_ < 0 ? MicrosSince(start_)
                                                                  : first_token_micros_);
    usage->set_total_micros(MicrosSince(start_));
    stream_->Send(std::move(pending_));
    stream_->Close(grpc::Status::OK);
  }

 private:
  ServerMetrics* const metrics_;
  TextStream text_;
  const char* const task_;
  const int64_t memory_slots_;
  const absl::Time start_;
  StreamReactor<Response>* const stream_;  // valid until Close
  Response pending_;
  int64_t generated_ = 0;
  int64_t first_token_micros_ = -1;
};

}  // namespace

ContextCompressionService::ContextCompressionService(const RequestLimits& limits,
                                                     const model::Engine* engine,
                                                     SessionStore* store, Scheduler* scheduler,
                                                     const TokenAuthenticator* auth,
                                                     ServerMetrics* metrics)
    : limits_(limits),
      engine_(engine),
      store_(store),
      scheduler_(scheduler),
      auth_(auth),
      metrics_(metrics),
      requests_(metrics) {}

absl::StatusOr<std::string> ContextCompressionService::TenantOf(
    const grpc::CallbackServerContext& context) const {
  if (auth_ == nullptr) return std::string(kDefaultTenant);
  std::vector<absl::string_view> values;
  const auto [begin, end] = context.client_metadata().equal_range("authorization");
  for (auto it = begin; it != end; ++it) values.emplace_back(it->second.data(), it->second.size());
  return auth_->Authenticate(values);
}

absl::Status ContextCompressionService::CheckPromptLength(const std::string& prompt) const {
  absl::StatusOr<std::vector<int32_t>> ids = engine_->Tokenize(prompt);
  if (!ids.ok()) return ids.status();
  if (static_cast<int64_t>(ids->size()) > limits_.max_prompt_tokens) {
    return absl::InvalidArgumentError(absl::StrCat("the prompt is ", ids->size(),
                                                   " tokens; at most ", limits_.max_prompt_tokens,
                                                   " are allowed (--max_prompt_tokens)"));
  }
  return absl::OkStatus();
}

absl::Status ContextCompressionService::CheckSessionTokens(int64_t held, int64_t added) const {
  if (held + added <= limits_.max_session_tokens) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "the session would hold ", held + added, " tokens of context (", held, " held + ", added,
      " sent); at most ", limits_.max_session_tokens,
      " are allowed per session (--max_session_tokens): start a new session"));
}

absl::Status ContextCompressionService::CheckExpectedTokens(const v1::CompressRequest& request,
                                                           int64_t held) {
  const int64_t expected = request.expected_session_tokens();
  if (expected == 0 || expected == held) return absl::OkStatus();
  return absl::AbortedError(absl::StrCat(
      "session ", request.session_id(), " holds ", held,
      " tokens of context, not the ", expected,
      " this append expected (expected_session_tokens); nothing was stored. An earlier try "
      "of this append, or another client, may have appended: read the session and decide"));
}

absl::Status ContextCompressionService::CheckModel(const std::string& model) const {
  if (engine_ == nullptr) return NoModel();
  if (model.empty() || model == engine_->description().name) return absl::OkStatus();
  return absl::NotFoundError(absl::StrCat("model \"", model, "\" is not loaded; this server has \"",
                                          engine_->description().name, "\" (see ListModels)"));
}

absl::StatusOr<model::Method> ContextCompressionService::ResolveMethod(v1::Method requested,
                                                                       bool prefer_low_latency) const {
  model::Method method = model::Method::kNone;
  switch (requested) {
    case v1::METHOD_RCC:
      method = model::Method::kRcc;
      break;
    case v1::METHOD_IC_FORMER:
      method = model::Method::kIcFormer;
      break;
    case v1::METHOD_NONE:
      method = model::Method::kNone;
      break;
    default:  // AUTO: the fast path if asked for and loaded, else RCC, else NONE
      if (prefer_low_latency && engine_->Supports(model::Method::kIcFormer)) {
        return model::Method::kIcFormer;
      }
      if (engine_->Supports(model::Method::kRcc)) return model::Method::kRcc;
      if (engine_->Supports(model::Method::kIcFormer)) return model::Method::kIcFormer;
      return model::Method::kNone;
  }
  if (!engine_->Supports(method)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "method ", model::MethodName(method), " is not loaded for model \"",
        engine_->description().name, "\"; ListModels shows the methods it serves"));
  }
  return method;
}

absl::StatusOr<std::vector<int32_t>> ContextCompressionService::ContextIds(
    const std::string& text, const google::protobuf::RepeatedField<int32_t>& ids) const {
  std::vector<int32_t> tokens;
  if (!text.empty()) {
    absl::StatusOr<std::vector<int32_t>> encoded = engine_->Tokenize(text);
    if (!encoded.ok()) return encoded.status();
    tokens = *std::move(encoded);
  } else {
    const int64_t vocab = engine_->description().vocab_size;
    for (int i = 0; i < ids.size(); ++i) {
      if (ids[i] >= vocab) {
        return absl::InvalidArgumentError(absl::StrCat("token_ids[", i, "] is ", ids[i],
                                                       ": the model's vocabulary is [0, ", vocab, ")"));
      }
    }
    tokens.assign(ids.begin(), ids.end());
  }
  if (tokens.empty()) {
    return absl::InvalidArgumentError("the context has no tokens after tokenization");
  }
  if (static_cast<int64_t>(tokens.size()) > limits_.max_context_tokens) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the context is ", tokens.size(), " tokens; at most ", limits_.max_context_tokens,
        " are allowed per call (--max_context_tokens): send the rest as appends to the same "
        "session"));
  }
  return tokens;
}

absl::StatusOr<ContextCompressionService::CompressPlan> ContextCompressionService::PlanCompress(
    const std::string& tenant, const v1::CompressRequest& request) const {
  absl::StatusOr<model::Method> method = absl::UnknownError("unset");
  int64_t held_tokens = 0;
  if (!request.session_id().empty()) {
    absl::StatusOr<Session> session = store_->Get(tenant, request.session_id());
    if (!session.ok()) return session.status();
    held_tokens = session->info.tokens;
    if (absl::Status s = CheckExpectedTokens(request, session->info.tokens); !s.ok()) return s;
    if (request.method() != v1::METHOD_AUTO && ToProto(session->info.method) != request.method()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "session ", request.session_id(), " holds ", model::MethodName(session->info.method),
          " memory; append with its method or METHOD_AUTO"));
    }
    method = session->info.method;
  } else {
    method = ResolveMethod(request.method(), request.prefer_low_latency());
  }
  if (!method.ok()) return method.status();
  absl::StatusOr<std::vector<int32_t>> ids = ContextIds(request.text(), request.token_ids());
  if (!ids.ok()) return ids.status();
  if (absl::Status s = CheckSessionTokens(held_tokens, static_cast<int64_t>(ids->size()));
      !s.ok()) {
    return s;
  }
  return CompressPlan{*method, *std::move(ids)};
}

absl::Status ContextCompressionService::StoreCompressed(
    const std::string& tenant, const v1::CompressRequest& request, model::Method method,
    const std::shared_ptr<const model::Memory>& added, v1::CompressResponse* response) const {
  metrics_->AddCompressedTokens(model::MethodName(method), added->tokens(), added->slots());
  absl::StatusOr<SessionInfo> info = absl::UnknownError("unset");
  if (request.session_id().empty()) {
    info = store_->Create(tenant, engine_->description().name, added);
  } else {
    // Compare-and-swap: a concurrent append to the same session makes the
    // swap fail, and the concatenation is redone on the newer memory.
    for (int attempt = 0; attempt < kAppendAttempts; ++attempt) {
      absl::StatusOr<Session> session = store_->Get(tenant, request.session_id());
      if (!session.ok()) return session.status();
      // Checked again: a concurrent append may have grown the session.
      if (absl::Status s = CheckExpectedTokens(request, session->info.tokens); !s.ok()) return s;
      if (absl::Status s = CheckSessionTokens(session->info.tokens, added->tokens()); !s.ok()) {
        return s;
      }
      absl::StatusOr<std::shared_ptr<const model::Memory>> longer =
          engine_->Concat(*session->memory, *added);
      if (!longer.ok()) return longer.status();
      info = store_->Replace(tenant, request.session_id(), session->memory, *longer);
      if (info.status().code() != absl::StatusCode::kAborted) break;
    }
  }
  if (!info.ok()) return info.status();
  response->set_session_id(info->id);
  response->set_method(ToProto(method));
  response->set_model(info->model);
  response->set_tokens_in(added->tokens());
  response->set_memory_vectors_out(added->slots());
  response->set_segments(added->segments());
  ToProto(*info, response->mutable_session());
  if (request.return_vectors()) {
    std::vector<int64_t> shape;
    std::string data;
    if (added->ExportVectors(&shape, &data)) {
      v1::Tensor* vectors = response->mutable_vectors();
      vectors->set_dtype(added->dtype());
      for (int64_t d : shape) vectors->add_shape(d);
      vectors->set_data(std::move(data));
    }
  }
  return absl::OkStatus();
}

void ContextCompressionService::RunCompress(const std::string& tenant, CompressPlan plan,
                                            grpc::CallbackServerContext* context,
                                            const v1::CompressRequest* request,
                                            v1::CompressResponse* response, absl::Time queued,
                                            std::function<void(const absl::Status&)> finish) const {
  CompressBatcher* batcher = scheduler_->compress_batcher();
  if (batcher == nullptr) {  // batching off: compress alone, here
    const absl::Time start = absl::Now();
    metrics_->ObserveBatch(BatchKind::kCompress, 1);
    absl::StatusOr<std::vector<std::shared_ptr<const model::Memory>>> compressed =
        engine_->Compress(plan.method, {plan.ids});
    if (!compressed.ok()) return finish(compressed.status());
    response->set_compute_micros(MicrosSince(start));
    return finish(StoreCompressed(tenant, *request, plan.method, (*compressed)[0], response));
  }
  CompressBatcher::Request batched;
  batched.method = plan.method;
  batched.context = std::move(plan.ids);
  batched.deadline = DeadlineOf(*context);
  batched.cancelled = [context] { return context->IsCancelled(); };
  const model::Method method = plan.method;
  batched.done = [this, tenant, request, response, queued, method, finish](
                     absl::StatusOr<std::shared_ptr<const model::Memory>> memory,
                     const CompressBatcher::Timing& timing) {
    response->set_queue_micros(absl::ToInt64Microseconds(timing.started - queued));
    if (!memory.ok()) return finish(memory.status());
    response->set_compute_micros(absl::ToInt64Microseconds(timing.compute));
    finish(StoreCompressed(tenant, *request, method, *memory, response));
  };
  if (absl::Status accepted = batcher->Submit(std::move(batched)); !accepted.ok()) {
    finish(accepted);
  }
}

grpc::ServerUnaryReactor* ContextCompressionService::Compress(grpc::CallbackServerContext* context,
                                                              const v1::CompressRequest* request,
                                                              v1::CompressResponse* response) {
  auto log = std::make_shared<RequestLog>(requests_, "Compress", context);
  const absl::StatusOr<std::string> caller = TenantOf(*context);
  absl::Status status = caller.status();
  if (status.ok()) status = ValidateCompressRequest(*request, limits_);
  if (status.ok()) status = CheckModel(request->model());
  if (!status.ok()) return FinishUnary(context, *log, status);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto finish = [log, reactor](const absl::Status& result) {
    const grpc::Status wire = ToGrpcStatus(result);
    log->Finish(wire);
    reactor->Finish(wire);
  };
  const std::string tenant = *caller;
  const absl::Time queued = absl::Now();
  status = scheduler_->Run([this, context, request, response, tenant, queued, finish] {
    response->set_queue_micros(MicrosSince(queued));
    if (absl::Status wanted = StillWanted(context, queued); !wanted.ok()) return finish(wanted);
    absl::StatusOr<CompressPlan> plan = PlanCompress(tenant, *request);
    if (!plan.ok()) return finish(plan.status());
    RunCompress(tenant, *std::move(plan), context, request, response, queued, finish);
  });
  if (!status.ok()) finish(status);
  return reactor;
}

template <typename Response>
void ContextCompressionService::RunGeneration(const std::string& tenant, model::GenerationJob job,
                                              const std::string& session_id,
                                              std::vector<std::string> stops,
                                              grpc::CallbackServerContext* context,
                                              StreamReactor<Response>* stream) const {
  const absl::Time start = absl::Now();
  DecodeScheduler* decode = scheduler_->decode_scheduler();
  // A session's cached prefix makes later calls prefill only their prompt.
  // With batched decoding the prefix of a call without a session is built
  // here too, so that the decode thread prefills only the prompt.
  const bool cacheable = !session_id.empty() && !job.instruction_reconstruction;
  const bool prefill_here =
      decode != nullptr && job.task == model::Task::kAnswer && !job.instruction_reconstruction;
  if ((cacheable || prefill_here) && job.prefix == nullptr) {
    absl::StatusOr<std::shared_ptr<const model::PrefixCache>> prefix =
        engine_->BuildPrefix(*job.memory);
    if (!prefix.ok()) return stream->Close(ToGrpcStatus(prefix.status()));
    job.prefix = *prefix;
    if (cacheable) store_->SetPrefixCache(tenant, session_id, job.memory, job.prefix);
  }
  auto sink = std::make_unique<GenerationStream<Response>>(*engine_, metrics_, job,
                                                           std::move(stops), start, stream);
  if (decode != nullptr) {
    // The decode scheduler ends the call; on refusal it never saw the stream.
    absl::Status accepted = decode->Submit(std::move(job), DeadlineOf(*context), std::move(sink));
    if (!accepted.ok()) stream->Close(ToGrpcStatus(accepted));
    return;
  }
  // Batching off: the stream decodes alone, here.
  absl::Status stopped_by;
  absl::StatusOr<std::vector<model::GenerationOutcome>> outcomes = engine_->Generate(
      {job}, [&](size_t, int32_t token) {
        metrics_->ObserveBatch(BatchKind::kDecode, 1);  // a step of a batch of one
        const bool go_on = sink->OnToken(token);
        if (stream->cancelled()) {
          stopped_by = absl::CancelledError("the client cancelled the call");
          return false;
        }
        if (context->deadline() < std::chrono::system_clock::now()) {
          stopped_by = absl::DeadlineExceededError("the call's deadline passed while generating");
          return false;
        }
        return go_on;
      });
  if (!outcomes.ok()) return sink->OnDone(outcomes.status());
  if (!stopped_by.ok()) return sink->OnDone(stopped_by);
  sink->OnDone((*outcomes)[0]);
}

grpc::ServerWriteReactor<v1::GenerateResponse>* ContextCompressionService::Generate(
    grpc::CallbackServerContext* context, const v1::GenerateRequest* request) {
  auto* stream = new StreamReactor<v1::GenerateResponse>(requests_, "Generate", context);
  const absl::StatusOr<std::string> caller = TenantOf(*context);
  absl::Status status = caller.status();
  if (status.ok()) status = ValidateGenerateRequest(*request, limits_);
  if (status.ok()) status = CheckModel(request->model());
  if (!status.ok()) {
    stream->Close(ToGrpcStatus(status));
    return stream;
  }
  const std::string tenant = *caller;
  const absl::Time queued = absl::Now();
  status = scheduler_->Run([this, request, context, stream, tenant, queued] {
    if (absl::Status wanted = StillWanted(context, queued); !wanted.ok()) {
      return stream->Close(ToGrpcStatus(wanted));
    }
    if (absl::Status s = CheckPromptLength(request->prompt()); !s.ok()) {
      return stream->Close(ToGrpcStatus(s));
    }
    model::GenerationJob job;
    job.task = model::Task::kAnswer;
    job.prompt = request->prompt();
    job.instruction_reconstruction = request->instruction_reconstruction();
    const v1::SamplingParams& s = request->sampling();
    job.sampling.max_new_tokens =
        s.max_new_tokens() > 0 ? s.max_new_tokens() : std::min(kDefaultMaxNewTokens, limits_.max_new_tokens);
    job.sampling.temperature = s.temperature();
    job.sampling.top_k = s.top_k();
    job.sampling.top_p = s.top_p() > 0 ? s.top_p() : 1.0;
    job.sampling.repetition_penalty = s.repetition_penalty() > 0 ? s.repetition_penalty() : 1.0;
    job.sampling.seed = s.has_seed() ? s.seed() : absl::ToUnixNanos(absl::Now());
    if (!request->session_id().empty()) {
      absl::StatusOr<Session> session = store_->Get(tenant, request->session_id());
      if (!session.ok()) return stream->Close(ToGrpcStatus(session.status()));
      job.memory = session->memory;
      job.prefix = session->prefix_cache;
    } else {
      absl::StatusOr<model::Method> method = ResolveMethod(request->method(), false);
      if (!method.ok()) return stream->Close(ToGrpcStatus(method.status()));
      absl::StatusOr<std::vector<int32_t>> ids = ContextIds(request->context(), {});
      if (!ids.ok()) return stream->Close(ToGrpcStatus(ids.status()));
      metrics_->ObserveBatch(BatchKind::kCompress, 1);
      auto memories = engine_->Compress(*method, {*ids});
      if (!memories.ok()) return stream->Close(ToGrpcStatus(memories.status()));
      job.memory = (*memories)[0];
      metrics_->AddCompressedTokens(model::MethodName(*method), job.memory->tokens(),
                                    job.memory->slots());
    }
    std::vector<std::string> stops(s.stop().begin(), s.stop().end());
    RunGeneration(tenant, std::move(job), request->session_id(), std::move(stops), context, stream);
  });
  if (!status.ok()) stream->Close(ToGrpcStatus(status));
  return stream;
}

grpc::ServerWriteReactor<v1::ReconstructResponse>* ContextCompressionService::Reconstruct(
    grpc::CallbackServerContext* context, const v1::ReconstructRequest* request) {
  auto* stream = new StreamReactor<v1::ReconstructResponse>(requests_, "Reconstruct", context);
  const absl::StatusOr<std::string> caller = TenantOf(*context);
  absl::Status status = caller.status();
  if (status.ok()) status = ValidateReconstructRequest(*request, limits_);
  if (status.ok() && engine_ == nullptr) status = NoModel();
  if (!status.ok()) {
    stream->Close(ToGrpcStatus(status));
    return stream;
  }
  const std::string tenant = *caller;
  const absl::Time queued = absl::Now();
  status = scheduler_->Run([this, request, context, stream, tenant, queued] {
    if (absl::Status wanted = StillWanted(context, queued); !wanted.ok()) {
      return stream->Close(ToGrpcStatus(wanted));
    }
    absl::StatusOr<Session> session = store_->Get(tenant, request->session_id());
    if (!session.ok()) return stream->Close(ToGrpcStatus(session.status()));
    model::GenerationJob job;
    job.task = model::Task::kReconstruct;
    job.memory = session->memory;
    job.prefix = nullptr;  // the cached prefix is built for answering prompts
    // About as many tokens as were compressed, with room for tokenization drift.
    const int64_t about = session->memory->tokens() + session->memory->tokens() / 8 + 8;
    job.sampling.max_new_tokens = request->max_tokens() > 0
                                      ? request->max_tokens()
                                      : static_cast<int>(std::min<int64_t>(about, limits_.max_new_tokens));
    job.sampling.min_new_tokens = model::ReconstructMinTokens(
        session->memory->tokens(), model::kDefaultReconstructMinShare, job.sampling.max_new_tokens);
    RunGeneration(tenant, std::move(job), "", {}, context, stream);
  });
  if (!status.ok()) stream->Close(ToGrpcStatus(status));
  return stream;
}

grpc::ServerUnaryReactor* ContextCompressionService::GetSession(grpc::CallbackServerContext* context,
                                                                const v1::GetSessionRequest* request,
                                                                v1::Session* response) {
  const RequestLog log(requests_, "GetSession", context);
  const absl::StatusOr<std::string> tenant = TenantOf(*context);
  absl::Status status = tenant.status();
  if (status.ok()) status = ValidateGetSessionRequest(*request);
  if (status.ok()) {
    // The info only: looking at a session does not load its memory.
    absl::StatusOr<SessionInfo> info = store_->GetInfo(*tenant, request->session_id());
    status = info.status();
    if (info.ok()) ToProto(*info, response);
  }
  return FinishUnary(context, log, status);
}

grpc::ServerUnaryReactor* ContextCompressionService::ListSessions(
    grpc::CallbackServerContext* context, const v1::ListSessionsRequest* request,
    v1::ListSessionsResponse* response) {
  const RequestLog log(requests_, "ListSessions", context);
  const absl::StatusOr<std::string> tenant = TenantOf(*context);
  absl::Status status = tenant.status();
  if (status.ok()) status = ValidateListSessionsRequest(*request);
  if (status.ok()) {
    absl::StatusOr<SessionStore::Page> page = store_->List(
        *tenant, request->page_size() > 0 ? request->page_size() : kDefaultPageSize,
        request->page_token());
    status = page.status();
    if (page.ok()) {
      for (const SessionInfo& info : page->sessions) ToProto(info, response->add_sessions());
      response->set_next_page_token(page->next_page_token);
    }
  }
  return FinishUnary(context, log, status);
}

grpc::ServerUnaryReactor* ContextCompressionService::DeleteSession(
    grpc::CallbackServerContext* context, const v1::DeleteSessionRequest* request,
    v1::DeleteSessionResponse* response) {
  const RequestLog log(requests_, "DeleteSession", context);
  const absl::StatusOr<std::string> tenant = TenantOf(*context);
  absl::Status status = tenant.status();
  if (status.ok()) status = ValidateDeleteSessionRequest(*request);
  if (status.ok()) {
    absl::StatusOr<int64_t> freed = store_->Delete(*tenant, request->session_id());
    status = freed.status();
    if (freed.ok()) response->set_bytes_freed(*freed);
  }
  return FinishUnary(context, log, status);
}

grpc::ServerUnaryReactor* ContextCompressionService::ListModels(
    grpc::CallbackServerContext* context, const v1::ListModelsRequest* /*request*/,
    v1::ListModelsResponse* response) {
  const RequestLog log(requests_, "ListModels", context);
  if (const absl::StatusOr<std::string> tenant = TenantOf(*context); !tenant.ok()) {
    return FinishUnary(context, log, tenant.status());
  }
  if (engine_ != nullptr) {
    const model::ModelDescription& d = engine_->description();
    v1::ModelInfo* m = response->add_models();
    m->set_name(d.name);
    m->set_is_default(true);
    for (model::Method method : d.methods) m->add_methods(ToProto(method));
    m->set_architecture(d.architecture);
    m->set_vocab_size(static_cast<int32_t>(d.vocab_size));
    m->set_hidden_size(static_cast<int32_t>(d.hidden_size));
    m->set_num_layers(static_cast<int32_t>(d.num_layers));
    m->set_rcc_ratio(static_cast<int32_t>(d.rcc_ratio));
    m->set_rcc_segment_tokens(static_cast<int32_t>(d.rcc_segment_tokens));
    m->set_icformer_digests(static_cast<int32_t>(d.icformer_digests));
    m->set_icformer_chunk_tokens(static_cast<int32_t>(d.icformer_chunk_tokens));
    m->set_storage_dtype(d.storage_dtype);
    m->set_device(d.device);
  }
  return FinishUnary(context, log, absl::OkStatus());
}

}  // namespace ccs::server
