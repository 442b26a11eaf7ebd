#pragma once
// One connection to a DiskReceiver (internal to agent/disk_transfer): the handshake and hello
// within the handshake timeout, the checks of ReceiverMoves::Admit, then the disks' frames into
// their sinks with checkpoints, and the digest check at DONE. Returns when the connection is
// done with, whatever happened (failures are logged with the peer's address).
#include <atomic>

#include "agent/disk_transfer/disk_receiver.hpp"
#include "agent/disk_transfer/receiver_moves.hpp"
#include "agent/disk_transfer/tls_stream.hpp"

namespace ferry::agent::transfer {

void ServeConnection(TlsStream& stream, ReceiverMoves& moves, DiskStore& store,
                     const ReceiverLimits& limits, const std::atomic<bool>& stopping);

}  // namespace ferry::agent::transfer
