#pragma once
// The destination's end of cold migrations' disk transfers: one TLS listener per agent on its
// migration address, serving every move this host prepared. A move is expected (Expect, at
// prepare) before any byte of it is taken; what arrived is recorded in a journal under the
// agent's state dir every few MiB and seconds, so a transfer cut by either agent's restart
// resumes from there. At the end every disk is read back from its storage and its SHA-256
// compared with the source's before the move counts as verified (Find(...)->verified): read back
// stretch by stretch as each is flushed, so the check overlaps the transfer and the end waits only
// for the last stretch (the digest still covers every byte as the storage holds it).
//
// Hostile input: a peer is only a socket until its certificate (the deployment CA, the move's
// source host name) and the move's token check; connections are bounded in number, the TLS
// handshake and the hello in time, every read in idle time and every frame in size.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/disk_transfer/disk_io.hpp"
#include "agent/disk_transfer/tls_context.hpp"

namespace ferry::agent::transfer {

// Where a move's disks go, implemented by the destination's driver.
class DiskStore {
 public:
  virtual ~DiskStore() = default;
  // Storage for disk `target` of the move, zero-filled and exactly `bytes` long. Called at every
  // hello of the move: storage that already exists with that length is kept (a resumed
  // transfer); throws ferry::Error to refuse (the message goes to the source).
  virtual void Allocate(const std::string& migration_uuid, const std::string& target,
                        int64_t bytes) = 0;
  virtual std::unique_ptr<DiskSink> OpenSink(const std::string& migration_uuid,
                                             const std::string& target, int64_t offset) = 0;
  // Reads back [offset, offset + length) of what was received (the digest check, which reads
  // each stretch once it is flushed, while the rest is still arriving).
  virtual std::unique_ptr<DiskSource> OpenReceived(const std::string& migration_uuid,
                                                   const std::string& target, int64_t offset,
                                                   int64_t length) = 0;
};

struct IncomingDisk {
  std::string target;
  int64_t bytes = 0;     // 0 until the source's first hello says
  int64_t received = 0;  // recorded as in the storage (DiskSink::Flush)
  std::string sha256;    // hex, once verified
};

struct IncomingTransfer {
  std::string migration_uuid;
  std::string source_host;  // the sender's certificate must carry this name
  std::vector<IncomingDisk> disks;
  std::string manifest;   // the source's, from its first admitted hello
  bool verified = false;  // every disk received whole and its digest equal to the source's
};

struct ReceiverLimits {
  int max_connections = 8;                               // beyond: accepted and closed at once
  std::chrono::milliseconds handshake_timeout{10'000};   // TLS handshake + hello
  std::chrono::milliseconds idle_timeout{60'000};        // any later read or write
  std::chrono::milliseconds checkpoint_interval{2'000};  // journal at least this often ...
  int64_t checkpoint_bytes = 64LL << 20;                 // ... or after this many bytes
  size_t max_disks = 16;
};

class DiskReceiver {
 public:
  // Listens on address:port (port 0: any) and starts serving. `state_dir` holds the journal
  // (one file per expected move; empty: in memory only). Throws ferry::Error(kUnavailable)
  // when it cannot listen.
  DiskReceiver(const TlsContext& tls, DiskStore& store, std::string state_dir,
               const std::string& address, int port, ReceiverLimits limits = {});
  ~DiskReceiver();  // stops listening, closes connections, joins
  DiskReceiver(const DiskReceiver&) = delete;
  DiskReceiver& operator=(const DiskReceiver&) = delete;

  std::string Uri() const;  // "ferry-disk://<address>:<port>"

  // The move's disks may now arrive from `source_host` presenting `token` (only its SHA-256 is
  // kept). Recorded in the journal before it returns. Idempotent for the same token and disks;
  // kConflict for the same move with another token or other disks. `targets` empty: the disks
  // are the source's to declare (any number, none included), fixed by its first admitted hello.
  void Expect(const std::string& migration_uuid, const std::string& token,
              const std::string& source_host, const std::vector<std::string>& targets);
  std::optional<IncomingTransfer> Find(const std::string& migration_uuid) const;
  // The move ended here (revert, rollback, confirmed): its record goes; a transfer of it in
  // progress is cut. The driver deletes the storage.
  void Forget(const std::string& migration_uuid);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry::agent::transfer
