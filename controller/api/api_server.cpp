#include "controller/api/api_server.hpp"

#include <spdlog/spdlog.h>
#include <strings.h>

#include <cctype>
#include <chrono>

#include "common/errors.hpp"
#include "common/http/server.hpp"
#include "common/json_limits.hpp"
#include "common/metrics/metrics.hpp"
#include "common/uuid.hpp"
#include "controller/api/fault.hpp"
#include "controller/api/route_prefix.hpp"

namespace ferry::controller::api {
namespace {

// 2 KiB of path: Nova's longest paths (a server's migration, an instance action) are under
// 150 bytes. Longer paths get a 404 without meeting a route regex, whose libstdc++ matcher
// recurses once per character (L7 of the 2026-12-04 review).
constexpr size_t kMaxPathBytes = 2048;
// The worker pools of ApiServerOptions, in ServerOptions::pool_threads order.
constexpr size_t kApiPool = 0;
constexpr size_t kAgentPool = 1;
constexpr size_t kUnverifiedPool = 2;
constexpr size_t kDashboardPool = 3;

bool IsAgentPath(const std::string& path) { return path.rfind("/agent/", 0) == 0; }

// Every request the API answers, by route pattern (RouteLabel; "unmatched" for a path no route
// serves or a method none takes), method (a fixed list) and status code.
metrics::HistogramFamily& ApiLatency() {
  static auto& h = metrics::DefaultRegistry().AddHistogram(
      "ferry_api_request_duration_seconds",
      "Seconds from a request's head to its answer, by route pattern (never a raw path; "
      "unmatched: no route serves that path and method), method and status code. Requests "
      "refused before their body is read (401, 403) count with about 0 s.",
      {"route", "method", "code"}, metrics::LatencyBuckets());
  return h;
}
bool IsDashboardPath(const std::string& path) {
  return path == "/dashboard" || path.rfind("/dashboard/", 0) == 0;
}

// Every answer under /dashboard, refusals included: nothing but the controller's own assets may
// load (no CDN, no inline script), no other site may frame the page, no content type is
// guessed, and no answer is cached unless its handler says it may be (the static assets).
void AddDashboardHeaders(const std::string& path, http::Response& res) {
  if (!IsDashboardPath(path)) return;
  res.SetHeader("Content-Security-Policy",
                "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
                "object-src 'none'");
  res.SetHeader("X-Frame-Options", "DENY");
  res.SetHeader("X-Content-Type-Options", "nosniff");
  res.SetHeader("Referrer-Policy", "no-referrer");
  for (const auto& [name, value] : res.headers) {
    if (name == "Cache-Control") return;
  }
  res.SetHeader("Cache-Control", "no-store");
}

// Request header `X-Ferry-Extensions: true` (any case of "true"; any other value or none means
// no): Nova resources add ferry's own fields to Nova's body (Request::ferry_extensions). ferry's
// own resources under /v2.1/ferry/ always carry them.
bool WantsFerryExtensions(const http::Request& hreq) {
  if (hreq.path.rfind("/v2.1/ferry/", 0) == 0) return true;
  auto value = hreq.Header("X-Ferry-Extensions");
  if (!value || value->size() != 4) return false;
  std::string lower;
  for (char c : *value)
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return lower == "true";
}

// Whether a body follows the head: chunked, or a Content-Length other than 0.
bool HasBody(const http::Request& head) {
  if (head.Header("Transfer-Encoding")) return true;
  auto length = head.Header("Content-Length");
  return length && *length != "0";
}

// X-Auth-Token; on /metrics also "Authorization: Bearer <token>", which is what Prometheus
// sends (its scrape config's authorization.credentials_file).
std::optional<std::string> TokenOf(const http::Request& req, Access access) {
  auto token = req.Header("X-Auth-Token");
  if (token || access != Access::kMetrics) return token;
  auto authorization = req.Header("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (!authorization || authorization->size() <= kBearer.size() ||
      strncasecmp(authorization->c_str(), kBearer.data(), kBearer.size()) != 0) {
    return std::nullopt;
  }
  return authorization->substr(kBearer.size());
}

bool ReadOnly(const std::string& method) { return method == "GET" || method == "HEAD"; }

bool Allowed(Access access, Role role, const std::string& method) {
  switch (access) {
    case Access::kPublic:
      return true;
    case Access::kAgent:
      return role == Role::kAgent;
    case Access::kAdmin:
      return role == Role::kAdmin;
    case Access::kMetrics:
      return role == Role::kAdmin || role == Role::kMetrics;
    case Access::kUser:  // Nova's reader role may look but not change (its policy defaults)
      return role == Role::kAdmin || role == Role::kMember ||
             (role == Role::kReader && ReadOnly(method));
    case Access::kSession:  // only these roles log in; the dashboard's one write is a logout
      return role == Role::kAdmin || role == Role::kMember || role == Role::kReader;
  }
  return false;
}

void WriteJson(http::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  // replace: an error message quoting invalid UTF-8 from the request (a %FF path segment)
  // still becomes a body instead of an exception.
  if (!body.is_null()) {
    res.SetJson(status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
}

void WriteBadMethod(http::Response& res) {
  WriteJson(
      res, 405,
      {{"badMethod",
        {{"code", 405}, {"message", "The method specified is not allowed for this resource."}}}});
}

http::ServerOptions WithPools(const ApiServerOptions& o) {
  http::ServerOptions h = o.http;
  h.name = "api";
  h.pool_threads = {o.api_threads, o.agent_threads, o.unverified_threads, o.dashboard_threads};
  return h;
}

ApiServerOptions WithApiThreads(int threads) {
  ApiServerOptions o;
  o.api_threads = threads;
  return o;
}

void LogRequest(const std::string& method, const std::string& path, int status,
                std::chrono::steady_clock::time_point started, const std::string& request_id,
                const std::string& principal, const std::string& route = "unmatched") {
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ApiLatency()
      .With({route, std::string(metrics::MethodLabel(method)), std::to_string(status)})
      .Observe(std::chrono::duration<double>(elapsed).count());
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
  spdlog::log(status >= 500 ? spdlog::level::warn : spdlog::level::debug,
              "request method={} path={} status={} ms={} request_id={} principal={}", method, path,
              status, ms, request_id, principal);
}

}  // namespace

std::optional<std::string> Request::Query(const std::string& key) const {
  auto it = query.find(key);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

ApiServer::ApiServer(const TokenTable& tokens, int threads)
    : ApiServer(tokens, WithApiThreads(threads)) {}

ApiServer::ApiServer(const TokenTable& tokens, ApiServerOptions options)
    : ApiServer(tokens, tokens, std::move(options)) {}

ApiServer::ApiServer(const Authenticator& users, const TokenTable& agents, ApiServerOptions options)
    : users_(users), agents_(agents), options_(std::move(options)) {
  ApiLatency();  // the family shows from the first scrape on
  http_ = std::make_unique<http::Server>(
      WithPools(options_), [this](const http::Request& head) { return Admit(head); },
      [this](http::Request& req, http::Response& res) { Dispatch(req, res); });
}

ApiServer::~ApiServer() = default;

const Authenticator& ApiServer::AuthenticatorFor(Access access) const {
  return access == Access::kAgent ? static_cast<const Authenticator&>(agents_) : users_;
}

bool ApiServer::IsAgentTokenOnUserRoute(Access access, const std::string& token) const {
  const bool keystone = &users_ != static_cast<const Authenticator*>(&agents_);
  return keystone && access != Access::kAgent && agents_.Find(token).has_value();
}

// A scraper's token is the token file's (role metrics), with --auth keystone too.
std::optional<Principal> ApiServer::MetricsToken(Access access, const std::string& token) const {
  if (access != Access::kMetrics) return std::nullopt;
  auto p = agents_.Find(token);
  if (p && p->role == Role::kMetrics) return p;
  return std::nullopt;
}

std::optional<Authenticator::Known> ApiServer::Peek(Access access, const std::string& token) const {
  if (auto p = MetricsToken(access, token)) return Authenticator::Known{p};
  if (IsAgentTokenOnUserRoute(access, token)) return Authenticator::Known{std::nullopt};
  return AuthenticatorFor(access).Peek(token);
}

std::optional<Principal> ApiServer::Authenticate(Access access, const std::string& token) const {
  if (auto p = MetricsToken(access, token)) return p;
  if (IsAgentTokenOnUserRoute(access, token)) return std::nullopt;
  return AuthenticatorFor(access).Authenticate(token);
}

void ApiServer::Route(const std::string& method, const std::string& pattern, Access access,
                      Handler h, Body body) {
  routes_.push_back({method, std::regex(pattern), RoutePrefix(pattern), RouteLabel(pattern), access,
                     std::move(h), body});
}

int ApiServer::Bind(const std::string& host, int port) { return http_->Bind(host, port); }

void ApiServer::Serve() {
  http_->Start();
  http_->Wait();
}

void ApiServer::Stop() { http_->Stop(); }

const ApiServer::RouteEntry* ApiServer::Match(const std::string& method, const std::string& path,
                                              bool* path_known, std::smatch* m) const {
  *path_known = false;
  if (path.size() > kMaxPathBytes) return nullptr;
  for (const auto& r : routes_) {
    if (path.compare(0, r.literal_prefix.size(), r.literal_prefix) != 0) continue;
    if (!std::regex_match(path, *m, r.pattern)) continue;
    *path_known = true;
    if (r.method == method) return &r;
  }
  return nullptr;
}

http::Admission ApiServer::Admit(const http::Request& head) const {
  const bool agent = IsAgentPath(head.path);
  const bool dashboard = IsDashboardPath(head.path);
  http::Admission admission{agent ? kAgentPool : kApiPool,
                            agent ? options_.agent_body_bytes : options_.body_bytes, std::nullopt};
  if (dashboard) admission = {kDashboardPool, options_.dashboard_body_bytes, std::nullopt};
  bool path_known = false;
  std::smatch m;
  const RouteEntry* route = Match(head.method, head.path, &path_known, &m);
  if (!route) {
    // 404/405 need no body: one that comes is refused before it is read (and with it the
    // connection), so no peer gets the agent's 16 MiB buffered by asking for a wrong path.
    if (!HasBody(head)) return admission;  // answered by Dispatch, on a kept-alive connection
    http::Response res;
    std::string request_id = "req-" + NewUuid();
    res.SetHeader("x-openstack-request-id", request_id);
    if (path_known) {
      WriteBadMethod(res);
    } else {
      WriteJson(res, 404, FaultBody(Errc::kNotFound, "The resource could not be found."));
    }
    LogRequest(head.method, head.path, res.status, std::chrono::steady_clock::now(), request_id,
               "");
    AddDashboardHeaders(head.path, res);
    admission.refusal = std::move(res);
    return admission;
  }
  if (route->access == Access::kPublic) {  // version discovery: no body of any size needed
    admission.body_limit = dashboard ? options_.dashboard_body_bytes : options_.body_bytes;
    return admission;
  }
  // The token is checked here, before the body is read, when memory knows the answer (the
  // token file; Keystone's cache): a peer with a bad token never gets a body buffered. Tokens
  // only Keystone can judge wait for Dispatch, on a worker thread, as this io thread must not
  // block; their bodies are read first, bounded by unverified_body_bytes (the token file knows
  // every token, so this only applies with Keystone).
  auto token = TokenOf(head, route->access);
  std::optional<Error> refusal;
  if (route->access == Access::kSession) {
    // The session itself is looked up in the database, on the dashboard's pool (Dispatch):
    // a flood of made-up cookies waits there, never on the API clients' workers.
    if (!sessions_ || !sessions_->HasSessionCookie(head)) {
      refusal.emplace(Errc::kUnauthorized, "The request you have made requires authentication.");
    }
  } else if (!token) {
    refusal.emplace(Errc::kUnauthorized, "The request you have made requires authentication.");
  } else if (auto known = Peek(route->access, *token)) {
    if (!known->principal) {
      refusal.emplace(Errc::kUnauthorized, "The request you have made requires authentication.");
    } else if (!Allowed(route->access, known->principal->role, head.method)) {
      refusal.emplace(Errc::kForbidden, "Policy doesn't allow this operation to be performed.");
    }
  } else {
    admission.body_limit = std::min(admission.body_limit, options_.unverified_body_bytes);
    admission.pool = kUnverifiedPool;
  }
  if (!refusal) return admission;
  http::Response res;
  std::string request_id = "req-" + NewUuid();
  res.SetHeader("x-openstack-request-id", request_id);
  WriteJson(res, HttpStatus(refusal->code()), FaultBody(refusal->code(), refusal->what()));
  LogRequest(head.method, head.path, res.status, std::chrono::steady_clock::now(), request_id, "",
             route->label);
  AddDashboardHeaders(head.path, res);
  admission.refusal = std::move(res);
  return admission;
}

void ApiServer::Dispatch(http::Request& hreq, http::Response& hres) {
  const auto started = std::chrono::steady_clock::now();
  Request req;
  req.method = hreq.method;
  req.path = hreq.path;
  req.request_id = "req-" + NewUuid();
  req.query = std::move(hreq.query);
  req.base_url = "http://" + hreq.Header("Host").value_or("");
  req.idempotency_key = hreq.Header("Idempotency-Key");
  req.ferry_extensions = WantsFerryExtensions(hreq);
  req.http = &hreq;
  hres.SetHeader("x-openstack-request-id", req.request_id);
  // Nova answers the same id under its older name as well; Tempest's instance action tests
  // read x-compute-request-id to find a server's create action.
  hres.SetHeader("x-compute-request-id", req.request_id);
  const bool nova_api = req.path.rfind("/v2.1", 0) == 0;
  std::string route_label = "unmatched";
  try {
    bool path_known = false;
    std::smatch m;
    const RouteEntry* route = Match(req.method, req.path, &path_known, &m);
    if (!route && path_known) {
      WriteBadMethod(hres);
      LogRequest(req.method, req.path, hres.status, started, req.request_id, "");
      AddDashboardHeaders(req.path, hres);
      return;
    }
    if (!route) throw Error(Errc::kNotFound, "The resource could not be found.");
    route_label = route->label;
    for (size_t i = 1; i < m.size(); ++i) req.params.push_back(m[i].str());
    if (route->access != Access::kPublic) {
      auto token = TokenOf(hreq, route->access);
      // Throws Error(kUnavailable) when Keystone (or, for a session, the database) cannot be
      // asked: 503, the token not accepted.
      auto principal = route->access == Access::kSession
                           ? (sessions_ ? sessions_->Authenticate(hreq) : std::nullopt)
                       : token ? Authenticate(route->access, *token)
                               : std::nullopt;
      if (!principal)
        throw Error(Errc::kUnauthorized, "The request you have made requires authentication.");
      if (!Allowed(route->access, principal->role, req.method)) {
        throw Error(Errc::kForbidden, "Policy doesn't allow this operation to be performed.");
      }
      req.principal = *principal;
    }
    if (nova_api) {
      req.mv = NegotiateMicroversion(hreq.Header("OpenStack-API-Version"),
                                     hreq.Header("X-OpenStack-Nova-API-Version"));
      hres.SetHeader("OpenStack-API-Version", "compute " + req.mv.ToString());
      hres.SetHeader("X-OpenStack-Nova-API-Version", req.mv.ToString());
      hres.SetHeader("Vary", "OpenStack-API-Version, X-OpenStack-Nova-API-Version");
    }
    req.raw_body = hreq.body;
    if (!hreq.body.empty() && route->body == Body::kJson) {
      try {
        req.body = ParseBoundedJson(hreq.body);
      } catch (const nlohmann::json::parse_error&) {
        throw Error(Errc::kBadRequest, "Malformed request body");
      }
    }
    Response out = route->handler(req);
    for (auto& [name, value] : out.headers) hres.SetHeader(std::move(name), std::move(value));
    if (!out.content_type.empty()) {
      hres.status = out.status;
      hres.body = std::move(out.raw_body);
      hres.content_type = out.content_type;
    } else {
      WriteJson(hres, out.status, out.body);
    }
  } catch (const Error& e) {
    WriteJson(hres, HttpStatus(e.code()), FaultBody(e.code(), e.what()));
  } catch (const nlohmann::json::exception& e) {
    // A body of the right shape with a wrong type deep inside (wire messages).
    WriteJson(hres, 400,
              FaultBody(Errc::kBadRequest, std::string("Invalid request body: ") + e.what()));
  } catch (const std::exception& e) {
    spdlog::error("unhandled error request_id={} path={} error={}", req.request_id, req.path,
                  e.what());
    WriteJson(hres, 500,
              FaultBody(Errc::kInternal,
                        "Unexpected API Error. Please report this at the ferry issue tracker."));
  }
  LogRequest(req.method, req.path, hres.status, started, req.request_id, req.principal.name,
             route_label);
  AddDashboardHeaders(req.path, hres);
}

}  // namespace ferry::controller::api
