#pragma once
// Blocking calls to Keystone's v3 API for the controller: its own service token (password,
// project-scoped; renewed before it expires or when Keystone says 401) and the validation of
// callers' tokens (GET /v3/auth/tokens). Called from API worker threads.
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/errors.hpp"
#include "common/tokens.hpp"

namespace ferry::controller::auth {

struct KeystoneOptions {
  std::string url;  // Keystone's v3 root, e.g. http://127.0.0.1:5000/v3
  // The service user: what deploy/keystone register-compute creates, keystonemiddleware's
  // [keystone_authtoken] username/project_name in Nova's setups.
  std::string service_user = "ferry";
  std::string service_password;
  std::string service_project = "service";
  std::string service_domain = "Default";  // both the user's and the project's domain
  // 5 s for connect and 5 s for the whole exchange: Keystone answers a validation on loopback
  // in milliseconds; a caller should get 503 quickly rather than hold an API worker (of 16)
  // while Keystone hangs. keystonemiddleware's http_connect_timeout has no default; 5 s is ours.
  std::chrono::milliseconds timeout{5000};
  // 1 MiB: a token validated with nocatalog is a few KiB even with many roles; the service
  // token's answer has the catalog, some KiB per service. More means a broken peer.
  size_t max_response_bytes = 1 << 20;
};

// Keystone cannot be asked now (no answer in time, a 5xx, the service user's login failed):
// 503, and the authenticator stops asking for a moment. Only Keystone's own state raises it,
// never a caller's token: a token Keystone will not judge is that caller's problem alone.
class KeystoneDown : public Error {
 public:
  explicit KeystoneDown(const std::string& message) : Error(Errc::kUnavailable, message) {}
};

// A validated token: who, and until when Keystone says it is good.
struct ValidatedToken {
  Principal principal;
  TimePoint expires_at;
};

// Maps Keystone's role names to ferry's: admin, then member, then reader (Nova's defaults);
// none of those is Role::kNone (403).
Role RoleFromKeystone(const std::vector<std::string>& roles);

class KeystoneClient {
 public:
  KeystoneClient(KeystoneOptions options, const Clock& clock);

  // nullopt: Keystone says the token is not valid (404) or it has expired. Throws
  // KeystoneDown when Keystone cannot be asked, Error(kUnauthorized) when it refuses to look
  // at the token (another 4xx), Error(kUnavailable) for an answer that is no verdict (a
  // malformed body, 429).
  std::optional<ValidatedToken> Validate(const std::string& token) const;

 private:
  struct ServiceToken {
    std::string id;
    TimePoint expires_at;
  };
  std::string ServiceTokenId(bool renew) const;
  ServiceToken IssueServiceToken() const;

  const KeystoneOptions options_;
  const Clock& clock_;
  std::string base_;       // scheme://host:port
  std::string prefix_;     // the path of the v3 root, "/v3"
  mutable std::mutex mu_;  // guards service_
  mutable std::optional<ServiceToken> service_;
  // Until when a failed login is not tried again (guarded by mu_): callers that queued on mu_
  // behind a login that timed out get 503 at once instead of each waiting out its own.
  mutable TimePoint login_failed_until_{};
};

}  // namespace ferry::controller::auth
