#include "api/client/keystone_login.hpp"

#include <httplib.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "common/errors.hpp"
#include "common/json_limits.hpp"

namespace ferry::client {
namespace {

using nlohmann::json;

// 30 s: what ferryctl's REST client waits for the controller; Keystone answers in well under.
constexpr auto kTimeout = std::chrono::seconds(30);

std::string Env(const char* name, const std::string& fallback = "") {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

json PasswordAuth(const KeystoneCredentials& c) {
  return {{"auth",
           {{"identity",
             {{"methods", {"password"}},
              {"password",
               {{"user",
                 {{"name", c.username},
                  {"domain", {{"name", c.user_domain_name}}},
                  {"password", c.password}}}}}}},
            {"scope",
             {{"project",
               {{"name", c.project_name}, {"domain", {{"name", c.project_domain_name}}}}}}}}}};
}

// The public compute endpoint of the catalog, in the region asked for (any when "").
std::optional<std::string> ComputeUrl(const json& token, const std::string& region) {
  for (const auto& service : token.value("catalog", json::array())) {
    if (service.value("type", "") != "compute") continue;
    for (const auto& e : service.value("endpoints", json::array())) {
      if (e.value("interface", "") != "public") continue;
      if (!region.empty() && e.value("region_id", e.value("region", "")) != region) continue;
      return e.value("url", "");
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<KeystoneCredentials> KeystoneCredentials::FromProcess() {
  KeystoneCredentials c;
  c.auth_url = Env("OS_AUTH_URL");
  c.username = Env("OS_USERNAME");
  c.password = Env("OS_PASSWORD");
  if (c.auth_url.empty() || c.username.empty() || c.password.empty()) return std::nullopt;
  c.project_name = Env("OS_PROJECT_NAME");
  c.user_domain_name = Env("OS_USER_DOMAIN_NAME", "Default");
  c.project_domain_name = Env("OS_PROJECT_DOMAIN_NAME", "Default");
  c.region = Env("OS_REGION_NAME");
  return c;
}

KeystoneLogin LoginToKeystone(const KeystoneCredentials& c) {
  std::string url = c.auth_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (!url.ends_with("/v3")) url += "/v3";  // openrc files name the root or /v3
  auto slash = url.find('/', url.find("://") == std::string::npos ? 0 : url.find("://") + 3);
  if (url.rfind("http://", 0) != 0 || slash == std::string::npos) {
    throw Error(Errc::kBadRequest, "OS_AUTH_URL must be http://host:port/v3, got " + c.auth_url);
  }
  httplib::Client cli(url.substr(0, slash));
  cli.set_connection_timeout(kTimeout);
  cli.set_read_timeout(kTimeout);
  cli.set_tcp_nodelay(true);
  auto res =
      cli.Post(url.substr(slash) + "/auth/tokens", PasswordAuth(c).dump(), "application/json");
  if (!res) {
    throw Error(Errc::kUnavailable,
                "Keystone at " + c.auth_url + " unreachable: " + httplib::to_string(res.error()));
  }
  if (res->status != 201) {
    throw Error(res->status == 401 ? Errc::kUnauthorized : Errc::kUnavailable,
                "Keystone at " + c.auth_url + " answered HTTP " + std::to_string(res->status) +
                    " to OS_USERNAME " + c.username + " (project " + c.project_name + ")");
  }
  KeystoneLogin login{res->get_header_value("X-Subject-Token"), std::nullopt};
  try {
    login.compute_url = ComputeUrl(ParseBoundedJson(res->body).at("token"), c.region);
  } catch (const json::exception&) {
    // No catalog to read: FERRY_URL or --url has to say where ferry is.
  }
  return login;
}

}  // namespace ferry::client
