#pragma once
// Lets a request thread sleep until a move it started changes status on this controller,
// instead of polling the database (Nova before 2.34 answers live-migrate only after the
// conductor's pre-checks). Kinds call Changed after every committed status change; a waiter
// reads the move once per change, and once more at its deadline in case the change happened
// on another controller.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace ferry::controller::moves {

class StatusWaiters {
 public:
  // Registered before the move can change (before the engine is woken), so no change is
  // missed; unregistered when it goes out of scope.
  class Watch {
   public:
    Watch(StatusWaiters& board, std::string uuid);
    ~Watch();
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;
    // True when the move changed status since the last call (or since the watch began);
    // false when `deadline` came first.
    bool WaitForChange(std::chrono::steady_clock::time_point deadline);

   private:
    StatusWaiters& board_;
    std::string uuid_;
    uint64_t seen_ = 0;
  };

  void Changed(const std::string& uuid);
  // Called after every change of any move (outside the board's lock): the drain runner looks at
  // its drains at once when one of their moves ends, instead of at its next tick. Set before
  // the engine starts; nullptr removes it.
  void OnEveryChange(std::function<void()> fn) {
    std::lock_guard lock(mu_);
    on_every_change_ = std::move(fn);
  }

 private:
  std::function<void()> on_every_change_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::pair<int, uint64_t>> watched_;  // uuid -> (watches, changes)
};

}  // namespace ferry::controller::moves
