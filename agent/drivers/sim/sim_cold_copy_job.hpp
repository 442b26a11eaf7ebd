#pragma once
// One sim cold migration's disk copy on the source: a thread that connects to the destination's
// receive_uri, presents the transfer token, learns how much of each disk the destination already
// has, and sends the rest as modelled chunks (sizes and offsets, no data) paced at the rate, one
// batch per 100 ms tick. It ends completed only once the destination acknowledged the last byte
// and the digest of what was sent. A job started again for the same migration (after an agent
// restart) resumes where the destination's bytes end.
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/drivers/sim/sim_cold_disks.hpp"
#include "api/wire/cold_migration_messages.hpp"
#include "api/wire/live_migration_messages.hpp"
#include "common/clock.hpp"

namespace ferry::agent::sim {

struct ColdCopyInput {
  wire::ColdMigrationSpec spec;
  std::vector<ColdDisk> disks;
  int64_t generation = 0;  // the content the chunks carry (sim_cold_disks.hpp)
  int64_t rate_bytes_per_s = 0;
  bool link_breaks_at_half = false;  // scenario cold-copy-breaks
};

class ColdCopyJob {
 public:
  // on_end: the job ended (completed, failed or cancelled); called once, from the job thread.
  ColdCopyJob(ColdCopyInput input, std::function<void(const wire::LiveMigrationJob&)> on_end,
              Clock& clock);
  // Stops the thread without an outcome (the agent is stopping; the record stays running and
  // the next agent resumes the copy).
  ~ColdCopyJob();
  ColdCopyJob(const ColdCopyJob&) = delete;
  ColdCopyJob& operator=(const ColdCopyJob&) = delete;

  void Start();
  wire::LiveMigrationJob Snapshot() const;
  void RequestAbort();

 private:
  void Run();
  void Copy();
  // Sends up to `budget` bytes of chunks; returns how many it sent.
  int64_t SendChunks(class LinkConnection& conn, int64_t budget);
  void Publish(int64_t rate);
  void End(const std::string& state, const std::string& error);
  bool Stopping() const;

  const ColdCopyInput in_;
  const std::function<void(const wire::LiveMigrationJob&)> on_end_;
  Clock& clock_;
  const std::string digest_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool abort_requested_ = false;
  wire::LiveMigrationJob snapshot_;

  // Job-thread state: bytes of each disk the destination has (acknowledged at hello) or was sent.
  std::vector<int64_t> sent_;
  std::thread thread_;
};

}  // namespace ferry::agent::sim
