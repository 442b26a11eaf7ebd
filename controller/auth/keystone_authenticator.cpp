#include "controller/auth/keystone_authenticator.hpp"

namespace ferry::controller::auth {

std::optional<Principal> KeystoneAuthenticator::Authenticate(const std::string& token) const {
  if (auto known = cache_.Find(token)) return known->principal;
  auto valid = client_.Validate(token);
  // A refusal (404) is not kept: the next request with that token asks Keystone again.
  if (!valid) return std::nullopt;
  cache_.Put(token, valid->principal, valid->expires_at);
  return valid->principal;
}

std::optional<Authenticator::Known> KeystoneAuthenticator::Peek(const std::string& token) const {
  return cache_.Find(token);
}

}  // namespace ferry::controller::auth
