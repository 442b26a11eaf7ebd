#include "agent/disk_transfer/read_back_verifier.hpp"

#include <chrono>

#include "agent/disk_transfer/digest.hpp"
#include "common/errors.hpp"

namespace ferry::agent::transfer {
namespace {

// The read-back takes pieces of 1 MiB, as the sender does.
constexpr size_t kPiece = 1 << 20;

}  // namespace

ReadBackVerifier::ReadBackVerifier(DiskStore& store, std::string migration_uuid,
                                   std::vector<std::string> targets, std::vector<int64_t> bytes,
                                   std::vector<int64_t> flushed, const std::atomic<bool>& stopping)
    : store_(store),
      uuid_(std::move(migration_uuid)),
      targets_(std::move(targets)),
      bytes_(std::move(bytes)),
      stopping_(stopping),
      ready_(std::move(flushed)),
      digests_(targets_.size()) {
  thread_ = std::thread([this] { Run(); });
}

ReadBackVerifier::~ReadBackVerifier() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ReadBackVerifier::Flushed(size_t disk, int64_t upto) {
  {
    std::lock_guard lock(mu_);
    if (disk >= ready_.size() || upto <= ready_[disk]) return;
    ready_[disk] = upto;
  }
  cv_.notify_all();
}

std::vector<std::string> ReadBackVerifier::Digests() {
  std::unique_lock lock(mu_);
  while (!finished_ && error_.empty()) {
    if (stopping_) throw Error(Errc::kUnavailable, "the receiver is stopping");
    cv_.wait_for(lock, std::chrono::milliseconds(100));
  }
  if (!error_.empty()) throw Error(Errc::kUnavailable, "reading the disks back: " + error_);
  return digests_;
}

void ReadBackVerifier::Run() {
  try {
    for (size_t i = 0; i < targets_.size(); ++i) {
      Sha256 hash;
      bool whole = true;
      for (int64_t done = 0; done < bytes_[i];) {
        int64_t upto = 0;
        {
          std::unique_lock lock(mu_);
          cv_.wait(lock, [&] { return stop_ || ready_[i] > done; });
          if (stop_) return;
          upto = ready_[i];
        }
        whole = ReadBack(i, done, upto, hash) && whole;
        done = upto;
      }
      const std::string digest = whole ? hash.HexDigest() : "";
      std::lock_guard lock(mu_);
      digests_[i] = digest;
    }
    std::lock_guard lock(mu_);
    finished_ = true;
  } catch (const std::exception& e) {
    std::lock_guard lock(mu_);
    error_ = e.what();
  }
  cv_.notify_all();
}

bool ReadBackVerifier::ReadBack(size_t i, int64_t from, int64_t to, Sha256& hash) {
  std::unique_ptr<DiskSource> source = store_.OpenReceived(uuid_, targets_[i], from, to - from);
  std::vector<char> buf(kPiece);
  int64_t total = 0;
  for (;;) {
    if (stopping_) throw Error(Errc::kUnavailable, "the receiver is stopping");
    {
      std::lock_guard lock(mu_);
      if (stop_) throw Error(Errc::kUnavailable, "the connection ended");
    }
    const Piece piece = source->Next(buf.data(), buf.size());
    if (piece.kind == Piece::Kind::kEnd) break;
    if (piece.length <= 0 || piece.length > to - from - total ||
        (piece.kind == Piece::Kind::kData && piece.length > static_cast<int64_t>(buf.size()))) {
      return false;
    }
    if (piece.kind == Piece::Kind::kData) {
      hash.Update(buf.data(), static_cast<size_t>(piece.length));
    } else {
      hash.UpdateZeros(piece.length);
    }
    total += piece.length;
  }
  return total == to - from;
}

}  // namespace ferry::agent::transfer
