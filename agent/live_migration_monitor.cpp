#include "agent/live_migration_monitor.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "agent/address.hpp"
#include "common/errors.hpp"
#include "common/metrics/metrics.hpp"

namespace ferry::agent {
namespace {

using std::chrono::milliseconds;

// 2 s to connect, 10 s to answer: as the reporter (reporter.cpp); a progress batch is one
// small batched write on the controller.
constexpr time_t kConnectTimeoutS = 2;
constexpr time_t kReadTimeoutS = 10;
constexpr time_t kWriteTimeoutS = 10;
constexpr const char* kProgressPath = "/agent/v1/migration-progress";

bool Terminal(const wire::LiveMigrationJob& job) { return job.state != "running"; }

// Progress posts to the controller by result: ok (2xx), refused (another status), unreachable.
metrics::CounterFamily& PostsMetric() {
  static auto& c = []() -> metrics::CounterFamily& {
    auto& f = metrics::DefaultRegistry().AddCounter(
        "ferry_agent_progress_posts_total",
        "Progress posts to the controller, by result: ok (2xx), refused (another status), "
        "unreachable (no answer). Each carries every running job's report.",
        {"result"});
    for (const char* r : {"ok", "refused", "unreachable"}) f.With({r});
    return f;
  }();
  return c;
}

metrics::CounterFamily& ReportsMetric() {
  static auto& c = metrics::DefaultRegistry().AddCounter(
      "ferry_agent_progress_reports_total",
      "Job progress reports the controller accepted (one per job per post).");
  return c;
}

}  // namespace

LiveMigrationMonitor::LiveMigrationMonitor(MonitorConfig config, Driver& driver, Clock& clock)
    : config_(std::move(config)),
      path_prefix_(ParseUrl(config_.controller_url).path),
      driver_(driver),
      clock_(clock),
      client_(ParseUrl(config_.controller_url).Origin()) {
  if (config_.agent_token.empty()) throw Error(Errc::kBadRequest, "the agent token is empty");
  PostsMetric();  // the families show from the start
  ReportsMetric();
  client_.set_connection_timeout(kConnectTimeoutS);
  client_.set_read_timeout(kReadTimeoutS);
  client_.set_write_timeout(kWriteTimeoutS);
  client_.set_tcp_nodelay(true);  // no 40 ms delayed-ACK stall on kept-alive connections
  client_.set_default_headers({{"X-Auth-Token", config_.agent_token}});
}

LiveMigrationMonitor::~LiveMigrationMonitor() { Stop(); }

void LiveMigrationMonitor::Start() {
  try {
    for (const auto& job : driver_.LiveMigrationJobsToReport()) {
      spdlog::info("live migration monitor: adopting job migration={} domain={} state={}",
                   job.migration_uuid, job.domain_uuid, job.state);
      Watch(job.migration_uuid, kDefaultReportInterval);
    }
  } catch (const std::exception& e) {
    spdlog::warn("live migration monitor: cannot list running jobs error=\"{}\"", e.what());
  }
  // A job's end is pushed when the driver sees it (the migrate call returning), not at the
  // next poll: the controller finishes the move that much sooner.
  // The listener holds the signal weakly: it may outlive this monitor in the driver, and then
  // does nothing.
  driver_.SetLiveMigrationJobEndListener(
      [weak = std::weak_ptr<Signal>(signal_)](const std::string&) {
        if (auto signal = weak.lock()) {
          {
            std::lock_guard lock(signal->mu);
            signal->poll_now = true;
          }
          signal->cv.notify_all();
        }
      });
  std::lock_guard lock(signal_->mu);
  if (thread_.joinable() || signal_->stopping) return;
  thread_ = std::thread([this] { Run(); });
}

void LiveMigrationMonitor::Stop() {
  {
    std::lock_guard lock(signal_->mu);
    signal_->stopping = true;
  }
  signal_->cv.notify_all();
  client_.stop();
  if (thread_.joinable()) thread_.join();
}

void LiveMigrationMonitor::Watch(const std::string& migration_uuid,
                                 std::chrono::seconds report_interval) {
  {
    std::lock_guard lock(mu_);
    auto [it, added] = watched_.try_emplace(migration_uuid, Entry{report_interval, {}, false});
    it->second.interval = report_interval;
    if (added) {
      spdlog::info("live migration monitor: watching migration={} report_interval_s={}",
                   migration_uuid, report_interval.count());
    }
  }
}

std::vector<std::string> LiveMigrationMonitor::Watched() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [uuid, e] : watched_) out.push_back(uuid);
  return out;
}

