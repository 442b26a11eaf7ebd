#pragma once
// The dashboard's expensive counts (RefreshedCount), read behind the requests: main runs
// RefreshDue on a conductor::Periodic every 250 ms, which reads each count that is due and that
// someone asked for since its last read. No poll waits for a count's read, and a count is at
// most max_age + 250 ms old while watched.
#include <memory>
#include <mutex>
#include <vector>

#include "controller/web/refreshed_count.hpp"

namespace ferry::controller::web {

class CountRefresher {
 public:
  // A count that RefreshDue reads when it is due.
  std::shared_ptr<RefreshedCount> Add(RefreshedCount::Timing timing, RefreshedCount::Fetch fetch,
                                      RefreshedCount::OnError on_error);
  // Reads what is due, one count after another (each read's errors stay with its count).
  void RefreshDue();

 private:
  std::mutex mu_;  // counts are added at start-up, read by the periodic task
  std::vector<std::shared_ptr<RefreshedCount>> counts_;
};

}  // namespace ferry::controller::web
