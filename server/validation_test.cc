#include "server/validation.h"

#include <cmath>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccs::server {
namespace {

using ::testing::HasSubstr;

constexpr char kId[] = "0123456789abcdef0123456789abcdef";

MATCHER_P(IsInvalid, fragment, "") {
  return arg.code() == absl::StatusCode::kInvalidArgument &&
         std::string(arg.message()).find(fragment) != std::string::npos;
}

TEST(ValidateSessionIdTest, AcceptsOnly32LowercaseHexDigits) {
  EXPECT_TRUE(ValidateSessionId(kId, "session_id").ok());
  for (const char* bad : {"", "0123", "0123456789ABCDEF0123456789abcdef",
                          "0123456789abcdef0123456789abcdeg",
                          "0123456789abcdef0123456789abcdef0"}) {
    EXPECT_THAT(ValidateSessionId(bad, "session_id"),
                IsInvalid("32 lowercase hex"))
        << bad;
  }
}

TEST(ValidateSessionIdTest, QuotesLongOrBinaryIdsSafely) {
  const absl::Status status =
      ValidateSessionId(std::string(1000, 'x') + "\n\x01", "session_id");
  EXPECT_LT(status.message().size(), 200u);
  EXPECT_THAT(std::string(status.message()), HasSubstr("...\""));
}

TEST(ValidateCompressRequestTest, NeedsExactlyOneInput) {
  const RequestLimits limits;
  v1::CompressRequest request;
  EXPECT_THAT(ValidateCompressRequest(request, limits),
              IsInvalid("the context is empty"));
  request.set_text("hello");
  EXPECT_TRUE(ValidateCompressRequest(request, limits).ok());
  request.add_token_ids(5);
  EXPECT_THAT(ValidateCompressRequest(request, limits),
              IsInvalid("both text and token_ids"));
  request.clear_text();
  EXPECT_TRUE(ValidateCompressRequest(request, limits).ok());
}

TEST(ValidateCompressRequestTest, ChecksEncodingIdsMethodAndSession) {
  RequestLimits limits;
  limits.max_context_tokens = 3;
  v1::CompressRequest request;
  request.set_text("ok \xC3(");
  EXPECT_THAT(ValidateCompressRequest(request, limits), IsInvalid("offset 3"));

  request.clear_text();
  for (int id : {1, 2, 3, 4}) request.add_token_ids(id);
  EXPECT_THAT(ValidateCompressRequest(request, limits),
              IsInvalid("at most 3"));
  request.clear_token_ids();
  request.add_token_ids(-7);
  EXPECT_THAT(ValidateCompressRequest(request, limits),
              IsInvalid("token_ids[0] is -7"));

  request.clear_token_ids();
  request.set_text("fine");
  request.set_method(static_cast<v1::Method>(42));
  EXPECT_THAT(ValidateCompressRequest(request, limits),
              IsInvalid("method is 42"));
  request.set_method(v1::METHOD_RCC);
  request.set_session_id("nope");
  EXPECT_THAT(ValidateCompressRequest(request, limits),
              IsInvalid("session_id"));
  request.set_session_id(kId);
  EXPECT_TRUE(ValidateCompressRequest(request, limits).ok());
  request.set_model(std::string(300, 'm'));
  EXPECT_THAT(ValidateCompressRequest(request, limits), IsInvalid("model"));
}

TEST(ValidateCompressRequestTest, ExpectedSessionTokensNeedAnAppend) {
  v1::CompressRequest request;
  request.set_text("fine");
  request.set_expected_session_tokens(12);
  EXPECT_THAT(ValidateCompressRequest(request, RequestLimits()),
              IsInvalid("expected_session_tokens applies to appends"));
  request.set_session_id(kId);
  EXPECT_TRUE(ValidateCompressRequest(request, RequestLimits()).ok());
  request.set_expected_session_tokens(-1);
  EXPECT_THAT(ValidateCompressRequest(request, RequestLimits()),
              IsInvalid("expected_session_tokens is -1"));
}

v1::GenerateRequest ValidGenerate() {
  v1::GenerateRequest request;
  request.set_session_id(kId);
  request.set_prompt("What happened?");
  return request;
}

TEST(ValidateGenerateRequestTest, SessionXorContext) {
  const RequestLimits limits;
  v1::GenerateRequest request = ValidGenerate();
  EXPECT_TRUE(ValidateGenerateRequest(request, limits).ok());
  request.set_context("inline");
  EXPECT_THAT(ValidateGenerateRequest(request, limits),
              IsInvalid("both session_id and context"));
  request.clear_session_id();
  EXPECT_TRUE(ValidateGenerateRequest(request, limits).ok());
  request.clear_context();
  EXPECT_THAT(ValidateGenerateRequest(request, limits),
              IsInvalid("neither session_id nor context"));
}

TEST(ValidateGenerateRequestTest, ModelAndMethodOnlyWithInlineContext) {
  v1::GenerateRequest request = ValidGenerate();
  request.set_method(v1::METHOD_RCC);
  EXPECT_THAT(ValidateGenerateRequest(request, RequestLimits()),
              IsInvalid("inline context only"));
}

TEST(ValidateGenerateRequestTest, PromptMustBeNonEmptyUtf8) {
  v1::GenerateRequest request = ValidGenerate();
  request.set_prompt("");
  EXPECT_THAT(ValidateGenerateRequest(request, RequestLimits()),
              IsInvalid("prompt is empty"));
  request.set_prompt("\xE2\x82");
  EXPECT_THAT(ValidateGenerateRequest(request, RequestLimits()),
              IsInvalid("prompt is not valid UTF-8"));
}

TEST(ValidateGenerateRequestTest, SamplingRanges) {
  RequestLimits limits;
  limits.max_new_tokens = 50;
  struct Case {
    void (*set)(v1::SamplingParams*);
    const char* fragment;
  };
  const Case cases[] = {
      {[](v1::SamplingParams* s) { s->set_max_new_tokens(51); }, "use 1 to 50"},
      {[](v1::SamplingParams* s) { s->set_max_new_tokens(-1); }, "max_new_tokens"},
      {[](v1::SamplingParams* s) { s->set_temperature(2.5); }, "temperature"},
      {[](v1::SamplingParams* s) { s->set_temperature(NAN); }, "temperature"},
      {[](v1::SamplingParams* s) { s->set_top_k(-1); }, "top_k"},
      {[](v1::SamplingParams* s) { s->set_top_p(1.5); }, "top_p"},
      {[](v1::SamplingParams* s) { s->set_repetition_penalty(-1); },
       "repetition_penalty"},
      {[](v1::SamplingParams* s) { s->set_repetition_penalty(INFINITY); },
       "repetition_penalty"},
      {[](v1::SamplingParams* s) {
         for (int i = 0; i < 9; ++i) s->add_stop("x");
       },
       "at most 8"},
      {[](v1::SamplingParams* s) { s->add_stop(""); }, "stop[0] has 0 bytes"},
      {[](v1::SamplingParams* s) { s->add_stop(std::string(257, 's')); },
       "stop[0] has 257 bytes"},
      {[](v1::SamplingParams* s) { s->add_stop("\xff"); }, "stop[0] is not"},
  };
  for (const Case& c : cases) {
    v1::GenerateRequest request = ValidGenerate();
    c.set(request.mutable_sampling());
    EXPECT_THAT(ValidateGenerateRequest(request, limits), IsInvalid(c.fragment))
        << c.fragment;
  }
  v1::GenerateRequest request = ValidGenerate();
  v1::SamplingParams& s = *request.mutable_sampling();
  s.set_max_new_tokens(50);
  s.set_temperature(0.7);
  s.set_top_k(40);
  s.set_top_p(0.9);
  s.set_repetition_penalty(1.1);
  s.add_stop("\n\n");
  s.set_seed(7);
  EXPECT_TRUE(ValidateGenerateRequest(request, limits).ok());
}

TEST(ValidateReconstructRequestTest, SessionAndMaxTokens) {
  RequestLimits limits;
  limits.max_new_tokens = 10;
  v1::ReconstructRequest request;
  EXPECT_THAT(ValidateReconstructRequest(request, limits),
              IsInvalid("session_id"));
  request.set_session_id(kId);
  EXPECT_TRUE(ValidateReconstructRequest(request, limits).ok());
  request.set_max_tokens(11);
  EXPECT_THAT(ValidateReconstructRequest(request, limits),
              IsInvalid("max_tokens is 11"));
}

TEST(ValidateSessionRequestsTest, IdsAndPageSize) {
  v1::GetSessionRequest get;
  EXPECT_THAT(ValidateGetSessionRequest(get), IsInvalid("session_id"));
  get.set_session_id(kId);
  EXPECT_TRUE(ValidateGetSessionRequest(get).ok());
  v1::DeleteSessionRequest del;
  EXPECT_THAT(ValidateDeleteSessionRequest(del), IsInvalid("session_id"));
  v1::ListSessionsRequest list;
  EXPECT_TRUE(ValidateListSessionsRequest(list).ok());
  list.set_page_size(1001);
  EXPECT_THAT(ValidateListSessionsRequest(list), IsInvalid("page_size"));
}

}  // namespace
}  // namespace ccs::server
