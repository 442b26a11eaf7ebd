#pragma once
// A count (or an object of counts) that is expensive to read, served at most max_age old: the
// orphaned claims' tile reads every claim; the live moves' tiles read every move in flight, whose
// rows progress reports keep rewriting. One caller at a time refreshes it while the others answer
// the last value (null before the first). A failed refresh keeps the last value and is tried
// again only after retry_after, so a read that keeps timing out costs one attempt per window,
// not one per poll.
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
  using Now = std::function<std::chrono::steady_clock::time_point()>;
  RefreshedCount(
      std::chrono::milliseconds max_age, std::chrono::milliseconds retry_after,
      Now now = [] { return std::chrono::steady_clock::now(); })
      : max_age_(max_age), retry_after_(retry_after), now_(std::move(now)) {}

  // fetch: reads the count; may throw (the error goes to on_error, the last value stays).
  nlohmann::json Get(const std::function<nlohmann::json()>& fetch,
                     const std::function<void(const std::string&)>& on_error = {}) {
    std::unique_lock refreshing(refresh_, std::try_to_lock);
    if (refreshing.owns_lock()) {
      const auto now = now_();
      if (!next_.has_value() || now >= *next_) {
        try {
          nlohmann::json fresh = fetch();
          next_ = now + max_age_;
          std::lock_guard value(value_mu_);
          value_ = std::move(fresh);
        } catch (const std::exception& e) {
          next_ = now + retry_after_;
          if (on_error) on_error(e.what());
        }
      }
    }
    std::lock_guard value(value_mu_);
    return value_;
  }

 private:
  const std::chrono::milliseconds max_age_;
  const std::chrono::milliseconds retry_after_;
  const Now now_;
  std::mutex refresh_;
  std::optional<std::chrono::steady_clock::time_point> next_;  // guarded by refresh_
  std::mutex value_mu_;   // held only to copy value_, never while fetching
  nlohmann::json value_;  // null until the first read
};

}  // namespace ferry::controller::web
