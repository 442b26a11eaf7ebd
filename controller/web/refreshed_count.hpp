#pragma once
// A count (or an object of counts) that is expensive to read, served at most max_age old: the
// orphaned claims' tile reads every claim; the live moves' tiles read every move in flight, whose
// rows progress reports keep rewriting. One caller at a time refreshes it while the others answer
// the last value (null before the first). A failed refresh keeps the last value and is tried
// again only after retry_after, so a read that keeps timing out costs one attempt per window,
// not one per poll; a value older than expire_after is not served (null: the tile shows a dash
// rather than a number that silently stopped changing).
#include <chrono>
#include <exception>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

namespace ferry::controller::web {

class RefreshedCount {
 public:
  using Clock = std::chrono::steady_clock;
  using Now = std::function<Clock::time_point()>;
  RefreshedCount(
      std::chrono::milliseconds max_age, std::chrono::milliseconds retry_after,
      std::chrono::milliseconds expire_after, Now now = [] { return Clock::now(); })
      : max_age_(max_age),
        retry_after_(retry_after),
        expire_after_(expire_after),
        now_(std::move(now)) {}

  // fetch: reads the count; may throw (the error goes to on_error, the last value stays).
  nlohmann::json Get(const std::function<nlohmann::json()>& fetch,
                     const std::function<void(const std::string&)>& on_error = {}) {
    std::unique_lock refreshing(refresh_, std::try_to_lock);
    if (refreshing.owns_lock() && (!next_.has_value() || now_() >= *next_)) {
      std::optional<std::string> failed;
      nlohmann::json fresh;
      try {
        fresh = fetch();
      } catch (const std::exception& e) {
        failed = e.what();
      } catch (...) {
        failed = "unknown error";
      }
      // From when the read ended: a read as slow as the window is not due again at once.
      const auto now = now_();
      next_ = now + (failed ? retry_after_ : max_age_);
      if (failed) {
        if (on_error) on_error(*failed);
      } else {
        std::lock_guard value(value_mu_);
        value_ = std::move(fresh);
        read_at_ = now;
      }
    }
    std::lock_guard value(value_mu_);
    if (read_at_ && now_() - *read_at_ > expire_after_) return nullptr;
    return value_;
  }

 private:
  const std::chrono::milliseconds max_age_;
  const std::chrono::milliseconds retry_after_;
  const std::chrono::milliseconds expire_after_;
  const Now now_;
  std::mutex refresh_;
  std::optional<Clock::time_point> next_;     // guarded by refresh_
  std::mutex value_mu_;                       // held only to copy value_, never while fetching
  nlohmann::json value_;                      // null until the first read
  std::optional<Clock::time_point> read_at_;  // guarded by value_mu_
};

}  // namespace ferry::controller::web
