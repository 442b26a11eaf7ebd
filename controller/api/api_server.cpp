#include "controller/api/api_server.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/errors.hpp"
#include "common/json_limits.hpp"
#include "common/uuid.hpp"
#include "controller/api/fault.hpp"
#include "controller/api/route_prefix.hpp"

namespace ferry::controller::api {
namespace {

std::optional<std::string> Header(const httplib::Request& req, const char* name) {
  if (!req.has_header(name)) return std::nullopt;
  return req.get_header_value(name);
}

bool Allowed(Access access, Role role) {
  switch (access) {
    case Access::kPublic: return true;
    case Access::kAgent: return role == Role::kAgent;
    case Access::kAdmin: return role == Role::kAdmin;
    case Access::kUser: return role == Role::kAdmin || role == Role::kMember;
  }
  return false;
}

void WriteJson(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  if (!body.is_null()) res.set_content(body.dump(), "application/json");
}

}  // namespace

std::optional<std::string> Request::Query(const std::string& key) const {
  auto it = query.find(key);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

ApiServer::ApiServer(const TokenTable& tokens, int threads)
    : tokens_(tokens), http_(std::make_unique<httplib::Server>()) {
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  // httplib closes a keep-alive connection after 5 requests; a busy agent (progress of many
  // migrations) would reconnect every fifth post. 100 still hands the thread back regularly,
  // and an idle connection is closed after httplib's 5 s keep-alive timeout as before.
  http_->set_keep_alive_max_count(100);
  // httplib's default sets SO_REUSEPORT, which would let a second controller bind the same
  // port and silently take half the connections; plain SO_REUSEADDR only allows fast restarts.
  http_->set_socket_options([this](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    listen_fd_ = sock;
  });
  auto dispatch = [this](const httplib::Request& req, httplib::Response& res) { Dispatch(&req, &res); };
  http_->Get(".*", dispatch);
  http_->Post(".*", dispatch);
  http_->Put(".*", dispatch);
  http_->Delete(".*", dispatch);
}

ApiServer::~ApiServer() = default;

void ApiServer::Route(const std::string& method, const std::string& pattern, Access access,
                      Handler h, Body body) {
  routes_.push_back({method, std::regex(pattern), RoutePrefix(pattern), access, std::move(h), body});
}

int ApiServer::Bind(const std::string& host, int port) {
  int bound = port == 0 ? http_->bind_to_any_port(host) : (http_->bind_to_port(host, port) ? port : -1);
  if (bound < 0) throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port));
  // The packaged httplib listens with a backlog of 5: a burst of requests (a drain script
  // firing 50 live migrations) overflows the accept queue and clients see resets. Calling
  // listen again on a listening socket only changes its backlog.
  if (listen_fd_ >= 0 && ::listen(listen_fd_, SOMAXCONN) != 0) {
    spdlog::warn("could not widen the listen backlog: {}", std::strerror(errno));
  }
  return bound;
}

void ApiServer::Serve() { http_->listen_after_bind(); }
void ApiServer::Stop() { http_->stop(); }

void ApiServer::Dispatch(const void* raw_req, void* raw_res) {
  const auto& hreq = *static_cast<const httplib::Request*>(raw_req);
  auto& hres = *static_cast<httplib::Response*>(raw_res);
  const auto started = std::chrono::steady_clock::now();
  Request req;
  req.method = hreq.method;
  req.path = hreq.path;
  req.request_id = "req-" + NewUuid();
  req.query = {hreq.params.begin(), hreq.params.end()};
  req.base_url = "http://" + hreq.get_header_value("Host");
  if (hreq.has_header("Idempotency-Key")) req.idempotency_key = hreq.get_header_value("Idempotency-Key");
  hres.set_header("x-openstack-request-id", req.request_id);
  const bool nova_api = req.path.rfind("/v2.1", 0) == 0;
  try {
    const RouteEntry* route = nullptr;
    bool path_known = false;
    std::smatch m;
    for (const auto& r : routes_) {
      if (req.path.compare(0, r.literal_prefix.size(), r.literal_prefix) != 0) continue;
      if (!std::regex_match(req.path, m, r.pattern)) continue;
      path_known = true;
      if (r.method == req.method) {
        route = &r;
        break;
      }
    }
    if (!route && path_known) {
      WriteJson(hres, 405, {{"badMethod", {{"code", 405}, {"message", "The method specified is not allowed for this resource."}}}});
      return;
    }
    if (!route) throw Error(Errc::kNotFound, "The resource could not be found.");
    for (size_t i = 1; i < m.size(); ++i) req.params.push_back(m[i].str());
    if (route->access != Access::kPublic) {
      auto token = Header(hreq, "X-Auth-Token");
      auto principal = token ? tokens_.Find(*token) : std::nullopt;
      if (!principal) throw Error(Errc::kUnauthorized, "The request you have made requires authentication.");
      if (!Allowed(route->access, principal->role)) {
        throw Error(Errc::kForbidden, "Policy doesn't allow this operation to be performed.");
      }
      req.principal = *principal;
    }
    if (nova_api) {
      req.mv = NegotiateMicroversion(Header(hreq, "OpenStack-API-Version"),
                                     Header(hreq, "X-OpenStack-Nova-API-Version"));
      hres.set_header("OpenStack-API-Version", "compute " + req.mv.ToString());
      hres.set_header("X-OpenStack-Nova-API-Version", req.mv.ToString());
      hres.set_header("Vary", "OpenStack-API-Version, X-OpenStack-Nova-API-Version");
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
    WriteJson(hres, out.status, out.body);
  } catch (const Error& e) {
    WriteJson(hres, HttpStatus(e.code()), FaultBody(e.code(), e.what()));
  } catch (const nlohmann::json::exception& e) {
    // A body of the right shape with a wrong type deep inside (wire messages).
    WriteJson(hres, 400, FaultBody(Errc::kBadRequest, std::string("Invalid request body: ") + e.what()));
  } catch (const std::exception& e) {
    spdlog::error("unhandled error request_id={} path={} error={}", req.request_id, req.path, e.what());
    WriteJson(hres, 500, FaultBody(Errc::kInternal, "Unexpected API Error. Please report this at the ferry issue tracker."));
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  spdlog::log(hres.status >= 500 ? spdlog::level::warn : spdlog::level::debug,
              "request method={} path={} status={} ms={} request_id={} principal={}", req.method,
              req.path, hres.status, ms, req.request_id, req.principal.name);
}

}  // namespace ferry::controller::api
