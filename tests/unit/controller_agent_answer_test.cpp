// controller/agent_client: every agent answer falls in one class a step can act on (review M1):
// no answer, in progress, refused with the agent's reason, unauthorized (misconfiguration),
// conflict, server error. Only no answer, in progress and server errors are worth retrying.
#include <gtest/gtest.h>

#include "controller/agent_client/agent_answer.hpp"

namespace ferry::controller::agent_client {
namespace {

TEST(AgentAnswerClassification, EachHttpStatusFallsInItsClass) {
  EXPECT_EQ(ClassifyAgentAnswer(false, 0), AgentAnswer::kUnreachable);
  EXPECT_EQ(ClassifyAgentAnswer(true, 200), AgentAnswer::kOk);
  EXPECT_EQ(ClassifyAgentAnswer(true, 202), AgentAnswer::kInProgress);
  EXPECT_EQ(ClassifyAgentAnswer(true, 400), AgentAnswer::kRefused);
  EXPECT_EQ(ClassifyAgentAnswer(true, 404), AgentAnswer::kRefused);
  EXPECT_EQ(ClassifyAgentAnswer(true, 413), AgentAnswer::kRefused);
  EXPECT_EQ(ClassifyAgentAnswer(true, 401), AgentAnswer::kUnauthorized);
  EXPECT_EQ(ClassifyAgentAnswer(true, 403), AgentAnswer::kUnauthorized);
  EXPECT_EQ(ClassifyAgentAnswer(true, 409), AgentAnswer::kConflict);
  // 409 with X-Ferry-Fence: stale (review M2): another controller holds the lease now.
  EXPECT_EQ(ClassifyAgentAnswer(true, 409, true), AgentAnswer::kFenced);
  EXPECT_FALSE(AgentError(AgentAnswer::kFenced, "stale").Retryable());
  EXPECT_EQ(AgentError(AgentAnswer::kFenced, "stale").code(), Errc::kConflict);
  EXPECT_EQ(ClassifyAgentAnswer(true, 500), AgentAnswer::kServerError);
  EXPECT_EQ(ClassifyAgentAnswer(true, 503), AgentAnswer::kServerError);
  // Nothing an agent sends: not usable, and not a refusal either.
  EXPECT_EQ(ClassifyAgentAnswer(true, 302), AgentAnswer::kServerError);
  EXPECT_EQ(ClassifyAgentAnswer(true, 204), AgentAnswer::kServerError);
}

TEST(AgentAnswerClassification, OnlyAnswersThatMayChangeAreRetried) {
  EXPECT_TRUE(AgentError(AgentAnswer::kUnreachable, "x").Retryable());
  EXPECT_TRUE(AgentError(AgentAnswer::kInProgress, "x").Retryable());
  EXPECT_TRUE(AgentError(AgentAnswer::kServerError, "x").Retryable());
  EXPECT_FALSE(AgentError(AgentAnswer::kRefused, "x").Retryable());
  EXPECT_FALSE(AgentError(AgentAnswer::kUnauthorized, "x").Retryable());
  EXPECT_FALSE(AgentError(AgentAnswer::kConflict, "x").Retryable());
  EXPECT_EQ(AgentError(AgentAnswer::kRefused, "x").code(), Errc::kBadRequest);
  EXPECT_EQ(AgentError(AgentAnswer::kUnauthorized, "x").code(), Errc::kUnauthorized);
  EXPECT_EQ(AgentError(AgentAnswer::kConflict, "x").code(), Errc::kConflict);
  EXPECT_EQ(AgentError(AgentAnswer::kUnreachable, "x").code(), Errc::kUnavailable);
}

TEST(AgentAnswerClassification, TheAgentsReasonIsTakenFromItsFaultBody) {
  EXPECT_EQ(FaultMessage(R"({"badRequest": {"code": 400, "message": "unknown command kind 'x'"}})"),
            "unknown command kind 'x'");
  EXPECT_EQ(FaultMessage("plain text"), "plain text");
  EXPECT_EQ(FaultMessage(std::string(4096, 'a')).size(), 512u);
}

}  // namespace
}  // namespace ferry::controller::agent_client
