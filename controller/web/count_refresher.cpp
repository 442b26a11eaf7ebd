#include "controller/web/count_refresher.hpp"

#include <utility>

namespace ferry::controller::web {

std::shared_ptr<RefreshedCount> CountRefresher::Add(RefreshedCount::Timing timing,
                                                    RefreshedCount::Fetch fetch,
                                                    RefreshedCount::OnError on_error) {
  auto count = std::make_shared<RefreshedCount>(timing, std::move(fetch), std::move(on_error));
  std::lock_guard lock(mu_);
  counts_.push_back(count);
  return count;
}

void CountRefresher::RefreshDue() {
  std::lock_guard lock(mu_);
  for (const auto& count : counts_) count->RefreshIfDue();
}

}  // namespace ferry::controller::web
