#pragma once
// The controller's HTTP front: routing, authentication, microversion negotiation and the single
// place where ferry::Error becomes an HTTP status with Nova's error body.
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.hpp"
#include "common/http/server_options.hpp"
#include "common/tokens.hpp"
#include "controller/api/microversion.hpp"

namespace ferry::http {
class Server;
struct Request;
struct Response;
struct Admission;
}  // namespace ferry::http

namespace ferry::controller::conductor {
class HostRegistry;
class ServerLifecycle;
}  // namespace ferry::controller::conductor
namespace ferry::controller::store {
class Database;
}
namespace ferry::controller::live_migration {
class Service;
class ProgressIngest;
}  // namespace ferry::controller::live_migration
namespace ferry::controller::cold_migration {
class Service;
}
namespace ferry::controller::evacuation {
class Service;
}
namespace ferry::controller::drains {
class Service;
}

namespace ferry::controller::api {

// Who may call a route. Nova's policy defaults: moves, hosts, services and aggregates are
// admin-only; servers and flavor reads are for any authenticated user. kSession: the built-in
// dashboard's data (controller/web), for a session cookie instead of a token. kMetrics: an
// admin, or a token of the token file's role "metrics" (Prometheus holds no Keystone token),
// even with --auth keystone; that role may call nothing else.
enum class Access { kPublic, kUser, kAdmin, kAgent, kSession, kMetrics };

struct Request {
  std::string method;
  std::string path;
  std::vector<std::string> params;  // regex captures from the route
  std::multimap<std::string, std::string> query;
  nlohmann::json body;        // null when the request had none
  std::string_view raw_body;  // the body as sent (valid during the handler)
  Principal principal{Role::kNone, ""};
  Microversion mv;
  std::string request_id;
  std::string base_url;                        // scheme://host:port, for links
  std::optional<std::string> idempotency_key;  // Idempotency-Key header: a retry is not new
  // Whether views add ferry's own fields (migration phase and progress, a hypervisor's
  // simulation flag, a server's storage kind) to Nova's: the request header
  // `X-Ferry-Extensions: true` asks for them (ferryctl sends it), and /v2.1/ferry/... resources
  // always have them. Without it a Nova resource answers exactly Nova's body, whose published
  // schemas allow no other field.
  bool ferry_extensions = false;
  const http::Request* http = nullptr;  // the request as received: its headers (Cookie)

  std::optional<std::string> Query(const std::string& key) const;
  bool IsAdmin() const { return principal.role == Role::kAdmin; }
};

struct Response {
  int status = 200;
  nlohmann::json body;  // null -> empty body
  // The dashboard's page and assets: raw_body is sent as it is, with content_type, instead of
  // body. Extra headers (Set-Cookie, Cache-Control) go with either.
  // (Initialized here so that Response{status, body} stays warning-free.)
  std::string raw_body{};
  std::string content_type{};
  std::vector<std::pair<std::string, std::string>> headers{};
};

// Who a dashboard session cookie belongs to (controller/web/sessions.hpp).
class SessionAuthenticator {
 public:
  virtual ~SessionAuthenticator() = default;
  // Before the body, on an io thread, so without blocking: whether the request carries a
  // well-formed session cookie at all (without one, 401 at once).
  virtual bool HasSessionCookie(const http::Request& head) const = 0;
  // On a worker thread (a database read): nullopt when the session is unknown or has ended.
  // Throws Error(kUnavailable) when the database cannot tell.
  virtual std::optional<Principal> Authenticate(const http::Request& req) const = 0;
};

using Handler = std::function<Response(Request&)>;

struct Deps {
  store::Database& db;
  const Clock& clock;
  conductor::HostRegistry& hosts;
  conductor::ServerLifecycle& servers;
  std::chrono::seconds service_down_time;
  live_migration::Service& live_migrations;
  live_migration::ProgressIngest& progress;
  // Cold migration and resize: migrate, resize, confirmResize, revertResize, and the abort of
  // a cold move not yet started.
  cold_migration::Service& cold_migrations;
  // Evacuation of a server whose host is down or forced down.
  evacuation::Service& evacuations;
  // Host drains (/v2.1/ferry/drains).
  drains::Service& drains;
};

// The limits of the controller's HTTP server (see common/http/server_options.hpp for the rest).
struct ApiServerOptions {
  http::ServerOptions http;  // pool_threads is set from api_, agent_ and unverified_threads
  // 16 threads for API clients: what --api-threads defaulted to with httplib.
  int api_threads = 16;
  // 8 threads for /agent/v1/* (heartbeats, progress): one heartbeat per host every 10 s and a
  // progress post per migrating host every 5 s take milliseconds each, a progress post waiting
  // for its group commit; 8 in flight keep those batches full (the database pool is 8 too). A
  // pool of their own means API clients can never starve them into hosts being marked down.
  int agent_threads = 8;
  // 4 threads for requests whose token only Keystone can judge yet (not in the cache): as many
  // as Keystone validations may run at once (KeystoneAuthenticator::kMaxInFlight). A flood of
  // unknown tokens queues here, so requests with known tokens never wait behind it.
  int unverified_threads = 4;
  // 1 MiB per API request body: Nova's pipeline caps bodies at 112 KiB (oslo.middleware
  // sizelimit's max_request_body_size) and user_data at 64 KiB; ferry leaves room above that.
  size_t body_bytes = 1 << 20;
  // 16 MiB per agent request body: a heartbeat carries the host's whole inventory, about
  // 0.5 KiB per domain with its disks, so this holds some 30,000 domains.
  size_t agent_body_bytes = 16 << 20;
  // 128 KiB for a token only Keystone can judge yet (not in the cache): its body is read before
  // the token is checked, so a peer without a valid token gets at most this much buffered. A
  // server create with Nova's largest user_data (64 KiB) fits; larger first requests get 413.
  size_t unverified_body_bytes = 128 << 10;
  // 4 threads for the built-in dashboard (/dashboard...): its session lookups and view reads
  // wait for the database, so they get a pool of their own and can never hold API clients'
  // workers; 4 serve a handful of open pages polling every 2 s with room to spare.
  int dashboard_threads = 4;
  // 4 KiB per dashboard request body: the largest is a login form with a Keystone token
  // (~200 bytes fernet, ~800 JWS) URL-encoded.
  size_t dashboard_body_bytes = 4096;
};

class ApiServer {
 public:
  // Token file for everyone (--auth token-file).
  ApiServer(const TokenTable& tokens, int threads);
  ApiServer(const TokenTable& tokens, ApiServerOptions options);
  // users: who may call the Nova and ferry routes (Keystone with --auth keystone); agents:
  // who may call /agent/v1, always the token file.
  ApiServer(const Authenticator& users, const TokenTable& agents, ApiServerOptions options);
  ~ApiServer();

