#include "agent/disk_transfer/receiver_session.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

#include "agent/disk_transfer/read_back_verifier.hpp"
#include "agent/disk_transfer/transfer_protocol.hpp"
#include "common/errors.hpp"

namespace ferry::agent::transfer {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// 1 s to say why a connection is refused or to close it: the peer is reading, or it is gone.
constexpr milliseconds kGoodbyeTimeout{1000};

class Session {
 public:
  Session(TlsStream& stream, ReceiverMoves& moves, DiskStore& store, const ReceiverLimits& limits,
          const std::atomic<bool>& stopping)
      : stream_(stream), moves_(moves), store_(store), limits_(limits), stopping_(stopping) {}

  ~Session() {
    if (!claim_) return;
    // Cut or failed: what the storage holds is recorded, so the next connection resumes there.
    try {
      FlushCurrent();
    } catch (const std::exception& e) {
      spdlog::warn("disk transfer: migration {}: flush after the connection ended: {}",
                   claim_->migration_uuid, e.what());
    }
    moves_.Release(*claim_, flushed_);
  }

  void Run() {
    const Deadline hello_deadline = DeadlineIn(limits_.handshake_timeout);
    stream_.Handshake(hello_deadline);
    std::string payload;
    if (ReadFrame(stream_, &payload, hello_deadline).type != FrameType::kHello) {
      ProtocolError("the first frame is not a hello");
    }
    const Hello hello = DecodeHello(payload);
    uuid_ = hello.migration_uuid;
    std::string refusal;
    claim_ = moves_.Admit(hello, stream_, &refusal);
    if (!claim_) return Refuse(refusal);
    position_ = flushed_ = claim_->received;
    try {
      for (size_t i = 0; i < claim_->targets.size(); ++i) {
        store_.Allocate(uuid_, claim_->targets[i], claim_->bytes[i]);
      }
    } catch (const Error& e) {
      return Refuse(e.what());
    }
    verifier_ = std::make_unique<ReadBackVerifier>(store_, uuid_, claim_->targets, claim_->bytes,
                                                   flushed_, stopping_);
    WriteFrame(stream_, FrameType::kOffsets, EncodeOffsets(claim_->received), Idle());
    spdlog::info("disk transfer: migration {}: receiving from {}", uuid_, stream_.peer());
    last_checkpoint_ = steady_clock::now();
    ReceiveDisks();
  }

 private:
  Deadline Idle() const { return DeadlineIn(limits_.idle_timeout); }

  void Refuse(const std::string& why) {
    spdlog::warn("disk transfer: refused migration {} from {}: {}", uuid_, stream_.peer(), why);
    WriteFrame(stream_, FrameType::kRefuse, EncodeRefuse(why), DeadlineIn(kGoodbyeTimeout));
    stream_.Shutdown(DeadlineIn(kGoodbyeTimeout));
  }

  void ReceiveDisks() {
    std::vector<char> buf(kMaxDataPayload);
    for (;;) {
      char header[kFrameHeaderBytes];
      stream_.ReadExact(header, sizeof header, Idle());
      const FrameHeader h = DecodeHeader(header);
      if (h.type == FrameType::kData) {
        DiskSink& sink = Current(h.length);
        stream_.ReadExact(buf.data(), h.length, Idle());
        sink.Write(buf.data(), h.length);
        Advance(h.length);
      } else if (h.type == FrameType::kHole) {
        char hole[8];
        stream_.ReadExact(hole, sizeof hole, Idle());
        const int64_t length = DecodeHole({hole, sizeof hole});
        Current(length).Skip(length);
        Advance(length);
      } else if (h.type == FrameType::kAlive) {
        continue;  // the source is hashing what this host holds already
      } else if (h.type == FrameType::kDone) {
        std::string payload(h.length, '\0');
        stream_.ReadExact(payload.data(), h.length, Idle());
        return Finish(DecodeDone(payload));
      } else {
        ProtocolError("unexpected frame while receiving disks");
      }
    }
  }

