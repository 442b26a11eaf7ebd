#pragma once
// Keeps the controller informed: registers the host, then heartbeats the full domain inventory.
// The controller marks a host down when heartbeats stop, so the reporter never sends a guess:
// if the driver cannot list domains, that heartbeat is skipped rather than sent empty.
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/driver.hpp"
#include "common/clock.hpp"

namespace ferry::agent {

using Millis = std::chrono::milliseconds;

// 10 s: Nova's report_interval. The controller's answer (heartbeat_interval_s > 0) wins.
inline constexpr Millis kDefaultHeartbeatInterval{10'000};
// First retry after 1 s (a controller restart takes seconds), doubling up to 30 s: half of
// Nova's service_down_time (60 s), so a recovered controller sees the host up before it would
// declare it down, while a thousand agents do not hammer a controller that is coming back.
inline constexpr Millis kDefaultRetryInitial{1'000};
inline constexpr Millis kDefaultRetryMax{30'000};
// 100,000 fenced guests per answer: a host runs hundreds of guests, so even every guest it ever
// had, evacuated, fits; the rest of a longer (corrupt) list waits for a later answer.
inline constexpr size_t kMaxFencedDomainsPerAnswer = 100000;

// The uuids of an answer's fenced_domains (RegisterResponse / HeartbeatResponse), at most
// kMaxFencedDomainsPerAnswer, in order. An entry that is not a uuid string is skipped, and each
// kind of problem is said in *problems (one line each), so one bad entry never costs the others.
std::vector<std::string> FencedDomainsOf(const nlohmann::json& answer,
                                         std::vector<std::string>* problems);

struct ReporterConfig {
  std::string controller_url;  // http(s)://host[:port][/prefix]
  std::string agent_token;     // sent as X-Auth-Token
  std::string host;
  std::string cell = "cell1";
  std::string host_ip;            // control-plane address of this host
  std::string migration_address;  // inbound live-migration address
  std::string command_url;        // where the controller reaches this agent's command server
  Millis heartbeat_interval = kDefaultHeartbeatInterval;
  Millis retry_initial = kDefaultRetryInitial;
  Millis retry_max = kDefaultRetryMax;
};

// Delay before retry number `failures` (0-based): exponential, capped, with "equal jitter"
// (half fixed, half scaled by jitter01 in [0,1]) so agents cut off together do not retry in step.
Millis RetryDelay(int failures, Millis initial, Millis max, double jitter01);

class Reporter {
 public:
  // Throws ferry::Error(kBadRequest) for an unusable controller URL.
  Reporter(ReporterConfig config, Driver& driver, Clock& clock);
  ~Reporter();
  Reporter(const Reporter&) = delete;
  Reporter& operator=(const Reporter&) = delete;

  void Start();
  // Wakes the thread, aborts an in-flight request and joins. Safe to call twice.
  void Stop();

  bool Registered() const { return registered_; }
  Millis HeartbeatInterval() const;

 private:
  enum class Outcome { kOk, kUnknownHost, kFailed };
  struct Reply {
    int status = 0;  // 0: no HTTP answer at all
    std::string error;
    nlohmann::json body;
  };

  void Run();
  Millis Step();  // one register or heartbeat attempt; returns the wait before the next
  Outcome Register(std::string& why);
  Outcome Heartbeat(std::string& why);
  Reply Post(const std::string& path, const nlohmann::json& body);
  // Powers off at once every guest the controller says was evacuated from this host
  // (Driver::FenceEvacuatedDomain), before the next report. A failure is logged; the
  // controller repeats the list in every answer, so it is tried again then.
  void FenceEvacuated(const nlohmann::json& answer);
  void NoteSuccess();
  Millis NoteFailure(const std::string& why);
  bool WaitFor(Millis delay);  // false when stopping

  const ReporterConfig config_;
  const std::string path_prefix_;
  Driver& driver_;
  Clock& clock_;
  httplib::Client client_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  Millis interval_;
  std::thread thread_;

  // Reporter-thread state.
  std::atomic<bool> registered_{false};
  int failures_ = 0;
  std::string failure_kind_;  // last logged failure class, "" while the link is fine
  TimePoint failing_since_{};
  std::mt19937 rng_;
  // Guests fenced at the previous answer: each is logged at info once, not at every heartbeat.
  std::set<std::string> fenced_;
};

}  // namespace ferry::agent
