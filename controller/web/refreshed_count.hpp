#pragma once
// A count (or an object of counts) that is expensive to read, served at most max_age old: the
// orphaned claims' tile reads every claim; the live moves' tiles read every move in flight, whose
// rows progress reports keep rewriting. A request answers the last value and never waits for a
// read while there is one to serve: a count that is due is read behind the requests, by its
// CountRefresher's thread, while someone asks for it. Only a cold count (none read yet, or
// expired) is read by the request that asks, so a page opened after a quiet spell shows
// numbers, not dashes.
// One read at a time. A failed read keeps the last value and is tried again only after
// retry_after, so a read that keeps timing out costs one attempt per window, not one per poll;
// a value older than expire_after is not served (null: the tile shows a dash rather than a
// number that silently stopped changing). Nothing is read while nobody asks.
#include <chrono>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace ferry::controller::web {

class RefreshedCount {
 public:
  using Clock = std::chrono::steady_clock;
  using Now = std::function<Clock::time_point()>;
  using Fetch = std::function<nlohmann::json()>;  // reads the count; may throw
  using OnError = std::function<void(const std::string&)>;
  struct Timing {
    std::chrono::milliseconds max_age;
    std::chrono::milliseconds retry_after;
    std::chrono::milliseconds expire_after;
  };

  RefreshedCount(
      Timing timing, Fetch fetch, OnError on_error = {}, Now now = [] { return Clock::now(); });

  // What a request serves: the last value, or null. Reads only a cold count, and only if no
  // other caller is reading it; a count that is merely due is left to the refresher.
  nlohmann::json Get();
  // The refresher's call: reads the count if it is due and someone asked since the last read.
  void RefreshIfDue();

 private:
  bool DueLocked(Clock::time_point now) const;  // refresh_ held
  void ReadLocked();                            // refresh_ held

  const Timing timing_;
  const Fetch fetch_;
  const OnError on_error_;
  const Now now_;
  std::mutex refresh_;                        // held while reading
  std::optional<Clock::time_point> next_;     // guarded by refresh_; none: read on the first ask
  bool asked_ = false;                        // guarded by value_mu_: someone asked since a read
  std::mutex value_mu_;                       // held only to copy value_, never while fetching
  nlohmann::json value_;                      // null until the first read
  std::optional<Clock::time_point> read_at_;  // guarded by value_mu_
};

}  // namespace ferry::controller::web
