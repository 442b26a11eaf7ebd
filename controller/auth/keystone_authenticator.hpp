#pragma once
// --auth keystone: callers' tokens are Keystone's, validated by the controller's service user;
// answers are cached (token_cache.hpp) so a token costs one Keystone call per cache lifetime.
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "common/tokens.hpp"
#include "controller/auth/keystone_client.hpp"
#include "controller/auth/token_cache.hpp"

namespace ferry::controller::auth {

class KeystoneAuthenticator final : public Authenticator {
 public:
  KeystoneAuthenticator(KeystoneOptions keystone, TokenCacheOptions cache, const Clock& clock)
      : client_(std::move(keystone), clock),
        cache_(cache, clock),
        refusals_(cache, clock),
        clock_(clock) {}

  // With the service user's password read from password_file (its first line). Throws
  // std::runtime_error when the URL or the file is missing or unreadable.
  static std::unique_ptr<KeystoneAuthenticator> FromFlags(KeystoneOptions keystone,
                                                          const std::string& password_file,
                                                          TokenCacheOptions cache,
                                                          const Clock& clock);

  std::optional<Principal> Authenticate(const std::string& token) const override;
  std::optional<Known> Peek(const std::string& token) const override;

  // 4 validations in flight at most: Keystone answers one in milliseconds, so 4 keep up with
  // any honest load, while a flood of unknown tokens holds at most 4 of the 16 API workers on
  // Keystone (the others wait for a slot at most kSlotWait, then answer 503).
  static constexpr int kMaxInFlight = 4;
  static constexpr std::chrono::milliseconds kSlotWait{2000};
  // After Keystone failed to answer, uncached tokens get 503 at once for this long instead of
  // each waiting out its own timeout (16 workers x 5 s behind a silent Keystone).
  static constexpr std::chrono::seconds kDownFor{2};
  // Longer tokens are refused (401) without asking Keystone.
  static constexpr size_t kMaxTokenBytes = 8192;

 private:
  std::optional<Principal> AskKeystone(const std::string& token) const;

  KeystoneClient client_;
  mutable TokenCache cache_;     // valid tokens, filled by Authenticate (the interface is const)
  mutable TokenCache refusals_;  // refused tokens: their own map, so they never evict valid ones
  const Clock& clock_;
  mutable std::mutex slots_mu_;
  mutable std::condition_variable slot_freed_;
  mutable int in_flight_ = 0;
  mutable std::atomic<TimePoint::rep> down_until_{0};  // clock ticks; 0: not down
};

}  // namespace ferry::controller::auth
