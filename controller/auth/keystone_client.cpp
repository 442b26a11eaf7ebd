#include "controller/auth/keystone_client.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/errors.hpp"
#include "common/json_limits.hpp"
#include "common/time_format.hpp"

namespace ferry::controller::auth {
namespace {

using nlohmann::json;

// keystoneauth renews a token that has less than 120 s to live (MIN_TOKEN_LIFE_SECONDS); a
// short-lived token (tests) is renewed once half of its life has passed instead.
constexpr std::chrono::seconds kRenewMargin{120};
// 2 s without a new login after one failed: as KeystoneAuthenticator::kDownFor, long enough for
// the callers queued behind it to be answered, short enough to notice Keystone back at once.
constexpr std::chrono::seconds kLoginRetryAfter{2};

struct Answer {
  int status = 0;
  std::string body;
  std::string subject_token;  // X-Subject-Token
};

// Keystone cannot be asked: no answer, a 5xx, or the service login failed.
KeystoneDown Down(const std::string& why) {
  spdlog::warn("keystone unavailable: {}", why);
  return KeystoneDown("The identity service is unavailable; try again later.");
}

// Keystone answered, but not with a verdict on the token (a malformed body, 429): this
// caller gets 503; nothing says Keystone is down for the others.
Error NoVerdict(const std::string& why) {
  spdlog::warn("keystone gave no verdict: {}", why);
  return Error(Errc::kUnavailable, "The identity service gave no answer; try again later.");
}

// One HTTP exchange, bounded in time and size. Throws Down when there is no answer.
Answer Exchange(const std::string& base, const KeystoneOptions& o, httplib::Request req) {
  httplib::Client cli(base);
  cli.set_connection_timeout(o.timeout);
  cli.set_read_timeout(o.timeout);
  cli.set_write_timeout(o.timeout);
  cli.set_tcp_nodelay(true);  // no 40 ms delayed-ACK stall, as for every ferry connection
  // httplib's timeouts are per read; this bounds the whole body, and its size, whatever its
  // framing (a receiver sees chunked bodies and bodies without a length too; httplib's
  // progress callback does not).
  const auto deadline = std::chrono::steady_clock::now() + o.timeout;
  bool too_large = false;
  std::string body;
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    too_large = body.size() + n > o.max_response_bytes;
    if (too_large) return false;
    body.append(data, n);
    return std::chrono::steady_clock::now() < deadline;
  };
  auto res = cli.send(req);
  if (!res) {
    throw Down(req.method + " " + base + req.path + ": " +
               (too_large ? "answer too large" : httplib::to_string(res.error())));
  }
  return {res->status, std::move(body), res->get_header_value("X-Subject-Token")};
}

httplib::Request MakeRequest(const std::string& method, const std::string& path) {
  httplib::Request req;
  req.method = method;
  req.path = path;
  req.set_header("Accept", "application/json");
  return req;
}

json PasswordAuthBody(const KeystoneOptions& o) {
  const json domain = {{"name", o.service_domain}};
  return {
      {"auth",
       {{"identity",
         {{"methods", {"password"}},
          {"password",
           {{"user",
             {{"name", o.service_user}, {"domain", domain}, {"password", o.service_password}}}}}}},
        {"scope", {{"project", {{"name", o.service_project}, {"domain", domain}}}}}}}};
}

TimePoint ParseExpiry(const json& token) {
  auto at = ParseIsoTime(token.at("expires_at").get<std::string>());
  if (!at) throw json::other_error::create(501, "expires_at is not a time", nullptr);
  return *at;
}

std::optional<ValidatedToken> ParseValidation(const json& body) {
  const json& token = body.at("token");
  std::vector<std::string> roles;
  for (const auto& r : token.value("roles", json::array())) roles.push_back(r.at("name"));
  const json& user = token.at("user");
  Role role = RoleFromKeystone(roles);
  std::string project_id;
  // Domain- and system-scoped tokens name no project: no server can be theirs.
  if (token.contains("project")) {
    project_id = token["project"].at("id").get<std::string>();
  } else {
    role = Role::kNone;
  }
  Principal who(role, user.at("name").get<std::string>(), project_id,
                user.at("id").get<std::string>());
  who.expires_at = ParseExpiry(token);
  return ValidatedToken{who, *who.expires_at};
}

// "http://host:port/v3/" -> {"http://host:port", "/v3"}.
std::pair<std::string, std::string> SplitUrl(const std::string& url) {
  auto scheme = url.find("://");
  if (url.rfind("http://", 0) != 0 || scheme == std::string::npos) {
    throw std::runtime_error("--keystone-url must be http://host:port/v3, got '" + url + "'");
  }
  auto slash = url.find('/', scheme + 3);
  std::string path = slash == std::string::npos ? "" : url.substr(slash);
  while (!path.empty() && path.back() == '/') path.pop_back();
  return {url.substr(0, slash), path};
}

}  // namespace

