#include "tests/support/keystone.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <utility>

#include "tests/support/process.hpp"

namespace ferry::testing {
namespace {

using nlohmann::json;

const std::string kDeployKeystone = std::string(FERRY_SOURCE_DIR) + "/deploy/keystone";
// Until SetFerryUrl: port 9 (discard) answers nothing, so a stale catalog fails loudly.
constexpr const char* kPlaceholderComputeUrl = "http://127.0.0.1:9/v2.1";

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string FirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string WithoutV3(const std::string& url) {
  return url.size() > 3 && url.ends_with("/v3") ? url.substr(0, url.size() - 3) : url;
}

json Domain() { return {{"name", "Default"}}; }

}  // namespace

int RunCommand(const std::vector<std::string>& argv, std::string* output) {
  std::string cmd;
  for (const auto& a : argv) cmd += ShellQuote(a) + " ";
  cmd += "2>&1 </dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) output->append(buf.data(), n);
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

KeystoneForTest::KeystoneForTest() {
  for (const char* tool :
       {"/usr/bin/keystone-wsgi-public", "/usr/bin/keystone-manage", "/usr/bin/openstack"}) {
    if (access(tool, X_OK) != 0) {
      problem_ = std::string(tool) +
                 " missing: keystone and python3-openstackclient are "
                 "installed by deploy/install-deps";
      return;
    }
  }
  dir_ = TempDir("ferry-keystone");
  std::string out;
  if (RunCommand({kDeployKeystone, "start", dir_, "0"}, &out) != 0) {
    problem_ = "deploy/keystone start failed: " + out;
    return;
  }
  url_ = FirstLine(dir_ + "/url");
  if (RunCommand({kDeployKeystone, "register-compute", dir_, kPlaceholderComputeUrl}, &out) != 0) {
    problem_ = "deploy/keystone register-compute failed: " + out;
  }
}

KeystoneForTest::~KeystoneForTest() {
  if (dir_.empty()) return;
  std::string out;
  RunCommand({kDeployKeystone, "destroy", dir_}, &out);
}

std::string KeystoneForTest::AdminPassword() const { return FirstLine(dir_ + "/admin-password"); }

std::string KeystoneForTest::IssueScopedToken(const std::string& user, const std::string& password,
                                              const json& scope) const {
  json body = {{"auth",
                {{"identity",
                  {{"methods", {"password"}},
                   {"password",
                    {{"user", {{"name", user}, {"domain", Domain()}, {"password", password}}}}}}},
                 {"scope", scope}}}};
  auto r = HttpClient(WithoutV3(url_), "").Post("/v3/auth/tokens?nocatalog", body);
  return r.status == 201 ? r.Header("X-Subject-Token") : "";
}

std::string KeystoneForTest::IssueToken(const std::string& user, const std::string& password,
                                        const std::string& project) const {
  return IssueScopedToken(user, password, {{"project", {{"name", project}, {"domain", Domain()}}}});
}

std::string KeystoneForTest::IssueDomainToken(const std::string& user,
                                              const std::string& password) const {
  return IssueScopedToken(user, password, {{"domain", Domain()}});
}

std::string KeystoneForTest::IssueSystemToken(const std::string& user,
                                              const std::string& password) const {
  return IssueScopedToken(user, password, {{"system", {{"all", true}}}});
}

HttpClient KeystoneForTest::AsAdmin() const {
  return HttpClient(WithoutV3(url_), IssueToken("admin", AdminPassword(), "admin"));
}

std::string KeystoneForTest::CreateProject(const std::string& name) const {
  auto r =
      AsAdmin().Post("/v3/projects", {{"project", {{"name", name}, {"domain_id", "default"}}}});
  if (r.status != 201) throw std::runtime_error("create project " + name + ": " + r.raw);
  return r.body["project"]["id"];
}

std::string KeystoneForTest::CreateUser(const std::string& name,
                                        const std::string& password) const {
  auto r = AsAdmin().Post(
      "/v3/users", {{"user", {{"name", name}, {"password", password}, {"domain_id", "default"}}}});
  if (r.status != 201) throw std::runtime_error("create user " + name + ": " + r.raw);
  return r.body["user"]["id"];
}

void KeystoneForTest::Grant(const std::string& project_id, const std::string& user_id,
                            const std::string& role) const {
  GrantOn("/v3/projects/" + project_id, user_id, role);
}

void KeystoneForTest::GrantOnDomain(const std::string& user_id, const std::string& role) const {
  GrantOn("/v3/domains/default", user_id, role);
}

void KeystoneForTest::GrantOn(const std::string& target, const std::string& user_id,
                              const std::string& role) const {
  auto admin = AsAdmin();
  auto roles = admin.Get("/v3/roles?name=" + role);
  if (roles.status != 200 || roles.body["roles"].empty()) {
    throw std::runtime_error("no role " + role + ": " + roles.raw);
  }
  std::string role_id = roles.body["roles"][0]["id"];
  auto r = admin.Put(target + "/users/" + user_id + "/roles/" + role_id, json::object());
  if (r.status != 204) throw std::runtime_error("grant " + role + ": " + r.raw);
}

int KeystoneForTest::Revoke(const std::string& token) const {
  auto admin = AsAdmin();
  admin.SetHeader("X-Subject-Token", token);
  return admin.Delete("/v3/auth/tokens").status;
}

void KeystoneForTest::SetFerryUrl(const std::string& base_url) const {
  auto admin = AsAdmin();
  // compute -> /v2.1; image -> /image (the entry deploy/keystone made for ferry's empty one).
  for (const auto& [type, path] : {std::pair{"compute", "/v2.1"}, std::pair{"image", "/image"}}) {
    auto services = admin.Get(std::string("/v3/services?type=") + type);
    if (services.status != 200 || services.body["services"].empty()) {
      throw std::runtime_error(std::string("no ") + type + " service: " + services.raw);
    }
    std::string service_id = services.body["services"][0]["id"];
    auto endpoints = admin.Get("/v3/endpoints?service_id=" + service_id);
    for (const auto& e : endpoints.body["endpoints"]) {
      // PATCH is what Keystone takes; HttpClient has none, so the CLI does it.
      AdminCli({"endpoint", "set", "--url", base_url + path, e["id"].get<std::string>()});
    }
  }
}

void KeystoneForTest::RevokeServiceUserTokens() const {
  // Keystone revokes every token of a user whose password is set, even to the same one.
  AdminCli({"user", "set", "--password", FirstLine(ServicePasswordFile()), "ferry"});
}

void KeystoneForTest::AdminCli(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{"/usr/bin/env",
                                "OS_AUTH_URL=" + url_,
                                "OS_IDENTITY_API_VERSION=3",
                                "OS_USERNAME=admin",
                                "OS_PASSWORD=" + AdminPassword(),
                                "OS_PROJECT_NAME=admin",
                                "OS_USER_DOMAIN_NAME=Default",
                                "OS_PROJECT_DOMAIN_NAME=Default",
                                "/usr/bin/openstack"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string out;
  if (RunCommand(argv, &out) != 0) throw std::runtime_error("openstack " + args[0] + ": " + out);
}

void KeystoneForTest::Stop() const {
  std::string out;
  RunCommand({kDeployKeystone, "stop", dir_}, &out);
}

void KeystoneForTest::Start(int token_lifetime_s) const {
  std::ifstream in(dir_ + "/keystone.conf");
  std::stringstream conf;
  conf << in.rdbuf();
  std::ofstream(dir_ + "/keystone.conf")
      << std::regex_replace(conf.str(), std::regex("\nexpiration = [0-9]+"),
                            "\nexpiration = " + std::to_string(token_lifetime_s));
  std::string out;
  if (RunCommand({kDeployKeystone, "start", dir_}, &out) != 0) {
    throw std::runtime_error("deploy/keystone start: " + out);
  }
}

}  // namespace ferry::testing
