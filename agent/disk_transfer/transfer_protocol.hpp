#pragma once
// The disk transfer protocol, spoken over one mutually authenticated TLS 1.3 connection from the
// source agent (DiskSender) to the destination agent (DiskReceiver).
//
// Frames: 1 byte type, 4 bytes big-endian payload length, payload.
//   HELLO   1  source → dest  JSON {"migration_uuid", "token", "disks": [{"target", "bytes"}],
//                             "manifest"} (manifest: the driver's text about the guest's disks,
//                             at most 32 KiB, kept with the move for the destination's driver)
//   OFFSETS 2  dest → source  JSON {"received": [bytes the destination already holds, per disk]}
//   DATA    3  source → dest  raw bytes of the current disk (1 .. 1 MiB)
//   HOLE    4  source → dest  8 bytes big-endian: a run of zeros of the current disk (≥ 1)
//   DONE    5  source → dest  JSON {"sha256": [hex digest of each whole disk]}
//   ACK     6  dest → source  empty: every digest verified against what the storage holds
//   REFUSE  7  dest → source  JSON {"error": "why"}: the connection ends after it; an error
//                             starting "busy" asks the source to send again shortly
//   ALIVE   8  source → dest  empty: the source is working without sending (hashing what the
//                             destination already holds, or a long hole), every few seconds,
//                             so the destination's idle timeout only ends dead connections
//
// A transfer: HELLO; OFFSETS (or REFUSE); then for each disk in the hello's order, the bytes
// from its offset to its end as DATA and HOLE frames (the "current disk" is the first one not
// yet whole); DONE; ACK (or REFUSE). The source hashes every disk from byte 0 whatever the
// offsets, so the digest covers what an earlier, cut transfer sent too. Control payloads are at
// most 64 KiB and parsed with a nesting bound; every field is checked (types, ranges, names).
// An unknown type, an oversized length or a frame out of place ends the connection.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/disk_transfer/tls_stream.hpp"

namespace ferry::agent::transfer {

enum class FrameType : uint8_t {
  kHello = 1,
  kOffsets = 2,
  kData = 3,
  kHole = 4,
  kDone = 5,
  kAck = 6,
  kRefuse = 7,
  kAlive = 8,
};

inline constexpr size_t kFrameHeaderBytes = 5;
// 64 KiB: a hello of 64 disks with a 256-byte token is ~5 KiB; anything near this is not ours.
inline constexpr uint32_t kMaxControlPayload = 64u << 10;
// 1 MiB: large enough that per-frame costs vanish next to the copy, small enough per buffer.
inline constexpr uint32_t kMaxDataPayload = 1u << 20;
// 64 TiB: QEMU's qcow2 maximum virtual size; no disk file of a guest is larger.
inline constexpr int64_t kMaxDiskBytes = 64LL << 40;
// 64 disks: more than any hypervisor attaches to one guest here (virtio-blk: ~28 per bus).
inline constexpr size_t kMaxDisksPerHello = 64;
// 32 KiB of manifest: a guest's disk list (target, kind, format, path) many times over.
inline constexpr size_t kMaxManifestBytes = 32u << 10;
// 1 KiB of refusal text: a sentence, not a dump.
inline constexpr size_t kMaxRefuseText = 1024;

struct FrameHeader {
  FrameType type = FrameType::kAck;
  uint32_t length = 0;
};

// Thrown for a malformed frame: the connection is closed (kBadRequest).
[[noreturn]] void ProtocolError(const std::string& what);

void EncodeHeader(FrameType type, uint32_t length, char* out);  // kFrameHeaderBytes at out
// Checks the type and that the length fits it; throws ProtocolError otherwise.
FrameHeader DecodeHeader(const char* in);

struct HelloDisk {
  std::string target;
  int64_t bytes = 0;
};
struct Hello {
  std::string migration_uuid;
  std::string token;
  std::vector<HelloDisk> disks;  // none: a guest without local disks (the manifest only)
  std::string manifest{};        // {}: aggregate inits that stop before it need not name it
};

bool IsDiskTarget(const std::string& s);  // ^[a-z]{1,8}[0-9]{0,3}$ ("vda", "sdb", "hdc1")
bool IsSha256Hex(const std::string& s);   // 64 lowercase hex digits

std::string EncodeHello(const Hello& hello);
Hello DecodeHello(std::string_view payload);
std::string EncodeOffsets(const std::vector<int64_t>& received);
std::vector<int64_t> DecodeOffsets(std::string_view payload);
std::string EncodeDone(const std::vector<std::string>& sha256);
std::vector<std::string> DecodeDone(std::string_view payload);
std::string EncodeRefuse(const std::string& error);
std::string DecodeRefuse(std::string_view payload);
std::array<char, 8> EncodeHole(int64_t length);
int64_t DecodeHole(std::string_view payload);

// Control frames on a stream: header and payload in one write.
void WriteFrame(TlsStream& stream, FrameType type, std::string_view payload, Deadline deadline);
// Reads one control frame (not DATA: that is read into its buffer by the receiver).
FrameHeader ReadFrame(TlsStream& stream, std::string* payload, Deadline deadline);

}  // namespace ferry::agent::transfer
