#pragma once
// The moves a DiskReceiver expects (internal to agent/disk_transfer): what each may send, how
// much of each disk is known to be in the storage, and which connection, if any, is serving it.
// Every change is in the journal before it counts. Thread-safe.
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/disk_transfer/disk_receiver.hpp"
#include "agent/disk_transfer/tls_stream.hpp"
#include "agent/disk_transfer/transfer_journal.hpp"
#include "agent/disk_transfer/transfer_protocol.hpp"

namespace ferry::agent::transfer {

// One connection's hold on a move, from an admitted hello to Release.
struct Claim {
  std::string migration_uuid;
  uint64_t generation = 0;           // which Expect of the uuid: a forgotten move stays forgotten
  std::vector<std::string> targets;  // the hello's order, which the transfer follows
  std::vector<int64_t> bytes;        // per hello disk
  std::vector<int64_t> received;     // per hello disk, as recorded at the hello
};

class ReceiverMoves {
 public:
  ReceiverMoves(const std::string& state_dir, size_t max_disks);

  void Expect(const std::string& migration_uuid, const std::string& token,
              const std::string& source_host, const std::vector<std::string>& targets);
  std::optional<IncomingTransfer> Find(const std::string& migration_uuid) const;
  void Forget(const std::string& migration_uuid);

  // Checks a hello against its move and the peer's certificate; on success the move is this
  // connection's (others are refused "busy") until Release. Otherwise *refusal says why.
  std::optional<Claim> Admit(const Hello& hello, const TlsStream& stream, std::string* refusal);
  // How far each disk (hello order) is known to be in the storage.
  void Record(const Claim& claim, const std::vector<int64_t>& received);
  // The digest check's outcome: `sha256` per hello disk when verified, else empty.
  void RecordVerified(const Claim& claim, const std::vector<std::string>& sha256, bool verified);
  // Records `received` as Record does and lets the move go, at once: the next connection of
  // the move finds the offsets this one reached.
  void Release(const Claim& claim, const std::vector<int64_t>& received);

 private:
  struct Move {
    JournalEntry entry;
    uint64_t generation = 0;
    int active_fd = -1;  // the socket of the connection serving it
  };
  std::string AdmitLocked(const Hello& hello, const TlsStream& stream, Move& move);
  Move* Current(const Claim& claim);
  static IncomingDisk* DiskOf(Move& move, const std::string& target);
  void RecordLocked(const Claim& claim, const std::vector<int64_t>& received);
  void PutLocked(const JournalEntry& entry);  // logs failures: the transfer goes on

  const size_t max_disks_;
  mutable std::mutex mu_;
  TransferJournal journal_;
  std::map<std::string, Move> moves_;
  uint64_t next_generation_ = 1;
};

}  // namespace ferry::agent::transfer
