#pragma once
// ferryctl with OpenStack password auth: the OS_* variables an openrc file sets get a token
// from Keystone, and the catalog's compute endpoint when FERRY_URL is not set.
#include <optional>
#include <string>

namespace ferry::client {

struct KeystoneCredentials {
  std::string auth_url;                         // OS_AUTH_URL, e.g. http://127.0.0.1:5000/v3
  std::string username;                         // OS_USERNAME
  std::string password;                         // OS_PASSWORD
  std::string project_name;                     // OS_PROJECT_NAME
  std::string user_domain_name = "Default";     // OS_USER_DOMAIN_NAME
  std::string project_domain_name = "Default";  // OS_PROJECT_DOMAIN_NAME
  std::string region;  // OS_REGION_NAME; "" takes the first compute endpoint
  // From the environment; nullopt unless OS_AUTH_URL, OS_USERNAME and OS_PASSWORD are all set.
  static std::optional<KeystoneCredentials> FromProcess();
};

struct KeystoneLogin {
  std::string token;
  std::optional<std::string> compute_url;  // the catalog's public compute endpoint
};

// POST {auth_url}/auth/tokens (password, project-scoped). Throws ferry::Error when Keystone
// cannot be reached or refuses.
KeystoneLogin LoginToKeystone(const KeystoneCredentials& credentials);

}  // namespace ferry::client
