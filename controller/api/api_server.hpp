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
#include <vector>

#include "common/clock.hpp"
#include "common/tokens.hpp"
#include "controller/api/microversion.hpp"

namespace httplib {
class Server;
}

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

namespace ferry::controller::api {

// Who may call a route. Nova's policy defaults: moves, hosts, services and aggregates are
// admin-only; servers and flavor reads are for any authenticated user.
enum class Access { kPublic, kUser, kAdmin, kAgent };

struct Request {
  std::string method;
  std::string path;
  std::vector<std::string> params;               // regex captures from the route
  std::multimap<std::string, std::string> query;
  nlohmann::json body;                           // null when the request had none
  std::string_view raw_body;                     // the body as sent (valid during the handler)
  Principal principal{Role::kMember, ""};
  Microversion mv;
  std::string request_id;
  std::string base_url;                          // scheme://host:port, for links
  std::optional<std::string> idempotency_key;    // Idempotency-Key header: a retry is not new

  std::optional<std::string> Query(const std::string& key) const;
  bool IsAdmin() const { return principal.role == Role::kAdmin; }
};

struct Response {
  int status = 200;
  nlohmann::json body;  // null -> empty body
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
};

class ApiServer {
 public:
  ApiServer(const TokenTable& tokens, int threads);
  ~ApiServer();

  // Body::kRaw: the handler parses req.raw_body itself (req.body stays null), for hot agent
  // endpoints whose JSON is read straight into structs.
  enum class Body { kJson, kRaw };
  void Route(const std::string& method, const std::string& pattern, Access access, Handler h,
             Body body = Body::kJson);
  // Binds host:port (port 0 = any free port) and returns the bound port; throws on failure.
  int Bind(const std::string& host, int port);
  void Serve();  // blocks until Stop()
  void Stop();

 private:
  struct RouteEntry {
    std::string method;
    std::regex pattern;
    std::string literal_prefix;  // what every matching path starts with: skips most regexes
    Access access;
    Handler handler;
    Body body;
  };
  void Dispatch(const void* raw_req, void* raw_res);

  const TokenTable& tokens_;
  std::unique_ptr<httplib::Server> http_;
  int listen_fd_ = -1;  // the listening socket, to widen httplib's fixed backlog of 5
  std::vector<RouteEntry> routes_;
};

// Each resource registers its routes (one file each).
void RegisterVersionRoutes(ApiServer& api);
void RegisterHypervisorRoutes(ApiServer& api, Deps& deps);
void RegisterServiceRoutes(ApiServer& api, Deps& deps);
void RegisterAggregateRoutes(ApiServer& api, Deps& deps);
void RegisterFlavorRoutes(ApiServer& api, Deps& deps);
void RegisterServerRoutes(ApiServer& api, Deps& deps);
void RegisterUnmanagedRoutes(ApiServer& api, Deps& deps);
void RegisterAgentRoutes(ApiServer& api, Deps& deps);
void RegisterMigrationRoutes(ApiServer& api, Deps& deps);
void RegisterInstanceActionRoutes(ApiServer& api, Deps& deps);
void RegisterServerActionRoutes(ApiServer& api, Deps& deps);
void RegisterServerMigrationRoutes(ApiServer& api, Deps& deps);
void RegisterServerGroupRoutes(ApiServer& api, Deps& deps);

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
  RegisterServerGroupRoutes(api, deps);
}

}  // namespace ferry::controller::api
