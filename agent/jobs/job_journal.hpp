#pragma once
// The job records on disk: <dir>/<migration uuid>.json, each replaced atomically and durably
// (common/durable_file.hpp), so an agent restarted during or after a migration still knows how
// it ended (hypervisors forget an ended job's outcome) and can adopt one still running.
//
// A record that cannot be read (torn by a crash of the file system, edited by hand, a name that
// is no uuid, a uuid that is not its name) is moved aside to <name>.corrupt and counted: its
// migration becomes unknown to this agent, which the controller handles by looking where the
// guest is. It is never guessed into "running" or "failed".
#include <atomic>
#include <string>
#include <vector>

#include "agent/jobs/job_record.hpp"

namespace ferry::agent {

class JobJournal {
 public:
  explicit JobJournal(std::string dir);  // empty: records nothing (no --state-dir)

  // False (logged, counted) when the record could not be written; the previous one is intact.
  bool Put(const JobRecord& record);
  // Forgets a record; a missing file is success.
  void Remove(const std::string& migration_uuid);
  // Every readable record; unreadable ones are quarantined.
  std::vector<JobRecord> LoadAll();

  bool Durable() const { return !dir_.empty(); }
  int failed_writes() const { return failed_writes_.load(); }
  int quarantined() const { return quarantined_.load(); }

 private:
  std::string PathOf(const std::string& migration_uuid) const;

  const std::string dir_;
  std::atomic<int> failed_writes_{0};
  std::atomic<int> quarantined_{0};
};

}  // namespace ferry::agent
