#pragma once
// Commands are idempotent by id: the controller retries a command (timeout, crash, lost reply)
// with the same id and must get the original answer, not a second execution. CommandLog remembers
// the last `capacity` results; a duplicate of a command still running is told so at once (the
// server answers 202 and the controller asks again), so retries never park worker threads.
//
// In memory only: after an agent restart the drivers' own idempotency (create of an identical
// domain and delete of a missing one both succeed) gives the same outcome for a retried command.
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

#include "api/wire/messages.hpp"

namespace ferry::agent {

class CommandLog {
 public:
  enum class Claim {
    kExecute,     // first time this id is seen: the caller runs it, then Finish() or Abandon()
    kReplay,      // already done: `result` holds the stored answer
    kInProgress,  // the same command is running now: ask again later
    kMismatch,    // the id was used for a different command: a controller bug, refuse it
  };
  struct Lookup {
    Claim claim = Claim::kExecute;
    wire::CommandResult result;  // set for kReplay
  };

  explicit CommandLog(size_t capacity) : capacity_(capacity) {}

  // `fingerprint` identifies the command's content (kind + args); only its hash is kept. Never
  // blocks: a duplicate of a running command gets kInProgress, so it never runs concurrently
  // with its original.
  Lookup Begin(const std::string& id, const std::string& fingerprint);
  // Stores the result (evicting the oldest beyond capacity) and wakes waiters.
  void Finish(const std::string& id, const wire::CommandResult& result);
  // The command was not executed (it was invalid): forget it and wake waiters.
  void Abandon(const std::string& id);

  size_t SizeForTest() const;

 private:
  using Fingerprint = size_t;  // std::hash of kind + args: the id, not the hash, is the key
  struct Entry {
    Fingerprint fingerprint;
    wire::CommandResult result;
  };

  const size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Fingerprint> in_flight_;  // id -> fingerprint
  std::unordered_map<std::string, Entry> done_;
  std::deque<std::string> order_;  // ids of done_ in completion order, oldest first
};

}  // namespace ferry::agent
