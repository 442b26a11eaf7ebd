#pragma once
// The destination's digest check (internal to agent/disk_transfer): a thread that reads back
// from the storage what a connection has flushed, disk by disk in the order they arrive, and
// hashes it while the rest is still on its way. The check at the end then waits only for the
// last stretch; the digests still cover every byte as the storage holds it after its flush.
// A resumed transfer's held bytes are read back first, while new ones arrive.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/disk_transfer/disk_receiver.hpp"

namespace ferry::agent::transfer {

class ReadBackVerifier {
 public:
  // `flushed`: per disk, the bytes already in the storage (read back at once).
  ReadBackVerifier(DiskStore& store, std::string migration_uuid, std::vector<std::string> targets,
                   std::vector<int64_t> bytes, std::vector<int64_t> flushed,
                   const std::atomic<bool>& stopping);
  ~ReadBackVerifier();  // stops reading and joins
  ReadBackVerifier(const ReadBackVerifier&) = delete;
  ReadBackVerifier& operator=(const ReadBackVerifier&) = delete;

  // Disk `disk`'s bytes [0, upto) are in the storage.
  void Flushed(size_t disk, int64_t upto);
  // Once every disk is flushed whole: waits until all is read back and returns each disk's
  // SHA-256 ("" for one that did not read back at its length). Throws ferry::Error
  // (kUnavailable) when the storage could not be read or the receiver is stopping.
  std::vector<std::string> Digests();

 private:
  void Run();
  // Reads back [from, to) of disk i into `hash`; false when the storage held another length.
  bool ReadBack(size_t i, int64_t from, int64_t to, class Sha256& hash);

  DiskStore& store_;
  const std::string uuid_;
  const std::vector<std::string> targets_;
  const std::vector<int64_t> bytes_;
  const std::atomic<bool>& stopping_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int64_t> ready_;        // per disk: flushed up to here
  std::vector<std::string> digests_;  // per disk, once read back whole
  bool finished_ = false;
  bool stop_ = false;
  std::string error_;
  std::thread thread_;
};

}  // namespace ferry::agent::transfer
