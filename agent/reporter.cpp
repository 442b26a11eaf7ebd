#include "agent/reporter.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "agent/address.hpp"
#include "common/errors.hpp"
#include "common/json_limits.hpp"
#include "common/uuid.hpp"

namespace ferry::agent {
namespace {

using nlohmann::json;

// 2 s to connect: the controller is on the same network; a SYN retransmit (1 s) still fits.
constexpr time_t kConnectTimeoutS = 2;
// 10 s to answer: a heartbeat is one batched database write on the controller; slower than
// this means it is overloaded, and retrying later is kinder than waiting.
constexpr time_t kReadTimeoutS = 10;
constexpr time_t kWriteTimeoutS = 10;
constexpr size_t kLoggedBodyChars = 200;  // enough for a Nova error body, not a page of HTML
constexpr int kMaxDoublings = 20;         // 2^20 x initial is beyond any sane cap

std::string Excerpt(const std::string& body) {
  return body.size() <= kLoggedBodyChars ? body : body.substr(0, kLoggedBodyChars) + "...";
}

// The class of a failure, for "log once per state change": same class, no new log line.
std::string FailureKind(const std::string& why) { return why.substr(0, why.find(':')); }

}  // namespace

Millis RetryDelay(int failures, Millis initial, Millis max, double jitter01) {
  Millis base = initial;
  for (int i = 0; i < std::min(failures, kMaxDoublings) && base < max; ++i) base *= 2;
  base = std::min(base, max);
  Millis half = base / 2;
  double scaled = static_cast<double>(half.count()) * std::clamp(jitter01, 0.0, 1.0);
  return half + Millis(std::llround(scaled));
}

Reporter::Reporter(ReporterConfig config, Driver& driver, Clock& clock)
    : config_(std::move(config)),
      path_prefix_(ParseUrl(config_.controller_url).path),
      driver_(driver),
      clock_(clock),
      client_(ParseUrl(config_.controller_url).Origin()),
      interval_(config_.heartbeat_interval),
      // Seeded by host name: reproducible per host, different across hosts.
      rng_(static_cast<std::mt19937::result_type>(std::hash<std::string>{}(config_.host))) {
  if (config_.agent_token.empty()) throw Error(Errc::kBadRequest, "the agent token is empty");
  client_.set_connection_timeout(kConnectTimeoutS);
  client_.set_read_timeout(kReadTimeoutS);
  client_.set_write_timeout(kWriteTimeoutS);
  client_.set_tcp_nodelay(true);  // no 40 ms delayed-ACK stall on kept-alive connections
  client_.set_default_headers({{"X-Auth-Token", config_.agent_token}});
}

Reporter::~Reporter() { Stop(); }

void Reporter::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Run(); });
}

void Reporter::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  client_.stop();  // abort a request in flight instead of waiting out its timeout
  if (thread_.joinable()) thread_.join();
}

Millis Reporter::HeartbeatInterval() const {
  std::lock_guard lock(mu_);
  return interval_;
}

void Reporter::Run() {
  spdlog::info("reporter started controller={} host={} heartbeat_interval_ms={}",
               config_.controller_url, config_.host, interval_.count());
  while (WaitFor(Step())) {
  }
  spdlog::info("reporter stopped host={}", config_.host);
}

bool Reporter::WaitFor(Millis delay) {
  std::unique_lock lock(mu_);
  wake_.wait_for(lock, delay, [this] { return stopping_; });
  return !stopping_;
}

Millis Reporter::Step() {
  std::string why;
  if (!registered_) {
    if (Register(why) != Outcome::kOk) return NoteFailure(why);
    registered_ = true;
    NoteSuccess();
    return HeartbeatInterval();
  }
  switch (Heartbeat(why)) {
    case Outcome::kOk:
      NoteSuccess();
      return HeartbeatInterval();
    case Outcome::kUnknownHost:
      // The controller lost or deleted our record: registering again restores it at once.
      spdlog::warn("controller does not know host={}; registering again", config_.host);
      registered_ = false;
      return Millis(0);
    case Outcome::kFailed:
      break;
  }
  return NoteFailure(why);
}

Reporter::Outcome Reporter::Register(std::string& why) {
  wire::RegisterRequest req;
  try {
    DriverInfo info = driver_.Info();
    req.hypervisor_type = info.hypervisor_type;
    req.hypervisor_version = info.hypervisor_version;
    req.simulated = info.simulated;
    req.vcpus = info.vcpus;
    req.memory_mb = info.memory_mb;
    req.local_gb = info.local_gb;
    req.cpu = info.cpu;
    req.datastores = info.datastores;
    req.domains = driver_.ListDomains();
  } catch (const std::exception& e) {
    why = std::string("hypervisor: ") + e.what();
    return Outcome::kFailed;
  }
  req.host = config_.host;
  req.cell = config_.cell;
  req.host_ip = config_.host_ip;
  req.migration_address = config_.migration_address;
  req.command_url = config_.command_url;

  Reply reply = Post("/agent/v1/register", req);
  if (!reply.error.empty()) {
    why = reply.error;
    return Outcome::kFailed;
  }
  try {
    // The fenced list is read entry by entry (FencedDomainsOf): a bad entry must not cost the
    // registration.
    json answer = reply.body;
    if (answer.is_object()) answer.erase("fenced_domains");
    auto resp = answer.get<wire::RegisterResponse>();
    if (resp.heartbeat_interval_s > 0) {
      std::lock_guard lock(mu_);
      interval_ = std::chrono::seconds(resp.heartbeat_interval_s);
    }
    spdlog::info(
        "registered with controller host={} host_uuid={} heartbeat_interval_ms={} "
        "domains={} simulated={}",
        config_.host, resp.host_uuid, HeartbeatInterval().count(), req.domains.size(),
        req.simulated);
  } catch (const json::exception& e) {
    why = std::string("bad register response: ") + e.what();
    return Outcome::kFailed;
  }
  FenceEvacuated(reply.body);
  return Outcome::kOk;
}

