#pragma once
// The source's end of a cold migration's disk transfer: one TLS connection to the destination's
// DiskReceiver (disk_receiver.hpp, protocol in transfer_protocol.hpp). It presents the move's
// transfer token, learns how much of each disk the destination already holds, hashes every disk
// whole (SHA-256; holes as zeros) while sending only what the destination lacks, paced at the
// bandwidth limit, and returns once the destination has verified every digest.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/disk_transfer/disk_io.hpp"
#include "agent/disk_transfer/tls_context.hpp"

namespace ferry::agent::transfer {

struct OutgoingDisk {
  std::string target;  // the guest's device name ("vda"), as the destination was told at prepare
  int64_t bytes = 0;   // the length of the disk's storage (a qcow2 file's length, not its size)
  std::function<std::unique_ptr<DiskSource>()> open;  // reads the whole disk from offset 0
};

struct SendRequest {
  std::string migration_uuid;
  std::string token;                // the move's transfer token
  std::string receive_uri;          // the destination's DiskReceiver::Uri()
  std::string peer_host;            // the destination's host name: its certificate must carry it
  std::vector<OutgoingDisk> disks;  // may be none (a guest without local disks)
  // The driver's description of the guest's disks for the destination's driver (at most
  // kMaxManifestBytes; IncomingTransfer::manifest there).
  std::string manifest;
  int64_t bandwidth_bytes_per_s = 0;  // 0: unlimited
  // While working without sending (hashing held bytes, long holes), an ALIVE frame this often:
  // well under the destination's idle timeout (ReceiverLimits::idle_timeout, 60 s).
  std::chrono::milliseconds keepalive_interval{5'000};
  // Bytes of all disks the destination holds (sent now or before) and their total; called at
  // least every second while sending.
  std::function<void(int64_t transferred, int64_t total)> progress;
  std::function<bool()> cancelled;  // polled between pieces: true ends the transfer at once
};

enum class SendOutcome { kVerified, kCancelled };

// kVerified once the destination acknowledged every disk verified; kCancelled as soon as
// `cancelled` said so (the connection is closed; the destination keeps what it has). Throws
// ferry::Error:
//   kUnavailable  the link failed or timed out, or the destination is still closing this
//                 move's earlier connection ("busy") (the transfer may resume: call again)
//   kConflict     the destination refused (wrong token or host, not prepared, a digest that
//                 does not verify; the message says which); a retry would be refused again
//   kBadRequest   the request itself is malformed (a uri that is not ferry-disk://, ...)
SendOutcome SendDisks(const TlsContext& tls, const SendRequest& request);

}  // namespace ferry::agent::transfer
