#pragma once
// How an agent answered an HTTP request, in the classes a caller must tell apart (review M1):
// nobody answered, the agent refused with a reason, the agent does not accept our credentials
// (a misconfiguration, never transient), a conflict, a command still running, or the agent
// failed. Pure: unit-tested without a network.
#include <string>
#include <string_view>

#include "common/errors.hpp"

namespace ferry::controller::agent_client {

enum class AgentAnswer {
  kOk,            // 200: the answer
  kInProgress,    // 202: the same command id is still running there; ask again later
  kUnreachable,   // no HTTP answer: connect refused, timeout, reset
  kRefused,       // 400, 404, other 4xx: the request was wrong; the agent says why
  kUnauthorized,  // 401, 403: the command token does not match; an operator must fix it
  kConflict,      // 409: the agent's state forbids it (a reused command id)
  kFenced,        // 409 with X-Ferry-Fence: stale: the agent saw a newer lease epoch for this
                  // migration; another controller drives it. Stop acting, never retry.
  kServerError,   // 5xx or a garbled body: the agent failed; it may work next time
};

// transport_ok: an HTTP status line arrived at all. fence_stale: the answer carried
// X-Ferry-Fence: stale (wire::LeaseFence).
AgentAnswer ClassifyAgentAnswer(bool transport_ok, int http_status, bool fence_stale = false);
std::string_view ToString(AgentAnswer a);
// The message of the agent's Nova-style fault body {"<name>": {"code", "message"}}, or the raw
// body (bounded) when it is not one.
std::string FaultMessage(const std::string& body);

// Thrown by AgentClient for every answer but kOk. code() follows the class (kUnavailable for
// unreachable, in progress and server errors: worth retrying; kBadRequest, kUnauthorized,
// kConflict (also for kFenced): not).
class AgentError : public Error {
 public:
  AgentError(AgentAnswer answer, const std::string& message);
  AgentAnswer answer() const { return answer_; }
  // Worth trying the same command again later (the outcome is not known yet).
  bool Retryable() const;

 private:
  AgentAnswer answer_;
};

}  // namespace ferry::controller::agent_client
