#pragma once
// Dashboard sessions: a token posted to /dashboard/login becomes a random 256-bit session id in
// an HttpOnly, SameSite=Strict cookie. PostgreSQL keeps only the id's SHA-256 with who logged
// in (dashboard_sessions), so any controller replica, and this one after a restart, knows it;
// a session ends when idle too long, at its absolute end, or at logout. A session never outlives
// its token: the row keeps the token's SHA-256 (never the token); with the token file the
// session is valid only while this controller's token file still holds that token with the same
// role, and with Keystone it ends when the token does (Keystone's expires_at), 1 h after login
// at the latest.
#include <chrono>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/log_throttle.hpp"
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

// 1 h: Keystone's default token lifetime ([token] expiration = 3600). A Keystone session ends
// this long after login at most, whatever the token's own expiry: a session is never checked
// with Keystone again, so this bounds how long a revoked token's session lives.
inline constexpr std::chrono::seconds kKeystoneTokenLifetime{3600};

// How long a session of `who` lives: `option` (the lifetime flag), never past the token's own
// expiry (rounded down; 0 when it has passed) and, for a Keystone token, at most
// kKeystoneTokenLifetime.
std::chrono::seconds SessionLifetime(std::chrono::seconds option, bool keystone,
                                     const std::optional<TimePoint>& token_expires_at,
                                     TimePoint now);
// 20 live sessions per user and project at most: a login beyond deletes that user's oldest.
inline constexpr int kMaxSessionsPerUser = 20;

class Sessions final : public api::SessionAuthenticator {
 public:
  // reads: the dashboard's read-only pool, where each request's session is looked up; writes:
  // the sessions' own pool (store::DashboardSessionPool), for logins, logouts and a session's
  // last_seen_at (every kSessionTouchEvery at most), apart from the API's connections.
  Sessions(store::Database& reads, store::Database& writes, SessionOptions options)
      : reads_(reads), writes_(writes), options_(options) {}

  // Before serving (RegisterDashboardRoutes): the token file's tokens, as SHA-256 -> who, so a
  // session is checked against the current file without a token in memory twice; keystone:
  // sessions come from Keystone's tokens instead (their lifetime is capped).
  void BindTokens(const TokenTable& tokens, bool keystone);

  bool HasSessionCookie(const http::Request& head) const override;
  std::optional<Principal> Authenticate(const http::Request& req) const override;

  // A new session for `who`; returns the Set-Cookie header's value. Ended sessions are
  // deleted on the way (a bounded batch per login).
  // `token`: what logged in; only its SHA-256 is stored. The user's oldest sessions beyond
  // kMaxSessionsPerUser - 1 are deleted in the same transaction.
  std::string Create(const Principal& who, const std::string& token,
                     const http::Request& req) const;
  // Deletes the request's session, if any; returns the Set-Cookie value that clears it.
  std::string End(const http::Request& req) const;

  const SessionOptions& options() const { return options_; }

 private:
  bool Secure(const http::Request& req) const;

  store::Database& reads_;
  store::Database& writes_;
  const SessionOptions options_;
  bool keystone_ = false;
  // Token file: SHA-256 (hex) of each token -> who holds it. Filled before serving, read-only.
  std::unordered_map<std::string, Principal> tokens_;
  // With the database away every request's touch fails: one warning a minute, not one each.
  mutable LogThrottle touch_failures_{std::chrono::minutes(1)};
};

// The session id of a Cookie header value: 64 lower-case hex digits, nullopt otherwise.
std::optional<std::string> SessionIdFromCookie(const std::string& cookie_header);
// SHA-256 of the id (or of a token) as 64 hex digits: what the database stores instead.
std::string SessionDigest(const std::string& id);

}  // namespace ferry::controller::web
