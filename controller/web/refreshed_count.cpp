#include "controller/web/refreshed_count.hpp"

#include <exception>
#include <utility>

namespace ferry::controller::web {

RefreshedCount::RefreshedCount(Timing timing, Fetch fetch, OnError on_error, Now now)
    : timing_(timing),
      fetch_(std::move(fetch)),
      on_error_(std::move(on_error)),
      now_(std::move(now)) {}

nlohmann::json RefreshedCount::Get() {
  bool cold = false;
  {
    std::lock_guard value(value_mu_);
    asked_ = true;
    cold = !read_at_ || now_() - *read_at_ > timing_.expire_after;
  }
  if (cold) {
    // A caller that finds a read under way answers without waiting for it.
    std::unique_lock refreshing(refresh_, std::try_to_lock);
    if (refreshing.owns_lock() && DueLocked(now_())) ReadLocked();
  }
  std::lock_guard value(value_mu_);
  if (!read_at_ || now_() - *read_at_ > timing_.expire_after) return nullptr;
  return value_;
}

void RefreshedCount::RefreshIfDue() {
  std::lock_guard refreshing(refresh_);
  {
    std::lock_guard value(value_mu_);
    if (!asked_) return;  // nobody is looking: no read
  }
  if (DueLocked(now_())) ReadLocked();
}

bool RefreshedCount::DueLocked(Clock::time_point now) const { return !next_ || now >= *next_; }

void RefreshedCount::ReadLocked() {
  {
    // From when the read starts: a request during the read asks for the next one.
    std::lock_guard value(value_mu_);
    asked_ = false;
  }
  std::optional<std::string> failed;
  nlohmann::json fresh;
  try {
    fresh = fetch_();
  } catch (const std::exception& e) {
    failed = e.what();
  } catch (...) {
    failed = "unknown error";
  }
  // From when the read ended: a read as slow as the window is not due again at once.
  const auto now = now_();
  next_ = now + (failed ? timing_.retry_after : timing_.max_age);
  {
    std::lock_guard value(value_mu_);
    if (!failed) {
      value_ = std::move(fresh);
      read_at_ = now;
    }
  }
  if (failed && on_error_) on_error_(*failed);
}

}  // namespace ferry::controller::web
