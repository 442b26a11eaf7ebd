#include "agent/drivers/sim/sim_cold_copy_job.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "agent/drivers/sim/sim_migration_link.hpp"
#include "common/errors.hpp"

namespace ferry::agent::sim {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// 100 ms ticks: smooth progress for a 0.5 s monitor poll, ten small frames a second.
constexpr milliseconds kTick{100};
// 3 s to connect: the destination is prepared and listening; a SYN retransmit (1 s) fits twice.
constexpr int kConnectTimeoutMs = 3000;
// 10 s for the destination to answer hello or done: it persists a small state file (one fsync).
constexpr milliseconds kReplyTimeout{10'000};

double Seconds(TimePoint t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

int64_t Sum(const std::vector<int64_t>& v) {
  int64_t s = 0;
  for (int64_t x : v) s += x;
  return s;
}

// Waits for the destination's answer; a refusal or silence fails the job.
json AwaitColdReply(LinkConnection& conn, const char* what, Clock& clock,
                    const std::function<bool()>& stopping) {
  const TimePoint deadline = clock.Now() + kReplyTimeout;
  while (!stopping()) {
    if (auto frame = conn.Receive(static_cast<int>(kTick.count()))) {
      if (frame->is_object() && frame->value("type", "") != "refuse") return *frame;
      throw Error(Errc::kConflict, std::string("destination refused ") + what + ": " +
                                       (frame->is_object() ? frame->value("error", "no reason")
                                                           : std::string("no reason")));
    }
    if (clock.Now() > deadline) {
      throw Error(Errc::kUnavailable,
                  std::string("destination did not answer ") + what + " within 10 s");
    }
  }
  throw Error(Errc::kUnavailable, "agent stopping");
}

}  // namespace

ColdCopyJob::ColdCopyJob(ColdCopyInput input,
                         std::function<void(const wire::LiveMigrationJob&)> on_end, Clock& clock)
    : in_(std::move(input)),
      on_end_(std::move(on_end)),
      clock_(clock),
      digest_(ColdDiskDigest(in_.spec.domain.uuid, in_.disks, in_.generation)),
      sent_(in_.disks.size(), 0) {
  snapshot_.migration_uuid = in_.spec.migration_uuid;
  snapshot_.domain_uuid = in_.spec.domain.uuid;
  snapshot_.state = "running";
  snapshot_.phase = "copying";
  for (const auto& d : in_.disks) snapshot_.disk_total += d.bytes;
  snapshot_.disk_remaining = snapshot_.disk_total;
  snapshot_.sampled_at = Seconds(clock_.Now());
}

ColdCopyJob::~ColdCopyJob() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ColdCopyJob::Start() {
  thread_ = std::thread([this] { Run(); });
}

wire::LiveMigrationJob ColdCopyJob::Snapshot() const {
  std::lock_guard lock(mu_);
  return snapshot_;
}

void ColdCopyJob::RequestAbort() {
  {
    std::lock_guard lock(mu_);
    abort_requested_ = true;
  }
  wake_.notify_all();
}

bool ColdCopyJob::Stopping() const {
  std::lock_guard lock(mu_);
  return stop_;
}

void ColdCopyJob::Run() {
  try {
    Copy();
  } catch (const std::exception& e) {
    if (Stopping()) return;  // the agent is stopping: the next one resumes this copy
    End("failed", e.what());
  }
}

void ColdCopyJob::Copy() {
  spdlog::info("ferry-sim: cold copy starting migration={} domain={} to={} bytes={}",
               in_.spec.migration_uuid, in_.spec.domain.uuid, in_.spec.receive_uri,
               snapshot_.disk_total);
  LinkConnection conn = LinkConnection::Connect(in_.spec.receive_uri, kConnectTimeoutMs);
  json disks = json::array();
  for (const auto& d : in_.disks) disks.push_back({{"target", d.target}, {"bytes", d.bytes}});
  conn.Send(json{{"type", "cold-hello"},
                 {"migration_uuid", in_.spec.migration_uuid},
                 {"token", in_.spec.transfer_token},
                 {"disks", disks}});
  auto stopping = [this] { return Stopping(); };
  const json offsets = AwaitColdReply(conn, "the transfer", clock_, stopping);
  const json received = offsets.value("received", json::object());
  for (size_t i = 0; i < in_.disks.size(); ++i) {
    auto it = received.find(in_.disks[i].target);
    const int64_t have = it != received.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
    if (have < 0 || have > in_.disks[i].bytes) {
      throw Error(Errc::kConflict, "destination claims " + std::to_string(have) + " bytes of " +
                                       in_.disks[i].target + ", which has " +
                                       std::to_string(in_.disks[i].bytes));
    }
    sent_[i] = have;
  }
  if (Sum(sent_) > 0) {
    spdlog::info("ferry-sim: cold copy resumes migration={} at {} of {} bytes",
                 in_.spec.migration_uuid, Sum(sent_), snapshot_.disk_total);
  }
  Publish(in_.rate_bytes_per_s);
  TimePoint last = clock_.Now();
  double credit = 0;  // bytes the rate allows that a whole tick did not use yet
  while (Sum(sent_) < snapshot_.disk_total) {
    {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, kTick, [this] { return stop_ || abort_requested_; });
      if (stop_) return;
      if (abort_requested_) {
        lock.unlock();
        conn.Send(json{{"type", "cancel"}, {"reason", "aborted"}});
        End("cancelled", "");
        return;
      }
    }
    const TimePoint now = clock_.Now();
    credit += std::chrono::duration<double>(now - last).count() *
              static_cast<double>(in_.rate_bytes_per_s);
    last = now;
    const auto budget = static_cast<int64_t>(credit);
    credit -= static_cast<double>(SendChunks(conn, budget));
    // The destination answers chunks only to refuse one (then it hangs up): say why it did.
    if (auto refusal = conn.Receive(0)) {
      throw Error(Errc::kConflict, "destination refused a chunk: " +
                                       (refusal->is_object() ? refusal->value("error", "no reason")
                                                             : std::string("no reason")));
    }
    Publish(in_.rate_bytes_per_s);
    if (in_.link_breaks_at_half && 2 * Sum(sent_) >= snapshot_.disk_total) {
      // Leaving closes the connection: the destination keeps what it has.
      throw Error(Errc::kUnavailable,
                  "the copy link broke after " + std::to_string(Sum(sent_)) + " of " +
                      std::to_string(snapshot_.disk_total) +
                      " bytes (sim scenario cold-copy-breaks); the guest stays off on the "
                      "source with its disks");
    }
  }
  conn.Send(json{{"type", "done"}, {"digest", digest_}});
  const json ack = AwaitColdReply(conn, "the end of the copy", clock_, stopping);
  if (ack.value("type", "") != "ack") {
    throw Error(Errc::kConflict,
                "destination answered the end of the copy with '" + ack.value("type", "") + "'");
  }
  End("completed", "");
}

int64_t ColdCopyJob::SendChunks(LinkConnection& conn, int64_t budget) {
  int64_t used = 0;
  for (size_t i = 0; i < in_.disks.size() && used < budget; ++i) {
    const int64_t length = std::min(budget - used, in_.disks[i].bytes - sent_[i]);
    if (length <= 0) continue;
    conn.Send(json{{"type", "chunk"},
                   {"disk", in_.disks[i].target},
                   {"offset", sent_[i]},
                   {"length", length},
                   {"generation", in_.generation}});
    sent_[i] += length;
    used += length;
  }
  return used;
}

void ColdCopyJob::Publish(int64_t rate) {
  std::lock_guard lock(mu_);
  snapshot_.disk_processed = Sum(sent_);
  snapshot_.disk_remaining = snapshot_.disk_total - snapshot_.disk_processed;
  snapshot_.transfer_rate_bps = rate;
  snapshot_.sampled_at = Seconds(clock_.Now());
}

void ColdCopyJob::End(const std::string& state, const std::string& error) {
  Publish(0);
  wire::LiveMigrationJob final_state = Snapshot();
  final_state.state = state;
  final_state.phase = state == "completed" ? "done" : "copying";
  final_state.error = error;
  spdlog::info("ferry-sim: cold copy ended migration={} domain={} state={} bytes={} error=\"{}\"",
               in_.spec.migration_uuid, in_.spec.domain.uuid, state, final_state.disk_processed,
               error);
  on_end_(final_state);
  std::lock_guard lock(mu_);
  snapshot_ = final_state;
}

}  // namespace ferry::agent::sim
