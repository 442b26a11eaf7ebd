#pragma once
// A real Keystone for tests (deploy/keystone under a temp dir, port 0), and what tests need to
// do as its admin over its REST API: projects, users, role grants, tokens, revocation.
#include <string>
#include <vector>

#include "tests/support/http.hpp"

namespace ferry::testing {

class KeystoneForTest {
 public:
  // Starts Keystone and registers compute and image (URLs: placeholders until SetFerryUrl) with the
  // service user ferry. problem() says why not when it could not.
  KeystoneForTest();
  ~KeystoneForTest();  // deploy/keystone destroy
  KeystoneForTest(const KeystoneForTest&) = delete;
  KeystoneForTest& operator=(const KeystoneForTest&) = delete;

  const std::string& problem() const { return problem_; }
  const std::string& dir() const { return dir_; }
  const std::string& url() const { return url_; }  // http://127.0.0.1:PORT/v3
  std::string ServicePasswordFile() const { return dir_ + "/ferry-password"; }
  std::string AdminPassword() const;

  // Password auth, project-scoped (domain Default); "" when Keystone refuses.
  std::string IssueToken(const std::string& user, const std::string& password,
                         const std::string& project) const;
  // Password auth scoped to the domain Default, or to the system ("" when refused): tokens
  // that name no project.
  std::string IssueDomainToken(const std::string& user, const std::string& password) const;
  std::string IssueSystemToken(const std::string& user, const std::string& password) const;
  std::string CreateProject(const std::string& name) const;  // returns its id
  std::string CreateUser(const std::string& name, const std::string& password) const;  // id
  void Grant(const std::string& project_id, const std::string& user_id,
             const std::string& role) const;
  void GrantOnDomain(const std::string& user_id, const std::string& role) const;  // Default
  int Revoke(const std::string& token) const;  // DELETE /v3/auth/tokens: 204
  // Points the catalog's compute endpoints at base_url/v2.1 and its image ones at base_url/image.
  void SetFerryUrl(const std::string& base_url) const;
  // Every token of the service user ferry stops working (the controller's own included).
  void RevokeServiceUserTokens() const;

  // Stops and starts the same Keystone (same port, same keys and users).
  void Stop() const;
  void Start(int token_lifetime_s = 3600) const;  // rewrites [token] expiration first

 private:
  HttpClient AsAdmin() const;
  void GrantOn(const std::string& target, const std::string& user_id,
               const std::string& role) const;  // target: /v3/projects/ID or /v3/domains/ID
  std::string IssueScopedToken(const std::string& user, const std::string& password,
                               const nlohmann::json& scope) const;
  void AdminCli(const std::vector<std::string>& args) const;  // openstack ... as the admin
  std::string dir_;
  std::string url_;
  std::string problem_;
};

// Runs argv without a shell; stdout and stderr together. Returns the exit status (-1: signal).
int RunCommand(const std::vector<std::string>& argv, std::string* output);

}  // namespace ferry::testing
