#pragma once
// Dashboard sessions: a token posted to /dashboard/login becomes a random 256-bit session id in
// an HttpOnly, SameSite=Strict cookie. PostgreSQL keeps only the id's SHA-256 with who logged
// in (dashboard_sessions), so any controller replica, and this one after a restart, knows it;
// a session ends when idle too long, at its absolute end, or at logout.
#include <chrono>
#include <optional>
#include <string>

#include "common/tokens.hpp"
#include "controller/api/api_server.hpp"

namespace ferry::controller::store {
class Database;
}

namespace ferry::controller::web {

struct SessionOptions {
  // 30 min without a request ends a session: OWASP's session management cheat sheet puts idle
  // timeouts at 15-30 min; an open page polls every 2 s, so only a closed one goes idle.
  std::chrono::seconds idle{30 * 60};
  // 12 h after login at most: one on-call shift, then the token is asked for again (OWASP
  // suggests 4-8 h for ordinary applications; an operator's wall screen runs a shift).
  std::chrono::seconds lifetime{12 * 3600};
  // Secure on every cookie (--dashboard-secure-cookie): behind a TLS-terminating proxy that
  // sends no X-Forwarded-Proto. A request with `X-Forwarded-Proto: https` gets it anyway.
  bool secure_cookie = false;
};

// "ferry_session": the cookie's name, Path=/dashboard.
inline constexpr const char* kSessionCookie = "ferry_session";

class Sessions final : public api::SessionAuthenticator {
 public:
  Sessions(store::Database& db, SessionOptions options) : db_(db), options_(options) {}

  bool HasSessionCookie(const http::Request& head) const override;
  std::optional<Principal> Authenticate(const http::Request& req) const override;

  // A new session for `who`; returns the Set-Cookie header's value. Ended sessions are
  // deleted on the way (a bounded batch per login).
  std::string Create(const Principal& who, const http::Request& req) const;
  // Deletes the request's session, if any; returns the Set-Cookie value that clears it.
  std::string End(const http::Request& req) const;

  const SessionOptions& options() const { return options_; }

 private:
  bool Secure(const http::Request& req) const;

  store::Database& db_;
  const SessionOptions options_;
};

// The session id of a Cookie header value: 64 lower-case hex digits, nullopt otherwise.
std::optional<std::string> SessionIdFromCookie(const std::string& cookie_header);
// SHA-256 of the id as 64 hex digits: what the database stores instead of the id.
std::string SessionDigest(const std::string& id);

}  // namespace ferry::controller::web
