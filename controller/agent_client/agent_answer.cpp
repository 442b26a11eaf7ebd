#include "controller/agent_client/agent_answer.hpp"

#include <nlohmann/json.hpp>

namespace ferry::controller::agent_client {
namespace {

// 512 bytes: enough for any agent's reason; a body that is not a fault is only a hint.
constexpr size_t kMaxRawBodyInMessage = 512;

Errc CodeOf(AgentAnswer a) {
  switch (a) {
    case AgentAnswer::kOk:
      return Errc::kInternal;  // never thrown
    case AgentAnswer::kRefused:
      return Errc::kBadRequest;
    case AgentAnswer::kUnauthorized:
      return Errc::kUnauthorized;
    case AgentAnswer::kConflict:
    case AgentAnswer::kFenced:
      return Errc::kConflict;
    case AgentAnswer::kInProgress:
    case AgentAnswer::kUnreachable:
    case AgentAnswer::kServerError:
      return Errc::kUnavailable;
  }
  return Errc::kUnavailable;
}

}  // namespace

AgentAnswer ClassifyAgentAnswer(bool transport_ok, int http_status, bool fence_stale) {
  if (!transport_ok) return AgentAnswer::kUnreachable;
  if (http_status == 200) return AgentAnswer::kOk;
  if (http_status == 202) return AgentAnswer::kInProgress;
  if (http_status == 401 || http_status == 403) return AgentAnswer::kUnauthorized;
  if (http_status == 409) return fence_stale ? AgentAnswer::kFenced : AgentAnswer::kConflict;
  if (http_status >= 400 && http_status < 500) return AgentAnswer::kRefused;
  // 5xx, and anything an agent never sends (1xx, other 2xx, 3xx): its answer cannot be used.
  return AgentAnswer::kServerError;
}

std::string_view ToString(AgentAnswer a) {
  switch (a) {
    case AgentAnswer::kOk:
      return "ok";
    case AgentAnswer::kInProgress:
      return "in progress";
    case AgentAnswer::kUnreachable:
      return "unreachable";
    case AgentAnswer::kRefused:
      return "refused";
    case AgentAnswer::kUnauthorized:
      return "unauthorized";
    case AgentAnswer::kConflict:
      return "conflict";
    case AgentAnswer::kFenced:
      return "fenced";
    case AgentAnswer::kServerError:
      return "server error";
  }
  return "?";
}

std::string FaultMessage(const std::string& body) {
  auto fault = nlohmann::json::parse(body, nullptr, false);
  if (fault.is_object() && fault.size() == 1) {
    const auto& inner = fault.begin().value();
    if (inner.is_object() && inner.contains("message") && inner["message"].is_string()) {
      return inner["message"].get<std::string>();
    }
  }
  return body.substr(0, kMaxRawBodyInMessage);
}

AgentError::AgentError(AgentAnswer answer, const std::string& message)
    : Error(CodeOf(answer), message), answer_(answer) {}

bool AgentError::Retryable() const {
  return answer_ == AgentAnswer::kUnreachable || answer_ == AgentAnswer::kInProgress ||
         answer_ == AgentAnswer::kServerError;
}

}  // namespace ferry::controller::agent_client