Reporter::Outcome Reporter::Heartbeat(std::string& why) {
  wire::Heartbeat hb;
  hb.host = config_.host;
  try {
    hb.domains = driver_.ListDomains();
  } catch (const std::exception& e) {
    why = std::string("hypervisor: ") + e.what();  // skip: an empty list would be a lie
    return Outcome::kFailed;
  }
  Reply reply = Post("/agent/v1/heartbeat", hb);
  if (reply.status == 404) return Outcome::kUnknownHost;
  if (!reply.error.empty()) {
    why = reply.error;
    return Outcome::kFailed;
  }
  int interval_s = reply.body.is_object() ? reply.body.value("heartbeat_interval_s", 0) : 0;
  if (interval_s > 0) {
    std::lock_guard lock(mu_);
    interval_ = std::chrono::seconds(interval_s);
  }
  spdlog::debug("heartbeat sent host={} domains={}", config_.host, hb.domains.size());
  FenceEvacuated(reply.body);
  return Outcome::kOk;
}

Reporter::Reply Reporter::Post(const std::string& path, const json& body) {
  Reply reply;
  auto res = client_.Post(path_prefix_ + path, body.dump(), "application/json");
  if (!res) {
    reply.error = "unreachable: " + httplib::to_string(res.error()) + " error";
    return reply;
  }
  reply.status = res->status;
  if (res->status < 200 || res->status >= 300) {
    reply.error = "http " + std::to_string(res->status) + ": " + Excerpt(res->body);
    return reply;
  }
  try {
    reply.body = res->body.empty() ? json::object() : ParseBoundedJson(res->body);
  } catch (const json::exception& e) {
    reply.error = std::string("bad response: ") + e.what();
  }
  return reply;
}

std::vector<std::string> FencedDomainsOf(const json& answer, std::vector<std::string>* problems) {
  std::vector<std::string> out;
  if (!answer.is_object() || !answer.contains("fenced_domains")) return out;
  const json& list = answer.at("fenced_domains");
  if (!list.is_array()) {
    problems->push_back("fenced_domains is not a list; ignored");
    return out;
  }
  size_t invalid = 0;
  std::string first_invalid;
  for (const auto& entry : list) {
    if (out.size() == kMaxFencedDomainsPerAnswer) {
      problems->push_back("fenced_domains lists " + std::to_string(list.size()) +
                          " entries; only the first " + std::to_string(kMaxFencedDomainsPerAnswer) +
                          " are read");
      break;
    }
    if (entry.is_string() && IsUuid(entry.get_ref<const std::string&>())) {
      out.push_back(entry.get<std::string>());
      continue;
    }
    if (invalid++ == 0) first_invalid = BoundedDump(entry);
  }
  if (invalid > 0) {
    problems->push_back("fenced_domains: skipped " + std::to_string(invalid) +
                        " entries that are not uuids (first: " + first_invalid + ")");
  }
  return out;
}

void Reporter::FenceEvacuated(const json& answer) {
  std::vector<std::string> problems;
  const auto uuids = FencedDomainsOf(answer, &problems);
  for (const auto& problem : problems) {
    spdlog::warn("controller answer to host={}: {}", config_.host, problem);
  }
  std::set<std::string> fenced;
  for (const auto& uuid : uuids) {
    try {
      driver_.FenceEvacuatedDomain(uuid);
    } catch (const std::exception& e) {
      // Not in `fenced`: the next answer lists it again and it is tried again then.
      spdlog::error(
          "cannot fence evacuated guest domain={} host={}: {}; trying again at the next answer",
          uuid, config_.host, e.what());
      continue;
    }
    if (fenced_.count(uuid) == 0) {
      spdlog::info(
          "fenced evacuated guest domain={} host={}: powered off if it ran here, kept "
          "defined, never started by the agent (the controller rebuilt it elsewhere)",
          uuid, config_.host);
    }
    fenced.insert(uuid);
  }
  fenced_ = std::move(fenced);
}

void Reporter::NoteSuccess() {
  if (!failure_kind_.empty()) {
    auto down_s = std::chrono::duration_cast<std::chrono::seconds>(clock_.Now() - failing_since_);
    spdlog::info("controller reachable again controller={} after_s={} attempts={}",
                 config_.controller_url, down_s.count(), failures_);
  }
  failure_kind_.clear();
  failures_ = 0;
}

Millis Reporter::NoteFailure(const std::string& why) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Millis(0);  // Stop() aborted the request: not a controller problem
  }
  std::string kind = FailureKind(why);
  if (failure_kind_.empty()) failing_since_ = clock_.Now();
  if (kind != failure_kind_) {
    spdlog::warn(
        "cannot report to controller controller={} host={} registered={} error=\"{}\"; "
        "retrying with backoff up to {} ms",
        config_.controller_url, config_.host, registered_.load(), why, config_.retry_max.count());
    failure_kind_ = kind;
  } else {
    spdlog::debug("still cannot report to controller error=\"{}\"", why);
  }
  std::uniform_real_distribution<double> jitter(0.0, 1.0);
  return RetryDelay(failures_++, config_.retry_initial, config_.retry_max, jitter(rng_));
}

}  // namespace ferry::agent
