#pragma once
// Who a request comes from, and the Authenticator that tells: the token file (this file) or
// Keystone (controller/auth/). The token file: one "<token> <role> [<name>]" per line, '#'
// comments. Roles: admin, member, agent, metrics (Prometheus: GET /metrics and nothing else).
// Read once at start; a restart picks up changes.
#include <optional>
#include <string>
#include <unordered_map>

#include "common/clock.hpp"

namespace ferry {

// kReader: Nova's reader role, GET only. kMetrics: a scraper (the token file's "metrics"), which
// may read /metrics and nothing else. kNone: a valid Keystone token with none of the roles
// ferry knows; it is refused (403) everywhere but the public routes.
enum class Role { kAdmin, kMember, kReader, kAgent, kMetrics, kNone };

struct Principal {
  // The token file knows one name per token: it is the user and the project too.
  Principal(Role r, std::string n) : role(r), name(n), project_id(n), user_id(std::move(n)) {}
  Principal(Role r, std::string n, std::string project, std::string user)
      : role(r), name(std::move(n)), project_id(std::move(project)), user_id(std::move(user)) {}

  Role role;
  std::string name;        // for logs: the token file's name or Keystone's user name
  std::string project_id;  // what servers and server groups belong to
  std::string user_id;
  // When the token stops being valid, as its issuer said (Keystone's expires_at); nullopt: it
  // does not expire (the token file's). A dashboard session ends by then.
  std::optional<TimePoint> expires_at;
};

// Tells who holds a token. Authenticate may block (Keystone: an HTTP call) and so runs only on
// worker threads; Peek answers from memory and runs before a request's body is read.
class Authenticator {
 public:
  struct Known {
    std::optional<Principal> principal;  // nullopt: the token is refused (401)
  };
  virtual ~Authenticator() = default;
  // nullopt: not a valid token (401). Throws ferry::Error(kUnavailable) when whoever decides
  // cannot be asked (Keystone down): that request gets 503, never an accepted token.
  virtual std::optional<Principal> Authenticate(const std::string& token) const = 0;
  // Without blocking: the answer when memory holds it, nullopt when only Authenticate knows.
  virtual std::optional<Known> Peek(const std::string& token) const = 0;
};

class TokenTable final : public Authenticator {
 public:
  static TokenTable LoadFile(const std::string& path);  // throws std::runtime_error
  void Add(const std::string& token, Principal p) { tokens_.insert_or_assign(token, std::move(p)); }
  std::optional<Principal> Find(const std::string& token) const;
  // Calls fn(token, principal) for every token: the dashboard keeps only their SHA-256s.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const auto& [token, principal] : tokens_) fn(token, principal);
  }

  std::optional<Principal> Authenticate(const std::string& token) const override {
    return Find(token);
  }
  std::optional<Known> Peek(const std::string& token) const override { return Known{Find(token)}; }

 private:
  std::unordered_map<std::string, Principal> tokens_;
};

}  // namespace ferry
