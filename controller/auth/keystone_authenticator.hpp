#pragma once
// --auth keystone: callers' tokens are Keystone's, validated by the controller's service user.
#include "common/tokens.hpp"
#include "controller/auth/keystone_client.hpp"

namespace ferry::controller::auth {

class KeystoneAuthenticator final : public Authenticator {
 public:
  KeystoneAuthenticator(KeystoneOptions options, const Clock& clock)
      : client_(std::move(options), clock) {}

  std::optional<Principal> Authenticate(const std::string& token) const override;
  std::optional<Known> Peek(const std::string& token) const override;

 private:
  KeystoneClient client_;
};

}  // namespace ferry::controller::auth
