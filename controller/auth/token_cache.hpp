#pragma once
// Keystone's answers for callers' tokens, kept for a while so that each request does not cost a
// round trip. Keyed by the token's SHA-256: the map never holds a caller's token itself.
#include <array>
#include <chrono>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/clock.hpp"
#include "common/tokens.hpp"

namespace ferry::controller::auth {

struct TokenCacheOptions {
  // 300 s: keystonemiddleware's token_cache_time default. A token revoked in Keystone is still
  // accepted until its entry ages out (as with Nova).
  std::chrono::seconds ttl{300};
  // 10,000 entries of ~200 bytes: ~2 MB; more distinct live tokens than that evict the oldest.
  size_t max_entries = 10000;
};

class TokenCache {
 public:
  TokenCache(TokenCacheOptions options, const Clock& clock);

  // The cached answer: a principal while the entry is fresh; a refusal once the token's own
  // expires_at has passed (expired tokens get 401 even when cached); nullopt when Keystone must
  // be asked (no entry, or it aged out).
  std::optional<Authenticator::Known> Find(const std::string& token);
  // Keeps what Keystone said about a valid token until min(expires_at, now + ttl).
  void Put(const std::string& token, const Principal& principal, TimePoint expires_at);
  // Keeps Keystone's refusal (404) of a token for the ttl: a garbage token repeated costs one
  // Keystone call per ttl, not one per request. A refused token never becomes valid later.
  void PutRefusal(const std::string& token);
  size_t size() const;

 private:
  using Key = std::array<uint8_t, 32>;
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  struct Entry {
    std::optional<Principal> principal;  // nullopt: Keystone refused the token
    TimePoint expires_at;                // the token's
    TimePoint fresh_until;               // min(expires_at, stored + ttl)
    std::list<Key>::iterator age;
  };
  static Key Digest(const std::string& token);
  void EraseLocked(std::unordered_map<Key, Entry, KeyHash>::iterator it);
  void Store(const std::string& token, std::optional<Principal> principal, TimePoint expires_at);

  const TokenCacheOptions options_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::unordered_map<Key, Entry, KeyHash> entries_;
  std::list<Key> oldest_first_;  // insertion order, for eviction at max_entries
};

}  // namespace ferry::controller::auth
