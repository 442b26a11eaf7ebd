#pragma once
// The highest lease epoch this agent has seen per live migration (wire::LeaseFence): a command
// that carries an older one comes from a controller whose lease another controller has taken
// over since, and is refused before it runs (review M2: leases protected commits, not side
// effects). Durable: <dir>/<migration uuid> holds the epoch, written with WriteFileDurably
// before the command that raised it runs, so an agent restart (which forgets the command log)
// cannot let a stale command through.
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace ferry::agent {

// 30 days: a migration is driven for minutes to hours (its completion timeout); a controller
// stalled longer than this is not a realistic sender, and the directory must not grow forever.
inline constexpr auto kLeaseEpochRetention = std::chrono::hours(24 * 30);

class LeaseFences {
 public:
  // dir empty: memory only (tests that build a CommandServer without a state dir).
  explicit LeaseFences(std::string dir);

  struct Verdict {
    enum class Kind { kAdmit, kStale, kUnrecorded } kind = Kind::kAdmit;
    int64_t highest = 0;  // the highest epoch known before this command
    std::string error;    // kUnrecorded: why the new epoch could not be written
  };
  // Admits `epoch` for `migration_uuid` (a uuid: callers validate it) when it is not older than
  // the highest seen, recording it first when it is newer. kUnrecorded: the new epoch could not
  // be written durably; the command must not run (a restart would forget the fence).
  Verdict Admit(const std::string& migration_uuid, int64_t epoch);

  std::optional<int64_t> HighestForTest(const std::string& migration_uuid) const;

 private:
  void LoadAll();

  const std::string dir_;
  mutable std::mutex mu_;  // held across the durable write: admissions of one epoch are ordered
  std::map<std::string, int64_t> highest_;
};

}  // namespace ferry::agent