  // Body::kRaw: the handler parses req.raw_body itself (req.body stays null), for hot agent
  // endpoints whose JSON is read straight into structs.
  enum class Body { kJson, kRaw };
  void Route(const std::string& method, const std::string& pattern, Access access, Handler h,
             Body body = Body::kJson);
  // Who Access::kSession routes are for; without it they answer 401.
  void SetSessions(const SessionAuthenticator* sessions) { sessions_ = sessions; }
  // Binds host:port (port 0 = any free port) and returns the bound port; throws on failure.
  int Bind(const std::string& host, int port);
  void Serve();  // blocks until Stop()
  void Stop();

 private:
  struct RouteEntry {
    std::string method;
    std::regex pattern;
    std::string literal_prefix;  // what every matching path starts with: skips most regexes
    std::string label;           // the pattern as a metric label: /v2.1/servers/{}
    Access access;
    Handler handler;
    Body body;
  };
  // Finds the route for method and path; *path_known tells a 405 from a 404.
  const RouteEntry* Match(const std::string& method, const std::string& path, bool* path_known,
                          std::smatch* m) const;
  // Before the body: the worker pool, the body limit, and a 401/403 for a bad token.
  http::Admission Admit(const http::Request& head) const;
  void Dispatch(http::Request& hreq, http::Response& hres);
  const Authenticator& AuthenticatorFor(Access access) const;
  // The authenticator's answer, except that with Keystone a token of the token file (an
  // agent's) is refused on user routes without being sent to Keystone, where it would be logged.
  std::optional<Authenticator::Known> Peek(Access access, const std::string& token) const;
  std::optional<Principal> Authenticate(Access access, const std::string& token) const;
  bool IsAgentTokenOnUserRoute(Access access, const std::string& token) const;
  std::optional<Principal> MetricsToken(Access access, const std::string& token) const;

  const Authenticator& users_;
  const TokenTable& agents_;
  const ApiServerOptions options_;
  const SessionAuthenticator* sessions_ = nullptr;
  std::vector<RouteEntry> routes_;
  std::unique_ptr<http::Server> http_;
};

// Each resource registers its routes (one file each).
void RegisterVersionRoutes(ApiServer& api);
void RegisterHypervisorRoutes(ApiServer& api, Deps& deps);
void RegisterServiceRoutes(ApiServer& api, Deps& deps);
void RegisterAggregateRoutes(ApiServer& api, Deps& deps);
// With its extra specs' and access routes.
void RegisterFlavorRoutes(ApiServer& api, Deps& deps);
void RegisterFlavorExtraSpecRoutes(ApiServer& api, Deps& deps);
void RegisterFlavorAccessRoutes(ApiServer& api, Deps& deps);
void RegisterServerRoutes(ApiServer& api, Deps& deps);
void RegisterUnmanagedRoutes(ApiServer& api, Deps& deps);
void RegisterAgentRoutes(ApiServer& api, Deps& deps);
void RegisterMigrationRoutes(ApiServer& api, Deps& deps);
void RegisterInstanceActionRoutes(ApiServer& api, Deps& deps);
void RegisterServerActionRoutes(ApiServer& api, Deps& deps);
void RegisterServerMigrationRoutes(ApiServer& api, Deps& deps);
void RegisterServerGroupRoutes(ApiServer& api, Deps& deps);
void RegisterAvailabilityZoneRoutes(ApiServer& api, Deps& deps);
// The image service's catalog entry in a ferry-only cloud: no images (see image_api.cpp).
void RegisterImageRoutes(ApiServer& api);
void RegisterDrainRoutes(ApiServer& api, Deps& deps);

inline void RegisterAllRoutes(ApiServer& api, Deps& deps) {
  RegisterVersionRoutes(api);
  RegisterHypervisorRoutes(api, deps);
  RegisterServiceRoutes(api, deps);
  RegisterAggregateRoutes(api, deps);
  RegisterFlavorRoutes(api, deps);
  RegisterServerRoutes(api, deps);
  RegisterUnmanagedRoutes(api, deps);
  RegisterAgentRoutes(api, deps);
  RegisterMigrationRoutes(api, deps);
  RegisterInstanceActionRoutes(api, deps);
  RegisterServerActionRoutes(api, deps);
  RegisterServerMigrationRoutes(api, deps);
  RegisterDrainRoutes(api, deps);
  RegisterServerGroupRoutes(api, deps);
  RegisterAvailabilityZoneRoutes(api, deps);
  RegisterImageRoutes(api);
}

}  // namespace ferry::controller::api