void LiveMigrationMonitor::Run() {
  for (;;) {
    PollOnce();
    std::unique_lock lock(signal_->mu);
    signal_->cv.wait_for(lock, config_.poll_interval,
                         [this] { return signal_->stopping || signal_->poll_now; });
    if (signal_->stopping) return;
    signal_->poll_now = false;
  }
}

void LiveMigrationMonitor::PollOnce() {
  std::vector<std::string> uuids = Watched();
  if (uuids.empty()) return;
  bool ended_now = false;
  for (const auto& uuid : uuids) {
    std::optional<wire::LiveMigrationJob> job;
    try {
      job = driver_.LiveMigrationJobStats(uuid);
    } catch (const std::exception& e) {
      spdlog::warn("live migration monitor: cannot read job migration={} error=\"{}\"", uuid,
                   e.what());
      continue;  // report the last sample again rather than a guess
    }
    std::lock_guard lock(mu_);
    auto it = watched_.find(uuid);
    if (it == watched_.end()) continue;
    if (!job) {
      // The hypervisor forgot it (its record is gone): there is nothing true left to report.
      spdlog::warn("live migration monitor: hypervisor no longer knows migration={}", uuid);
      watched_.erase(it);
      continue;
    }
    bool was_terminal = it->second.have_sample && Terminal(it->second.last);
    if (Terminal(*job) && !was_terminal) {
      ended_now = true;
      spdlog::info("live migration job ended migration={} state={} error=\"{}\"", uuid, job->state,
                   job->error);
    }
    it->second.last = *job;
    it->second.have_sample = true;
  }

  wire::MigrationProgressBatch batch;
  batch.host = config_.host;
  milliseconds interval = milliseconds::max();
  {
    std::lock_guard lock(mu_);
    for (const auto& [uuid, e] : watched_) {
      if (!e.have_sample) continue;
      batch.reports.push_back(e.last);
      interval = std::min(interval, std::chrono::duration_cast<milliseconds>(e.interval));
    }
  }
  if (batch.reports.empty()) return;
  // A failed post waits one interval like any other, never a tight loop.
  bool due = clock_.Now() - last_attempt_ >= interval || (ended_now && !last_failed_);
  if (!due) return;
  last_attempt_ = clock_.Now();
  last_failed_ = !Post(batch);
  if (last_failed_) return;
  std::vector<std::string> acknowledged;
  {
    std::lock_guard lock(mu_);
    for (const auto& sent : batch.reports) {
      auto it = watched_.find(sent.migration_uuid);
      // Only the final state that was sent is acknowledged; anything newer is reported next.
      if (it != watched_.end() && Terminal(sent) && it->second.last.state == sent.state) {
        watched_.erase(it);
        acknowledged.push_back(sent.migration_uuid);
      }
    }
  }
  // Outside the lock: the driver writes its journal. A restart before this re-reports the
  // outcome, which the controller takes again (it ignores reports of ended migrations).
  for (const auto& uuid : acknowledged) driver_.LiveMigrationJobReported(uuid);
}

bool LiveMigrationMonitor::Post(const wire::MigrationProgressBatch& batch) {
  nlohmann::json body = batch;
  auto res = client_.Post(path_prefix_ + kProgressPath, body.dump(), "application/json");
  if (!res) {
    PostsMetric().With({"unreachable"}).Inc();
    spdlog::warn("live migration monitor: controller unreachable error={} reports={}",
                 httplib::to_string(res.error()), batch.reports.size());
    return false;
  }
  if (res->status < 200 || res->status >= 300) {
    PostsMetric().With({"refused"}).Inc();
    spdlog::warn("live migration monitor: controller answered {} to progress reports={}",
                 res->status, batch.reports.size());
    return false;
  }
  PostsMetric().With({"ok"}).Inc();
  ReportsMetric().Get().Inc(static_cast<double>(batch.reports.size()));
  spdlog::debug("live migration progress posted reports={}", batch.reports.size());
  return true;
}

}  // namespace ferry::agent
