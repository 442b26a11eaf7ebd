#include "controller/auth/token_cache.hpp"

#include <openssl/evp.h>

#include <cstring>
#include <stdexcept>

namespace ferry::controller::auth {

TokenCache::TokenCache(TokenCacheOptions options, const Clock& clock)
    : options_(options), clock_(clock) {}

TokenCache::Key TokenCache::Digest(const std::string& token) {
  Key key{};
  unsigned int length = 0;
  if (EVP_Digest(token.data(), token.size(), key.data(), &length, EVP_sha256(), nullptr) != 1 ||
      length != key.size()) {
    throw std::runtime_error("SHA-256 failed");
  }
  return key;
}

size_t TokenCache::KeyHash::operator()(const Key& k) const {
  size_t h;  // the digest is uniform already: its first bytes are a hash
  std::memcpy(&h, k.data(), sizeof(h));
  return h;
}

void TokenCache::EraseLocked(std::unordered_map<Key, Entry, KeyHash>::iterator it) {
  oldest_first_.erase(it->second.age);
  entries_.erase(it);
}

std::optional<Authenticator::Known> TokenCache::Find(const std::string& token) {
  const Key key = Digest(token);
  const TimePoint now = clock_.Now();
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  if (now >= it->second.expires_at) {
    EraseLocked(it);
    return Authenticator::Known{std::nullopt};
  }
  if (now >= it->second.fresh_until) {
    EraseLocked(it);
    return std::nullopt;
  }
  return Authenticator::Known{it->second.principal};
}

void TokenCache::Put(const std::string& token, const Principal& principal, TimePoint expires_at) {
  Store(token, principal, expires_at);
}

void TokenCache::PutRefusal(const std::string& token) {
  Store(token, std::nullopt, TimePoint::max());
}

void TokenCache::Store(const std::string& token, std::optional<Principal> principal,
                       TimePoint expires_at) {
  const Key key = Digest(token);
  const TimePoint now = clock_.Now();
  const TimePoint fresh_until = now + std::min<TimePoint::duration>(options_.ttl, expires_at - now);
  if (fresh_until <= now) return;
  std::lock_guard lock(mu_);
  if (auto it = entries_.find(key); it != entries_.end()) EraseLocked(it);
  while (!oldest_first_.empty() && entries_.size() >= options_.max_entries) {
    EraseLocked(entries_.find(oldest_first_.front()));
  }
  if (options_.max_entries == 0) return;
  oldest_first_.push_back(key);
  entries_.emplace(
      key, Entry{std::move(principal), expires_at, fresh_until, std::prev(oldest_first_.end())});
}

size_t TokenCache::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace ferry::controller::auth
