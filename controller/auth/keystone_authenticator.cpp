#include "controller/auth/keystone_authenticator.hpp"

#include <fstream>
#include <stdexcept>

#include "common/errors.hpp"

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
  if (auto known = Peek(token)) return known->principal;
  if (clock_.Now().time_since_epoch().count() < down_until_.load()) {
    throw Error(Errc::kUnavailable, "The identity service did not answer; try again shortly.");
  }
  {
    std::unique_lock lock(slots_mu_);
    if (!slot_freed_.wait_for(lock, kSlotWait, [this] { return in_flight_ < kMaxInFlight; })) {
      throw Error(Errc::kUnavailable, "Too many tokens to validate at once; try again shortly.");
    }
    ++in_flight_;
  }
  struct Release {
    const KeystoneAuthenticator* self;
    ~Release() {
      {
        std::lock_guard lock(self->slots_mu_);
        --self->in_flight_;
      }
      self->slot_freed_.notify_one();
    }
  } release{this};
  return AskKeystone(token);
}

std::optional<Principal> KeystoneAuthenticator::AskKeystone(const std::string& token) const {
  std::optional<ValidatedToken> valid;
  try {
    valid = client_.Validate(token);
  } catch (const KeystoneDown&) {
    down_until_.store((clock_.Now() + kDownFor).time_since_epoch().count());
    throw;
  }
  if (!valid) {
    refusals_.PutRefusal(token);
    return std::nullopt;
  }
  cache_.Put(token, valid->principal, valid->expires_at);
  return valid->principal;
}

std::optional<Authenticator::Known> KeystoneAuthenticator::Peek(const std::string& token) const {
  // No Keystone token is this long (fernet: ~200 bytes, JWS: ~800): refused here, before its
  // body is read, and never sent on (a proxy before Keystone might answer it with a 4xx).
  if (token.size() > kMaxTokenBytes) return Known{std::nullopt};
  if (auto known = cache_.Find(token)) return known;
  return refusals_.Find(token);
}

}  // namespace ferry::controller::auth
