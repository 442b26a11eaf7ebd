#pragma once
// A count that is expensive to read (the orphaned claims' tile reads every claim), served at most
// max_age old: one caller at a time refreshes it while the others answer the last value (null
// before the first). A failed refresh keeps the last value and is tried again only after
// retry_after, so a read that keeps timing out costs one attempt per window, not one per poll.
#include <atomic>
#include <chrono>
#include <cstdint>
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
  nlohmann::json Get(const std::function<int64_t()>& fetch,
                     const std::function<void(const std::string&)>& on_error = {}) {
    std::unique_lock refreshing(refresh_, std::try_to_lock);
    if (refreshing.owns_lock()) {
      const auto now = now_();
      if (!next_.has_value() || now >= *next_) {
        try {
          count_ = fetch();
          next_ = now + max_age_;
        } catch (const std::exception& e) {
          next_ = now + retry_after_;
          if (on_error) on_error(e.what());
        }
      }
    }
    const int64_t count = count_.load();
    return count < 0 ? nlohmann::json(nullptr) : nlohmann::json(count);
  }

 private:
  const std::chrono::milliseconds max_age_;
  const std::chrono::milliseconds retry_after_;
  const Now now_;
  std::mutex refresh_;
  std::optional<std::chrono::steady_clock::time_point> next_;  // guarded by refresh_
  std::atomic<int64_t> count_{-1};
};

}  // namespace ferry::controller::web
