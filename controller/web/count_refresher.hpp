#pragma once
// The thread that reads the dashboard's expensive counts behind the requests (RefreshedCount):
// it looks every `tick` for a count that is due and that someone asked for since its last read,
// so no poll waits for a count's read and a count is at most max_age + tick old while watched.
// Owned by main, started with the controller's other loops and stopped before the database it
// reads from is gone.
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "controller/web/refreshed_count.hpp"

namespace ferry::controller::web {

class CountRefresher {
 public:
  // 250 ms: an eighth of the page's 2 s poll; a look at a count that is not due takes a lock.
  explicit CountRefresher(std::chrono::milliseconds tick = std::chrono::milliseconds(250))
      : tick_(tick) {}
  ~CountRefresher();
  CountRefresher(const CountRefresher&) = delete;
  CountRefresher& operator=(const CountRefresher&) = delete;

  // A count this refresher reads when it is due. Counts are added before Start.
  std::shared_ptr<RefreshedCount> Add(RefreshedCount::Timing timing, RefreshedCount::Fetch fetch,
                                      RefreshedCount::OnError on_error);
  void Start();
  // Returns once a read under way has ended: its statement timeout bounds it, or, in an outage,
  // its pool's acquire and connect timeouts. Counts asked afterwards serve what they have; a
  // cold one is still read by the request.
  void Stop();

 private:
  void Loop();

  const std::chrono::milliseconds tick_;
  std::vector<std::shared_ptr<RefreshedCount>> counts_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace ferry::controller::web
