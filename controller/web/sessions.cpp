#include "controller/web/sessions.hpp"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <stdexcept>

#include "common/errors.hpp"
#include "common/http/message.hpp"
#include "common/secure_random.hpp"
#include "controller/store/dashboard_store.hpp"
#include "controller/store/database.hpp"

namespace ferry::controller::web {
namespace {

// 32 bytes: a 256-bit id, beyond guessing (OWASP asks for at least 64 bits of entropy).
constexpr size_t kSessionIdBytes = 32;
// 1000 ended sessions deleted per login at most: the clean-up never makes a login slow, and
// logins outnumber sessions that end, so the table does not grow.
constexpr int kCleanupBatch = 1000;

bool IsLowerHex(const std::string& s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string RoleName(Role r) {
  switch (r) {
    case Role::kAdmin:
      return "admin";
    case Role::kMember:
      return "member";
    case Role::kReader:
      return "reader";
    default:
      throw std::invalid_argument("this role has no dashboard session");
  }
}

std::optional<Role> RoleFrom(const std::string& s) {
  if (s == "admin") return Role::kAdmin;
  if (s == "member") return Role::kMember;
  if (s == "reader") return Role::kReader;
  return std::nullopt;
}

}  // namespace

std::optional<std::string> SessionIdFromCookie(const std::string& header) {
  // "a=1; ferry_session=<id>; b=2": the first cookie of that name.
  const std::string name = std::string(kSessionCookie) + "=";
  size_t pos = 0;
  while (pos < header.size()) {
    while (pos < header.size() && (header[pos] == ' ' || header[pos] == ';')) ++pos;
    size_t end = header.find(';', pos);
    if (end == std::string::npos) end = header.size();
    if (header.compare(pos, name.size(), name) == 0) {
      std::string value = header.substr(pos + name.size(), end - pos - name.size());
      while (!value.empty() && value.back() == ' ') value.pop_back();
      if (value.size() != 2 * kSessionIdBytes || !IsLowerHex(value)) return std::nullopt;
      return value;
    }
    pos = end;
  }
  return std::nullopt;
}

std::string SessionDigest(const std::string& id) {
  std::array<unsigned char, 32> digest{};
  unsigned int length = 0;
  if (EVP_Digest(id.data(), id.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1 ||
      length != digest.size()) {
    throw std::runtime_error("SHA-256 failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

bool Sessions::HasSessionCookie(const http::Request& head) const {
  auto cookie = head.Header("Cookie");
  return cookie && SessionIdFromCookie(*cookie).has_value();
}

std::optional<Principal> Sessions::Authenticate(const http::Request& req) const {
  auto cookie = req.Header("Cookie");
  auto id = cookie ? SessionIdFromCookie(*cookie) : std::nullopt;
  if (!id) return std::nullopt;
  const std::string digest = SessionDigest(*id);
  std::optional<store::FoundDashboardSession> session;
  reads_.ReadOneStatement(
      [&](store::Tx& tx) { session = store::FindDashboardSession(tx, digest, options_.idle); });
  if (!session) return std::nullopt;
  const store::DashboardSession* found = &session->session;
  auto role = RoleFrom(found->role);
  if (!role) return std::nullopt;
  if (!keystone_) {
    // The token that logged in must still be in the token file, with the same role and name:
    // removing a token (and restarting) ends its sessions.
    auto it = tokens_.find(found->token_sha256_hex);
    if (it == tokens_.end() || it->second.role != *role ||
        it->second.project_id != found->project_id || it->second.user_id != found->user_id) {
      return std::nullopt;
    }
  }
  if (session->touch_due) {
    // Only a valid session is touched. A touch that fails (its pool busy, the database slow)
    // costs the session nothing but an idle end up to kSessionTouchEvery sooner, and the next
    // request tries again: the request is served anyway.
    try {
      writes_.Transact([&](store::Tx& tx) { store::TouchDashboardSession(tx, digest); });
    } catch (const std::exception& e) {
      if (auto held_back = touch_failures_.Allow(LogThrottle::Clock::now())) {
        spdlog::warn(
            "dashboard: a session's last-seen time was not saved: {} ({} more failed touches "
            "not logged since the last warning)",
            e.what(), *held_back);
      }
    }
  }
  return Principal(*role, found->name, found->project_id, found->user_id);
}

void Sessions::BindTokens(const TokenTable& tokens, bool keystone) {
  keystone_ = keystone;
  tokens_.clear();
  tokens.ForEach([this](const std::string& token, const Principal& who) {
    tokens_.insert_or_assign(SessionDigest(token), who);
  });
}

std::chrono::seconds SessionLifetime(std::chrono::seconds option, bool keystone,
                                     const std::optional<TimePoint>& token_expires_at,
                                     TimePoint now) {
  auto lifetime = keystone ? std::min(option, kKeystoneTokenLifetime) : option;
  if (token_expires_at) {
    // Rounded down (and the row's end is the database's now() plus this, a little later than
    // `now`): the session outlives the token by at most the login's own duration.
    const auto left = std::chrono::floor<std::chrono::seconds>(*token_expires_at - now);
    lifetime = std::min(lifetime, std::max(left, std::chrono::seconds(0)));
  }
  return lifetime;
}

bool Sessions::Secure(const http::Request& req) const {
  if (options_.secure_cookie) return true;
  // A TLS-terminating proxy in front says so; a client that sends it itself only makes its
  // own cookie stricter.
  auto proto = req.Header("X-Forwarded-Proto");
  return proto && *proto == "https";
}

std::string Sessions::Create(const Principal& who, const std::string& token,
                             const http::Request& req) const {
  const auto lifetime = SessionLifetime(options_.lifetime, keystone_, who.expires_at,
                                        std::chrono::system_clock::now());
  if (lifetime.count() == 0) throw Error(Errc::kUnauthorized, "The token has expired.");
  const std::string id = SecureRandomHex(kSessionIdBytes);
  store::DashboardSession s{RoleName(who.role), who.project_id, who.user_id, who.name,
                            SessionDigest(token)};
  int64_t trimmed = 0;
  writes_.Transact([&](store::Tx& tx) {
    store::DeleteEndedDashboardSessions(tx, options_.idle, kCleanupBatch);
    trimmed =
        store::InsertDashboardSession(tx, SessionDigest(id), s, lifetime, kMaxSessionsPerUser);
  });
  spdlog::info("dashboard login user={} project={} role={} peer={} older_sessions_ended={}",
               who.name, who.project_id, s.role, req.remote_addr, trimmed);
  return std::string(kSessionCookie) + "=" + id +
         "; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=" +
         std::to_string(lifetime.count()) + (Secure(req) ? "; Secure" : "");
}

std::string Sessions::End(const http::Request& req) const {
  auto cookie = req.Header("Cookie");
  if (auto id = cookie ? SessionIdFromCookie(*cookie) : std::nullopt) {
    const std::string digest = SessionDigest(*id);
    writes_.Transact([&](store::Tx& tx) { store::DeleteDashboardSession(tx, digest); });
  }
  return std::string(kSessionCookie) + "=; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=0" +
         (Secure(req) ? "; Secure" : "");
}

}  // namespace ferry::controller::web