Role RoleFromKeystone(const std::vector<std::string>& roles) {
  auto has = [&roles](const char* name) {
    return std::find(roles.begin(), roles.end(), name) != roles.end();
  };
  if (has("admin")) return Role::kAdmin;
  if (has("member")) return Role::kMember;
  if (has("reader")) return Role::kReader;
  return Role::kNone;
}

KeystoneClient::KeystoneClient(KeystoneOptions options, const Clock& clock)
    : options_(std::move(options)), clock_(clock) {
  std::tie(base_, prefix_) = SplitUrl(options_.url);
}

KeystoneClient::ServiceToken KeystoneClient::IssueServiceToken() const {
  auto req = MakeRequest("POST", prefix_ + "/auth/tokens?nocatalog");
  req.set_header("Content-Type", "application/json");
  req.body = PasswordAuthBody(options_).dump();
  Answer a = Exchange(base_, options_, std::move(req));
  if (a.status != 201 || a.subject_token.empty()) {
    if (a.status == 401) {
      spdlog::error(
          "misconfiguration: keystone refuses the service user {} (project {}): check "
          "--keystone-service-user/-password-file/-project",
          options_.service_user, options_.service_project);
    }
    throw Down("service token: HTTP " + std::to_string(a.status));
  }
  try {
    return {a.subject_token, ParseExpiry(ParseBoundedJson(a.body).at("token"))};
  } catch (const json::exception& e) {
    throw Down(std::string("service token: malformed answer: ") + e.what());
  }
}

std::string KeystoneClient::ServiceTokenId(bool renew) const {
  std::lock_guard lock(mu_);
  const TimePoint now = clock_.Now();
  if (service_ && !renew) {
    auto margin = std::min<TimePoint::duration>(kRenewMargin, (service_->expires_at - now) / 2);
    if (now + margin < service_->expires_at) return service_->id;
  }
  if (now < login_failed_until_) throw Down("service token: the last login failed just now");
  try {
    service_ = IssueServiceToken();
  } catch (const Error&) {
    login_failed_until_ = clock_.Now() + kLoginRetryAfter;
    throw;
  }
  return service_->id;
}

std::optional<ValidatedToken> KeystoneClient::Validate(const std::string& token) const {
  // Twice at most: a 401 means our own token went stale (revoked, keys rotated): renew it.
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto req = MakeRequest("GET", prefix_ + "/auth/tokens?nocatalog");
    req.set_header("X-Auth-Token", ServiceTokenId(attempt > 0));
    req.set_header("X-Subject-Token", token);
    Answer a = Exchange(base_, options_, std::move(req));
    if (a.status == 404) return std::nullopt;  // unknown, revoked or expired
    if (a.status == 401) continue;
    if (a.status >= 500) throw Down("validate: HTTP " + std::to_string(a.status));
    if (a.status == 429) throw NoVerdict("validate: HTTP 429");
    // Another 4xx is about the token the caller sent (a proxy before Keystone refusing a
    // 9 KiB header with 400 or 431, say): that caller is refused, and only that one. Not
    // cached: it is no verdict of Keystone's on a real token.
    if (a.status >= 400)
      throw Error(Errc::kUnauthorized, "The request you have made requires authentication.");
    if (a.status != 200) throw NoVerdict("validate: HTTP " + std::to_string(a.status));
    try {
      auto valid = ParseValidation(ParseBoundedJson(a.body));
      if (valid && valid->expires_at <= clock_.Now()) return std::nullopt;
      return valid;
    } catch (const json::exception& e) {
      throw NoVerdict(std::string("validate: malformed answer: ") + e.what());
    }
  }
  throw Down("validate: the service token is refused even when new");
}

}  // namespace ferry::controller::auth
