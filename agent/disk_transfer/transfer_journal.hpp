#pragma once
// The destination's record of each expected move (disk_receiver.hpp): one JSON file per move,
// <state_dir>/disk-transfers/<uuid>.json, replaced atomically and durably on every change, so a
// restarted agent resumes a transfer from what its storage is known to hold. A file that does
// not read back is renamed <file>.corrupt and logged, never fatal (that move's transfer then
// starts over from an Expect). An empty state_dir keeps nothing on disk.
#include <string>
#include <vector>

#include "agent/disk_transfer/disk_receiver.hpp"

namespace ferry::agent::transfer {

struct JournalEntry {
  IncomingTransfer transfer;
  std::string token_sha256;  // hex; the token itself is never stored
  bool sized = false;        // a hello has fixed every disk's bytes (a disk may be 0 bytes long)
  // Expected without a disk list: the first admitted hello's disks (and manifest) become it.
  bool source_declares = false;
};

class TransferJournal {
 public:
  explicit TransferJournal(const std::string& state_dir);

  std::vector<JournalEntry> LoadAll();
  // Throws ferry::Error(kUnavailable) when the record could not be made durable.
  void Put(const JournalEntry& entry);
  void Remove(const std::string& migration_uuid);

 private:
  std::string PathOf(const std::string& migration_uuid) const;

  std::string dir_;  // empty: memory only
};

}  // namespace ferry::agent::transfer
