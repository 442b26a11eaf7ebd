#include "agent/disk_transfer/disk_sender.hpp"

#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "agent/disk_transfer/digest.hpp"
#include "agent/disk_transfer/pacer.hpp"
#include "agent/disk_transfer/transfer_protocol.hpp"
#include "agent/disk_transfer/transfer_uri.hpp"
#include "common/errors.hpp"
#include "common/uuid.hpp"

namespace ferry::agent::transfer {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// 10 s to connect and shake hands: a destination on the migration network answers in
// milliseconds; longer means it is down.
constexpr milliseconds kConnectTimeout{10'000};
// 60 s for any later read or write: the receiver's default idle timeout (ReceiverLimits).
constexpr milliseconds kIoTimeout{60'000};
// The destination reads every disk back before it acknowledges: allow 50 MiB/s for that (a
// slow spinning disk), and at least a minute.
constexpr int64_t kVerifyBytesPerSecond = 50LL << 20;
constexpr milliseconds kMinVerifyTimeout{60'000};
// Progress at least every second (disk_sender.hpp); twice as often leaves room for a slow piece.
constexpr milliseconds kProgressInterval{500};
// Within a hole, hashing runs without frames: look at `cancelled` every 64 MiB of it.
constexpr int64_t kHoleHashStep = 64LL << 20;

void Validate(const SendRequest& r) {
  auto bad = [](const std::string& what) {
    throw Error(Errc::kBadRequest, "disk transfer: " + what);
  };
  if (!IsUuid(r.migration_uuid)) bad("migration_uuid is not a uuid");
  if (r.token.empty()) bad("no transfer token");
  if (r.peer_host.empty()) bad("no peer host name");
  if (r.disks.size() > kMaxDisksPerHello) bad("at most 64 disks are sent");
  if (r.manifest.size() > kMaxManifestBytes) bad("the manifest is larger than 32 KiB");
  if (r.bandwidth_bytes_per_s < 0) bad("negative bandwidth");
  std::set<std::string> seen;
  for (const OutgoingDisk& d : r.disks) {
    if (!IsDiskTarget(d.target) || !seen.insert(d.target).second) {
      bad("disk target '" + d.target + "' is not a device name or repeated");
    }
    if (d.bytes < 0 || d.bytes > kMaxDiskBytes) bad("disk " + d.target + ": bytes out of range");
    if (!d.open) bad("disk " + d.target + ": no source");
  }
}

class Sender {
 public:
  Sender(const SendRequest& r, TlsStream& stream)
      : r_(r),
        stream_(stream),
        pacer_(r.bandwidth_bytes_per_s),
        buf_(kFrameHeaderBytes + kMaxDataPayload) {
    for (const OutgoingDisk& d : r.disks) total_ += d.bytes;
  }

  SendOutcome Run() {
    Hello hello{r_.migration_uuid, r_.token, {}, r_.manifest};
    for (const OutgoingDisk& d : r_.disks) hello.disks.push_back({d.target, d.bytes});
    WriteFrame(stream_, FrameType::kHello, EncodeHello(hello), DeadlineIn(kIoTimeout));
    std::vector<int64_t> offsets;
    try {
      offsets = DecodeOffsets(Expect(FrameType::kOffsets, kIoTimeout));
    } catch (const Error& e) {
      if (e.code() == Errc::kBadRequest) Broken(e.what());  // the destination's, not ours
      throw;
    }
    if (offsets.size() != r_.disks.size()) Broken("offsets for another number of disks");
    for (size_t i = 0; i < offsets.size(); ++i) {
      if (offsets[i] > r_.disks[i].bytes) Broken("an offset beyond its disk");
      transferred_ += offsets[i];
    }
    Progress(true);
    std::vector<std::string> digests;
    for (size_t i = 0; i < r_.disks.size(); ++i) {
      std::string digest;
      if (!SendDisk(r_.disks[i], offsets[i], &digest)) return SendOutcome::kCancelled;
      digests.push_back(std::move(digest));
    }
    Progress(true);
    WriteFrame(stream_, FrameType::kDone, EncodeDone(digests), DeadlineIn(kIoTimeout));
    const milliseconds verify =
        std::max(kMinVerifyTimeout,
                 milliseconds(total_ / kVerifyBytesPerSecond * 1000 + kIoTimeout.count()));
    Expect(FrameType::kAck, verify);
    stream_.Shutdown(DeadlineIn(milliseconds(1000)));
    return SendOutcome::kVerified;
  }

 private:
  [[noreturn]] void Broken(const std::string& what) {
    throw Error(Errc::kUnavailable, "disk transfer to " + stream_.peer() + ": " + what);
  }

  // The next control frame, which must be `want` or a REFUSE (then kConflict with its reason).
  std::string Expect(FrameType want, milliseconds timeout) {
    std::string payload;
    try {
      const FrameHeader h = ReadFrame(stream_, &payload, DeadlineIn(timeout));
      if (h.type == FrameType::kRefuse) {
        const std::string why = DecodeRefuse(payload);
        // "busy": the destination is cutting this move's earlier connection; a retry resumes.
        if (why.rfind("busy", 0) == 0) Broken("refused for now: " + why);
        throw Error(Errc::kConflict, "disk transfer refused by " + stream_.peer() + ": " + why);
      }
      if (h.type != want) ProtocolError("unexpected frame type");
    } catch (const Error& e) {
      // The destination's malformed answer is a broken link to the caller, not a bad request.
      if (e.code() == Errc::kBadRequest) Broken(e.what());
      throw;
    }
    return payload;
  }

  bool Cancelled() const { return r_.cancelled && r_.cancelled(); }

  void Progress(bool now) {
    const auto t = steady_clock::now();
    if (!now && t - last_progress_ < kProgressInterval) return;
    last_progress_ = t;
    if (r_.progress) r_.progress(transferred_, total_);
  }

  // Waits out the bandwidth limit in slices, reporting progress and watching for cancellation.
  bool Pace(int64_t bytes) {
    const auto until = steady_clock::now() + pacer_.Charge(bytes);
    while (steady_clock::now() < until) {
      if (Cancelled()) return false;
      Progress(false);
      std::this_thread::sleep_for(
          std::min<steady_clock::duration>(until - steady_clock::now(), milliseconds(100)));
    }
    return true;
  }

  bool SendDisk(const OutgoingDisk& disk, int64_t offset, std::string* digest) {
    std::unique_ptr<DiskSource> source = disk.open();
    Sha256 hash;
    int64_t pos = 0;
    char* const payload = buf_.data() + kFrameHeaderBytes;
    for (;;) {
      if (Cancelled()) return false;
      Progress(false);
      const Piece piece = source->Next(payload, kMaxDataPayload);
      if (piece.kind == Piece::Kind::kEnd) break;
      if (piece.length <= 0 || piece.length > disk.bytes - pos ||
          (piece.kind == Piece::Kind::kData && piece.length > kMaxDataPayload)) {
        throw Error(Errc::kConflict, "disk " + disk.target + " changed while copied: longer than " +
                                         std::to_string(disk.bytes) + " bytes");
      }
      const int64_t skip = std::clamp<int64_t>(offset - pos, 0, piece.length);  // held already
      const int64_t send = piece.length - skip;
      if (piece.kind == Piece::Kind::kData) {
        hash.Update(payload, static_cast<size_t>(piece.length));
        if (send == 0) KeepAlive();
        if (send > 0) {
          if (!Pace(send)) return false;
          // The header goes just before the bytes sent: one write, no copy.
          char* frame = payload + skip - kFrameHeaderBytes;
          EncodeHeader(FrameType::kData, static_cast<uint32_t>(send), frame);
          stream_.WriteAll(frame, kFrameHeaderBytes + static_cast<size_t>(send),
                           DeadlineIn(kIoTimeout));
          last_write_ = steady_clock::now();
        }
      } else if (!SendHole(hash, pos, piece.length, offset)) {
        return false;
      }
      pos += piece.length;
      transferred_ += send;
    }
    if (pos != disk.bytes) {
      throw Error(Errc::kConflict, "disk " + disk.target +
                                       " changed while copied: " + std::to_string(pos) +
                                       " bytes, not " + std::to_string(disk.bytes));
    }
    *digest = hash.HexDigest();
    return true;
  }

  // A hole of `length` at `at`: hashed a step at a time, each step's part at or after `offset`
  // sent as it is hashed (a hole of terabytes keeps the link busy instead of silent).
  bool SendHole(Sha256& hash, int64_t at, int64_t length, int64_t offset) {
    for (int64_t done = 0; done < length;) {
      if (Cancelled()) return false;
      Progress(false);
      const int64_t step = std::min(length - done, kHoleHashStep);
      hash.UpdateZeros(step);
      const int64_t from = std::max(at + done, offset);
      const int64_t send = at + done + step - from;
      if (send > 0) {
        const auto hole = EncodeHole(send);
        WriteFrame(stream_, FrameType::kHole, {hole.data(), hole.size()}, DeadlineIn(kIoTimeout));
        last_write_ = steady_clock::now();
      } else {
        KeepAlive();
      }
      done += step;
    }
    return true;
  }

  void KeepAlive() {
    if (steady_clock::now() - last_write_ < r_.keepalive_interval) return;
    WriteFrame(stream_, FrameType::kAlive, "", DeadlineIn(kIoTimeout));
    last_write_ = steady_clock::now();
  }

  const SendRequest& r_;
  TlsStream& stream_;
  Pacer pacer_;
  std::vector<char> buf_;  // a data frame: header, then up to 1 MiB read from the source
  int64_t total_ = 0;
  int64_t transferred_ = 0;
  steady_clock::time_point last_progress_;
  steady_clock::time_point last_write_ = steady_clock::now();
};

}  // namespace

SendOutcome SendDisks(const TlsContext& tls, const SendRequest& request) {
  Validate(request);
  const TransferUri uri = ParseTransferUri(request.receive_uri);
  if (request.cancelled && request.cancelled()) return SendOutcome::kCancelled;
  const std::unique_ptr<TlsStream> stream =
      TlsStream::Connect(tls, uri.host, uri.port, DeadlineIn(kConnectTimeout));
  try {
    stream->Handshake(DeadlineIn(kConnectTimeout));
  } catch (const Error& e) {
    if (stream->VerifyResult() == X509_V_OK) throw;
    throw Error(Errc::kConflict,
                std::string(e.what()) + ": the destination's certificate is not one of this CA's");
  }
  if (!stream->PeerNamed(request.peer_host)) {
    throw Error(Errc::kConflict, "disk transfer to " + stream->peer() +
                                     ": its certificate does not name " + request.peer_host);
  }
  const SendOutcome outcome = Sender(request, *stream).Run();
  if (outcome == SendOutcome::kCancelled) {
    spdlog::info("disk transfer: migration {}: cancelled, connection to {} closed",
                 request.migration_uuid, stream->peer());
  }
  return outcome;
}

}  // namespace ferry::agent::transfer
