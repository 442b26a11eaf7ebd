#include "agent/disk_transfer/receiver_moves.hpp"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <set>

#include "agent/disk_transfer/digest.hpp"
#include "common/errors.hpp"
#include "common/uuid.hpp"

namespace ferry::agent::transfer {
namespace {

// 1 KiB and 253 (the longest DNS name): as the protocol bounds a token, and host names.
constexpr size_t kMaxTokenBytes = 1024;
constexpr size_t kMaxHostName = 253;

bool SameHex(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::set<std::string> TargetsOf(const std::vector<IncomingDisk>& disks) {
  std::set<std::string> out;
  for (const IncomingDisk& d : disks) out.insert(d.target);
  return out;
}

}  // namespace

ReceiverMoves::ReceiverMoves(const std::string& state_dir, size_t max_disks)
    : max_disks_(max_disks), journal_(state_dir) {
  for (JournalEntry& e : journal_.LoadAll()) {
    const std::string uuid = e.transfer.migration_uuid;
    moves_[uuid] = Move{std::move(e), next_generation_++, -1};
  }
}

void ReceiverMoves::Expect(const std::string& migration_uuid, const std::string& token,
                           const std::string& source_host,
                           const std::vector<std::string>& targets) {
  auto bad = [&](const std::string& what) {
    throw Error(Errc::kBadRequest,
                "disk transfer of " + migration_uuid.substr(0, 64) + ": " + what);
  };
  if (!IsUuid(migration_uuid)) bad("not a migration uuid");
  if (token.empty() || token.size() > kMaxTokenBytes) bad("a token of 1 to 1024 bytes is needed");
  if (source_host.empty() || source_host.size() > kMaxHostName) bad("no source host name");
  if (targets.size() > max_disks_) bad("more than " + std::to_string(max_disks_) + " disks");
  JournalEntry entry;
  entry.source_declares = targets.empty();
  entry.transfer.migration_uuid = migration_uuid;
  entry.transfer.source_host = source_host;
  entry.token_sha256 = Sha256Hex(token);
  for (const std::string& t : targets) {
    if (!IsDiskTarget(t)) bad("'" + t.substr(0, 64) + "' is not a disk device name");
    entry.transfer.disks.push_back({t, 0, 0, ""});
  }
  if (TargetsOf(entry.transfer.disks).size() != targets.size()) bad("a disk is named twice");

  std::lock_guard lock(mu_);
  if (auto it = moves_.find(migration_uuid); it != moves_.end()) {
    const JournalEntry& known = it->second.entry;
    if (SameHex(known.token_sha256, entry.token_sha256) &&
        known.transfer.source_host == source_host &&
        known.source_declares == entry.source_declares &&
        (entry.source_declares ||
         TargetsOf(known.transfer.disks) == TargetsOf(entry.transfer.disks))) {
      return;  // prepared again (a retried command): nothing changes
    }
    throw Error(Errc::kConflict, "migration " + migration_uuid +
                                     " is expected here with another token, source host or disks");
  }
  journal_.Put(entry);  // throws: not expected unless recorded
  moves_[migration_uuid] = Move{std::move(entry), next_generation_++, -1};
}

std::optional<IncomingTransfer> ReceiverMoves::Find(const std::string& migration_uuid) const {
  std::lock_guard lock(mu_);
  auto it = moves_.find(migration_uuid);
  if (it == moves_.end()) return std::nullopt;
  return it->second.entry.transfer;
}

void ReceiverMoves::Forget(const std::string& migration_uuid) {
  std::lock_guard lock(mu_);
  auto it = moves_.find(migration_uuid);
  if (it == moves_.end()) return;
  if (it->second.active_fd >= 0) ::shutdown(it->second.active_fd, SHUT_RDWR);
  journal_.Remove(migration_uuid);
  moves_.erase(it);
}

std::optional<Claim> ReceiverMoves::Admit(const Hello& hello, const TlsStream& stream,
                                          std::string* refusal) {
  std::lock_guard lock(mu_);
  auto it = moves_.find(hello.migration_uuid);
  if (it == moves_.end()) {
    *refusal = "migration " + hello.migration_uuid + " is not prepared here";
    return std::nullopt;
  }
  Move& move = it->second;
  *refusal = AdmitLocked(hello, stream, move);
  if (!refusal->empty()) return std::nullopt;

  Claim claim{hello.migration_uuid, move.generation, {}, {}, {}};
  JournalEntry& entry = move.entry;
  if (!entry.sized) {
    // The first admitted hello: a move expected without a list gets the source's disks; the
    // manifest is the one every later hello must repeat.
    if (entry.source_declares) {
      for (const HelloDisk& d : hello.disks) entry.transfer.disks.push_back({d.target, 0, 0, ""});
    }
    entry.transfer.manifest = hello.manifest;
  }
  for (const HelloDisk& d : hello.disks) {
    auto disk = std::find_if(entry.transfer.disks.begin(), entry.transfer.disks.end(),
                             [&](const IncomingDisk& x) { return x.target == d.target; });
    disk->bytes = d.bytes;  // equal already when sized
    claim.targets.push_back(d.target);
    claim.bytes.push_back(d.bytes);
    claim.received.push_back(disk->received);
  }
  if (!entry.sized) {
    entry.sized = true;
    PutLocked(entry);
  }
  move.active_fd = stream.fd();
  return claim;
}

std::string ReceiverMoves::AdmitLocked(const Hello& hello, const TlsStream& stream, Move& move) {
  const JournalEntry& entry = move.entry;
  if (!stream.PeerNamed(entry.transfer.source_host)) {
    return "the client certificate does not name " + entry.transfer.source_host +
           ", the move's source host";
  }
  if (!SameHex(Sha256Hex(hello.token), entry.token_sha256)) return "wrong transfer token";
  if (hello.disks.size() > max_disks_) return "more than " + std::to_string(max_disks_) + " disks";
  std::set<std::string> targets;
  for (const HelloDisk& d : hello.disks) targets.insert(d.target);
  if (targets.size() != hello.disks.size()) return "a disk is named twice";
  const bool declaring = entry.source_declares && !entry.sized;
  if (!declaring && targets != TargetsOf(entry.transfer.disks)) {
    return "the disks are not the ones prepared here";
  }
  if (entry.sized && hello.manifest != entry.transfer.manifest) {
    return "the guest's disk manifest changed since the transfer began";
  }
  if (entry.sized) {
    for (const HelloDisk& d : hello.disks) {
      for (const IncomingDisk& known : entry.transfer.disks) {
        if (known.target == d.target && known.bytes != d.bytes) {
          return "disk " + d.target + " is " + std::to_string(d.bytes) +
                 " bytes, an earlier hello said " + std::to_string(known.bytes);
        }
      }
    }
  }
  if (move.active_fd >= 0) {
    // The same source, authenticated again: its earlier connection is dead or dying (a cut link
    // this host has not noticed yet). Cut it, so the source's next try, a moment later, finds
    // the move free and resumes from what that connection recorded.
    ::shutdown(move.active_fd, SHUT_RDWR);
    return "busy: the move's earlier connection is being closed; send again";
  }
  return "";
}

ReceiverMoves::Move* ReceiverMoves::Current(const Claim& claim) {
  auto it = moves_.find(claim.migration_uuid);
  return it == moves_.end() || it->second.generation != claim.generation ? nullptr : &it->second;
}

void ReceiverMoves::PutLocked(const JournalEntry& entry) {
  try {
    journal_.Put(entry);
  } catch (const std::exception& e) {
    // The record in memory still serves this agent's life; a restart resumes from older offsets
    // (sent again, harmlessly) or from none.
    spdlog::error("disk transfer: {}", e.what());
  }
}

IncomingDisk* ReceiverMoves::DiskOf(Move& move, const std::string& target) {
  for (IncomingDisk& d : move.entry.transfer.disks) {
    if (d.target == target) return &d;
  }
  return nullptr;
}

void ReceiverMoves::Record(const Claim& claim, const std::vector<int64_t>& received) {
  std::lock_guard lock(mu_);
  RecordLocked(claim, received);
}

void ReceiverMoves::RecordLocked(const Claim& claim, const std::vector<int64_t>& received) {
  Move* move = Current(claim);
  if (move == nullptr) return;
  bool changed = false;
  for (size_t i = 0; i < claim.targets.size() && i < received.size(); ++i) {
    IncomingDisk* disk = DiskOf(*move, claim.targets[i]);
    if (disk != nullptr && disk->received != received[i]) {
      disk->received = received[i];
      changed = true;
    }
  }
  if (changed) PutLocked(move->entry);
}

void ReceiverMoves::RecordVerified(const Claim& claim, const std::vector<std::string>& sha256,
                                   bool verified) {
  std::lock_guard lock(mu_);
  Move* move = Current(claim);
  if (move == nullptr) return;
  for (size_t i = 0; i < claim.targets.size(); ++i) {
    IncomingDisk* disk = DiskOf(*move, claim.targets[i]);
    if (disk != nullptr) disk->sha256 = verified ? sha256.at(i) : "";
  }
  move->entry.transfer.verified = verified;
  // Unlike a checkpoint, "verified" must not be believed unless it is on disk: the caller
  // acknowledges only after this returns.
  journal_.Put(move->entry);
}

void ReceiverMoves::Release(const Claim& claim, const std::vector<int64_t>& received) {
  std::lock_guard lock(mu_);
  RecordLocked(claim, received);
  if (Move* move = Current(claim)) move->active_fd = -1;
}

}  // namespace ferry::agent::transfer
