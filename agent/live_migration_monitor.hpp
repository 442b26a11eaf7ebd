#pragma once
// Reports live-migration progress to the controller (Nova's _live_migration_monitor, split the
// ferry way: the agent samples, the controller stores). Polls the driver's job stats every
// 0.5 s, POSTs a MigrationProgressBatch of every watched job to
// <controller>/agent/v1/migration-progress every report interval, and at once when a job ends
// (the driver tells it, Driver::SetLiveMigrationJobEndListener, so not at the next poll).
// A job's final report is re-posted every interval until the controller answers 2xx: losing it
// would leave the controller waiting for an outcome that already happened. Any other answer
// (404, 5xx, no connection) just means "try again next interval". Hypervisor-agnostic.
#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/driver.hpp"
#include "common/clock.hpp"

namespace ferry::agent {

// 0.5 s: Nova's libvirt monitor polls virDomainGetJobInfo this often.
inline constexpr std::chrono::milliseconds kJobPollInterval{500};
// 5 s: Nova's [libvirt] live_migration_monitor_interval default, for jobs adopted after an
// agent restart (their spec, and its monitor_interval_s, is not known any more).
inline constexpr std::chrono::seconds kDefaultReportInterval{5};

struct MonitorConfig {
  std::string controller_url;  // http(s)://host[:port][/prefix]
  std::string agent_token;     // sent as X-Auth-Token
  std::string host;
  std::chrono::milliseconds poll_interval = kJobPollInterval;
};

class LiveMigrationMonitor {
 public:
  // Throws ferry::Error(kBadRequest) for an unusable controller URL or an empty token.
  LiveMigrationMonitor(MonitorConfig config, Driver& driver, Clock& clock);
  ~LiveMigrationMonitor();
  LiveMigrationMonitor(const LiveMigrationMonitor&) = delete;
  LiveMigrationMonitor& operator=(const LiveMigrationMonitor&) = delete;

  // Adopts what the driver says is still to report (running jobs, jobs that ended while the
  // agent was down), then polls.
  void Start();
  // Wakes the thread, aborts an in-flight request and joins. Safe to call twice.
  void Stop();

  // Reports this job from now on, every report_interval, until its final report is
  // acknowledged. Watching a watched job again only updates the interval.
  void Watch(const std::string& migration_uuid, std::chrono::seconds report_interval);
  // The jobs still reported (running, or ended but not yet acknowledged).
  std::vector<std::string> Watched() const;

 private:
  struct Entry {
    std::chrono::milliseconds interval;
    wire::LiveMigrationJob last;
    bool have_sample = false;
  };

  void Run();
  void PollOnce();
  // True when the controller acknowledged (2xx).
  bool Post(const wire::MigrationProgressBatch& batch);

  const MonitorConfig config_;
  const std::string path_prefix_;
  Driver& driver_;
  Clock& clock_;
  httplib::Client client_;

  mutable std::mutex mu_;
  // What wakes the poll thread: Stop, or a job's end (the driver's listener holds it weakly).
  struct Signal {
    std::mutex mu;
    std::condition_variable cv;
    bool stopping = false;
    bool poll_now = false;  // a job ended: poll (and post) without waiting for the interval
  };
  const std::shared_ptr<Signal> signal_ = std::make_shared<Signal>();
  std::map<std::string, Entry> watched_;  // by migration uuid
  std::thread thread_;

  // Poll-thread state.
  TimePoint last_attempt_{};
  bool last_failed_ = false;
};

}  // namespace ferry::agent
