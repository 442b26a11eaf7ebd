#include "controller/auth/keystone_authenticator.hpp"

#include <fstream>
#include <stdexcept>

namespace ferry::controller::auth {
namespace {

// The first line, without its line end: a password may hold spaces.
std::string ReadPasswordFile(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) throw std::runtime_error("cannot read password file " + path);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  if (line.empty()) throw std::runtime_error("password file " + path + " holds no password");
  return line;
}

}  // namespace

std::unique_ptr<KeystoneAuthenticator> KeystoneAuthenticator::FromFlags(
    KeystoneOptions keystone, const std::string& password_file, TokenCacheOptions cache,
    const Clock& clock) {
  if (keystone.url.empty() || password_file.empty()) {
    throw std::runtime_error(
        "--auth keystone needs --keystone-url and --keystone-service-password-file");
  }
  keystone.service_password = ReadPasswordFile(password_file);
  return std::make_unique<KeystoneAuthenticator>(std::move(keystone), cache, clock);
}

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