  // The sink of the first disk not yet whole, checked to have room for `length` more bytes.
  DiskSink& Current(int64_t length) {
    while (current_ < position_.size() && position_[current_] == claim_->bytes[current_]) {
      ++current_;
    }
    if (current_ == position_.size()) ProtocolError("bytes beyond the last disk");
    if (length > claim_->bytes[current_] - position_[current_]) {
      ProtocolError("bytes beyond the end of disk " + claim_->targets[current_]);
    }
    if (!sink_) sink_ = store_.OpenSink(uuid_, claim_->targets[current_], position_[current_]);
    return *sink_;
  }

  void Advance(int64_t length) {
    position_[current_] += length;
    unrecorded_ += length;
    const bool whole = position_[current_] == claim_->bytes[current_];
    if (whole || unrecorded_ >= limits_.checkpoint_bytes ||
        steady_clock::now() - last_checkpoint_ >= limits_.checkpoint_interval) {
      FlushCurrent();
      moves_.Record(*claim_, flushed_);
      unrecorded_ = 0;
      last_checkpoint_ = steady_clock::now();
    }
    if (whole) sink_.reset();
  }

  void FlushCurrent() {
    if (!sink_) return;
    sink_->Flush();
    flushed_[current_] = position_[current_];
    if (verifier_) verifier_->Flushed(current_, flushed_[current_]);
  }

  void Finish(const std::vector<std::string>& sha256) {
    if (sha256.size() != claim_->targets.size()) ProtocolError("done: not one digest per disk");
    for (size_t i = 0; i < position_.size(); ++i) {
      if (position_[i] != claim_->bytes[i]) {
        return Refuse("disk " + claim_->targets[i] +
                      " incomplete: " + std::to_string(position_[i]) + " of " +
                      std::to_string(claim_->bytes[i]) + " bytes");
      }
    }
    spdlog::info(
        "disk transfer: migration {}: every byte received; reading the disks back to "
        "verify them",
        uuid_);
    const std::vector<std::string> read_back = verifier_->Digests();
    std::string mismatch;
    for (size_t i = 0; i < claim_->targets.size() && mismatch.empty(); ++i) {
      if (read_back[i] != sha256[i]) mismatch = claim_->targets[i];
    }
    moves_.RecordVerified(*claim_, sha256, mismatch.empty());
    if (!mismatch.empty()) return Refuse("checksum mismatch on " + mismatch);
    WriteFrame(stream_, FrameType::kAck, "", Idle());
    spdlog::info("disk transfer: migration {}: every disk received from {} and verified", uuid_,
                 stream_.peer());
    stream_.Shutdown(DeadlineIn(kGoodbyeTimeout));
  }

  TlsStream& stream_;
  ReceiverMoves& moves_;
  DiskStore& store_;
  const ReceiverLimits& limits_;
  const std::atomic<bool>& stopping_;
  std::string uuid_ = "?";
  std::optional<Claim> claim_;
  std::vector<int64_t> position_;  // per hello disk: bytes taken into its sink
  std::vector<int64_t> flushed_;   // per hello disk: bytes known to be in the storage
  size_t current_ = 0;
  std::unique_ptr<DiskSink> sink_;              // of disk current_, while it is being written
  std::unique_ptr<ReadBackVerifier> verifier_;  // reads back what is flushed, as it is
  int64_t unrecorded_ = 0;
  steady_clock::time_point last_checkpoint_;
};

}  // namespace

void ServeConnection(TlsStream& stream, ReceiverMoves& moves, DiskStore& store,
                     const ReceiverLimits& limits, const std::atomic<bool>& stopping) {
  try {
    Session(stream, moves, store, limits, stopping).Run();
  } catch (const std::exception& e) {
    spdlog::warn("disk transfer: connection from {} ended: {}", stream.peer(), e.what());
  }
}

}  // namespace ferry::agent::transfer
