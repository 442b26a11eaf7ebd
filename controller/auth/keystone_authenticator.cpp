#include "controller/auth/keystone_authenticator.hpp"

namespace ferry::controller::auth {

std::optional<Principal> KeystoneAuthenticator::Authenticate(const std::string& token) const {
  auto valid = client_.Validate(token);
  if (!valid) return std::nullopt;
  return valid->principal;
}

std::optional<Authenticator::Known> KeystoneAuthenticator::Peek(const std::string&) const {
  return std::nullopt;  // only Keystone knows
}

}  // namespace ferry::controller::auth
