#pragma once
// --auth keystone: callers' tokens are Keystone's, validated by the controller's service user;
// answers are cached (token_cache.hpp) so a token costs one Keystone call per cache lifetime.
#include <memory>

#include "common/tokens.hpp"
#include "controller/auth/keystone_client.hpp"
#include "controller/auth/token_cache.hpp"

namespace ferry::controller::auth {

class KeystoneAuthenticator final : public Authenticator {
 public:
  KeystoneAuthenticator(KeystoneOptions keystone, TokenCacheOptions cache, const Clock& clock)
      : client_(std::move(keystone), clock), cache_(cache, clock) {}

  // With the service user's password read from password_file (its first line). Throws
  // std::runtime_error when the URL or the file is missing or unreadable.
  static std::unique_ptr<KeystoneAuthenticator> FromFlags(KeystoneOptions keystone,
                                                          const std::string& password_file,
                                                          TokenCacheOptions cache,
                                                          const Clock& clock);

  std::optional<Principal> Authenticate(const std::string& token) const override;
  std::optional<Known> Peek(const std::string& token) const override;

 private:
  KeystoneClient client_;
  mutable TokenCache cache_;  // filled by Authenticate, which the interface keeps const
};

}  // namespace ferry::controller::auth
