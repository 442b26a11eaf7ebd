// A DiskReceiver under hostile or broken peers, and across restarts (agent/disk_transfer): a
// silent connection goes at the handshake timeout, connections beyond the limit go at once, a
// frame out of bounds ends its connection, the journal outlives the receiver and an unreadable
// record is put aside.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>

#include "agent/disk_transfer/tls_stream.hpp"
#include "agent/disk_transfer/transfer_protocol.hpp"
#include "common/errors.hpp"
#include "tests/unit/disk_transfer_test_fixture.hpp"

namespace ferry::agent::transfer::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;
constexpr int64_t kMiB = 1 << 20;

int PortOf(const std::string& uri) { return std::stoi(uri.substr(uri.rfind(':') + 1)); }

int RawConnect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  return fd;
}

// True when the other end closed `fd` within `within`.
bool ClosedWithin(int fd, milliseconds within) {
  const auto deadline = steady_clock::now() + within;
  char c;
  for (;;) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) == 0) return false;
    const ssize_t n = ::recv(fd, &c, 1, 0);
    if (n <= 0) return true;  // EOF or reset
  }
}

class LimitsTest : public TransferTest {
 protected:
  // An authenticated client (src-host) that speaks the protocol by hand.
  std::unique_ptr<TlsStream> Client() {
    auto s = TlsStream::Connect(*src_tls_, "127.0.0.1", PortOf(receiver_->Uri()),
                                DeadlineIn(milliseconds(5000)));
    s->Handshake(DeadlineIn(milliseconds(5000)));
    return s;
  }
  void SendHello(TlsStream& s, int64_t bytes) {
    WriteFrame(s, FrameType::kHello, EncodeHello({uuid_, kToken, {{"vda", bytes}}}),
               DeadlineIn(milliseconds(5000)));
    std::string payload;
    ASSERT_EQ(ReadFrame(s, &payload, DeadlineIn(milliseconds(5000))).type, FrameType::kOffsets);
  }
  // True when the receiver ended the connection (well before its 30 s timeouts).
  static bool Dropped(TlsStream& s) {
    char c;
    try {
      s.ReadExact(&c, 1, DeadlineIn(milliseconds(3000)));
    } catch (const Error& e) {
      return std::string(e.what()).find("timed out") == std::string::npos;
    }
    return false;
  }
  static ReceiverLimits Patient() {
    ReceiverLimits l;
    l.handshake_timeout = milliseconds(30'000);
    l.idle_timeout = milliseconds(30'000);
    return l;
  }
};

TEST_F(LimitsTest, SilentConnectionIsClosedAtTheHandshakeTimeout) {
  ReceiverLimits limits;
  limits.handshake_timeout = milliseconds(300);
  StartReceiver(limits);
  const int fd = RawConnect(PortOf(receiver_->Uri()));
  const auto start = steady_clock::now();
  EXPECT_TRUE(ClosedWithin(fd, milliseconds(3000)));
  EXPECT_GE(steady_clock::now() - start, milliseconds(250));
  ::close(fd);
}

TEST_F(LimitsTest, ConnectionsBeyondTheLimitAreClosedAtOnce) {
  ReceiverLimits limits = Patient();
  limits.max_connections = 2;
  StartReceiver(limits);
  const int port = PortOf(receiver_->Uri());
  const int a = RawConnect(port);
  const int b = RawConnect(port);
  std::this_thread::sleep_for(milliseconds(100));  // both accepted and being served
  const int c = RawConnect(port);
  EXPECT_TRUE(ClosedWithin(c, milliseconds(1000)));
  EXPECT_FALSE(ClosedWithin(a, milliseconds(100)));
  EXPECT_FALSE(ClosedWithin(b, milliseconds(100)));
  ::close(a);  // a slot frees up: the next connection is served again
  std::this_thread::sleep_for(milliseconds(100));
  const int d = RawConnect(port);
  EXPECT_FALSE(ClosedWithin(d, milliseconds(300)));
  for (int fd : {b, c, d}) ::close(fd);
}

TEST_F(LimitsTest, GarbageInsteadOfTlsClosesTheConnection) {
  StartReceiver(Patient());
  const int fd = RawConnect(PortOf(receiver_->Uri()));
  const std::string garbage = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(fd, garbage.data(), garbage.size(), 0), static_cast<ssize_t>(garbage.size()));
  EXPECT_TRUE(ClosedWithin(fd, milliseconds(2000)));
  ::close(fd);
}

TEST_F(LimitsTest, FramesOutOfBoundsCloseTheConnection) {
  StartReceiver(Patient());
  ExpectMove({"vda"});
  struct Case {
    const char* what;
    FrameType type;
    uint32_t length;
  };
  for (const Case& c : {Case{"oversized hello", FrameType::kHello, kMaxControlPayload + 1},
                        Case{"unknown type", static_cast<FrameType>(99), 4},
                        Case{"data before hello", FrameType::kData, 16}}) {
    auto s = Client();
    char header[kFrameHeaderBytes];
    EncodeHeader(c.type, c.length, header);
    s->WriteAll(header, sizeof header, DeadlineIn(milliseconds(1000)));
    EXPECT_TRUE(Dropped(*s)) << c.what;
  }
  {
    auto s = Client();
    SendHello(*s, kMiB);
    char header[kFrameHeaderBytes];
    EncodeHeader(FrameType::kData, kMaxDataPayload + 1, header);
    s->WriteAll(header, sizeof header, DeadlineIn(milliseconds(1000)));
    EXPECT_TRUE(Dropped(*s)) << "oversized data";
  }
  {
    auto s = Client();
    SendHello(*s, kMiB);
    WriteFrame(*s, FrameType::kHello, "{\"a\":[[[[[[[[1]]]]]]]]}", DeadlineIn(milliseconds(1000)));
    EXPECT_TRUE(Dropped(*s)) << "a second hello";
  }
}

TEST_F(LimitsTest, BytesBeyondTheDiskCloseTheConnection) {
  StartReceiver(Patient());
  ExpectMove({"vda"});
  auto s = Client();
  SendHello(*s, kMiB);
  const std::string data = Pattern(kMiB, 7);
  WriteFrame(*s, FrameType::kData, data, DeadlineIn(milliseconds(1000)));  // the whole disk
  const auto hole = EncodeHole(1);
  WriteFrame(*s, FrameType::kHole, {hole.data(), hole.size()}, DeadlineIn(milliseconds(1000)));
  EXPECT_TRUE(Dropped(*s));
  // What fit was taken and recorded, nothing more.
  EXPECT_EQ(receiver_->Find(uuid_)->disks.at(0).received, kMiB);
  EXPECT_EQ(FileSize(Received("vda")), kMiB);
  EXPECT_FALSE(receiver_->Find(uuid_)->verified);
}

TEST_F(LimitsTest, JournalOutlivesTheReceiverAndTheTransferResumes) {
  const std::string disk = src_ / "vda.img";
  MakeSparseFile(disk, 24 * kMiB, {{0, 24 * kMiB}});
  ReceiverLimits limits;
  limits.checkpoint_bytes = 4 * kMiB;
  StartReceiver(limits);
  ExpectMove({"vda"});
  std::atomic<int64_t> transferred{0};
  SendRequest first = Request({FileDisk("vda", disk)});
  first.bandwidth_bytes_per_s = 32 * kMiB;  // 0.75 s in all: cut at about a third
  first.progress = [&](int64_t t, int64_t) { transferred = t; };
  std::optional<Error> failure;
  std::thread sender([&] {
    try {
      SendDisks(*src_tls_, first);
    } catch (const Error& e) {
      failure = e;
    }
  });
  while (transferred < 8 * kMiB) std::this_thread::sleep_for(milliseconds(5));
  receiver_.reset();  // the destination agent stops mid-transfer
  sender.join();
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->code(), Errc::kUnavailable) << failure->what();

  StartReceiver(limits);  // same state dir
  const auto after_restart = receiver_->Find(uuid_);
  ASSERT_TRUE(after_restart);
  const int64_t held = after_restart->disks.at(0).received;
  EXPECT_GE(held, 4 * kMiB);
  EXPECT_LT(held, 24 * kMiB);
  EXPECT_EQ(after_restart->source_host, "src-host");

  int64_t first_report = -1;
  SendRequest second = Request({FileDisk("vda", disk)});
  second.progress = [&](int64_t t, int64_t) {
    if (first_report < 0) first_report = t;
  };
  ASSERT_EQ(SendDisks(*src_tls_, second), SendOutcome::kVerified);  // the token still works
  EXPECT_EQ(first_report, held);
  EXPECT_EQ(ReadAll(Received("vda")), ReadAll(disk));

  StartReceiver(limits);
  const auto verified = receiver_->Find(uuid_);
  ASSERT_TRUE(verified);
  EXPECT_TRUE(verified->verified);
  EXPECT_EQ(verified->disks.at(0).sha256.size(), 64u);
}

TEST_F(LimitsTest, UnreadableRecordIsPutAsideAndOthersLoad) {
  StartReceiver();
  ExpectMove({"vda"});
  receiver_.reset();
  const std::string dir = state_ / "disk-transfers";
  const std::string bad = NewUuid();
  std::ofstream(dir + "/" + bad + ".json") << "{\"migration_uuid\": [[[[[[[[[[";
  const std::string lying = NewUuid();  // valid JSON naming another move
  fs::copy_file(dir + "/" + uuid_ + ".json", dir + "/" + lying + ".json");

  StartReceiver();
  EXPECT_TRUE(receiver_->Find(uuid_));
  EXPECT_FALSE(receiver_->Find(bad));
  EXPECT_FALSE(receiver_->Find(lying));
  EXPECT_TRUE(fs::exists(dir + "/" + bad + ".json.corrupt"));
  EXPECT_TRUE(fs::exists(dir + "/" + lying + ".json.corrupt"));
  EXPECT_FALSE(fs::exists(dir + "/" + bad + ".json"));
}

TEST_F(LimitsTest, WithoutAStateDirNothingIsWritten) {
  StartReceiver(files_, {}, "");
  ExpectMove({"vda"});
  EXPECT_TRUE(receiver_->Find(uuid_));
  EXPECT_TRUE(fs::is_empty(state_.path()));
}

TEST(DiskTransferProtocol, HelloFieldsAreChecked) {
  const std::string uuid = NewUuid();
  auto hello = [&](const std::string& disks, const std::string& id = "") {
    return "{\"migration_uuid\":\"" + (id.empty() ? uuid : id) +
           "\",\"token\":\"t\",\"disks\":" + disks + "}";
  };
  EXPECT_EQ(DecodeHello(hello("[{\"target\":\"vda\",\"bytes\":5}]")).disks.at(0).bytes, 5);
  // A guest without local disks sends its manifest only.
  EXPECT_EQ(DecodeHello(hello("[],\"manifest\":\"m\"")).manifest, "m");
  for (const std::string& bad :
       {hello("[{\"target\":\"vda\",\"bytes\":-1}]"),
        hello("[{\"target\":\"vda\",\"bytes\":70368744177665}]"),  // 64 TiB + 1
        hello("[{\"target\":\"vda\",\"bytes\":1.5}]"), hello("[{\"target\":\"../a\",\"bytes\":1}]"),
        hello("[{\"target\":\"vdaaaaaaaa\",\"bytes\":1}]"), hello("{}"), hello("[],\"manifest\":5"),
        hello("[],\"manifest\":\"" + std::string(kMaxManifestBytes + 1, 'm') + "\""),
        hello("[{\"target\":\"vda\",\"bytes\":1}]", "not-a-uuid"),
        std::string("[[[[[[[[[[[1]]]]]]]]]]]"), std::string("not json")}) {
    try {
      DecodeHello(bad);
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kBadRequest) << bad;
    }
  }
}

TEST(DiskTransferProtocol, HeadersAreBoundedByType) {
  char h[kFrameHeaderBytes];
  EncodeHeader(FrameType::kData, kMaxDataPayload, h);
  EXPECT_EQ(DecodeHeader(h).length, kMaxDataPayload);
  const std::vector<std::pair<FrameType, uint32_t>> bad = {
      {FrameType::kData, kMaxDataPayload + 1},
      {FrameType::kData, 0},
      {FrameType::kHole, 9},
      {FrameType::kAck, 1},
      {FrameType::kDone, kMaxControlPayload + 1},
      {FrameType::kAlive, 1},
      {static_cast<FrameType>(0), 0},
      {static_cast<FrameType>(9), 0}};
  for (const auto& [type, length] : bad) {
    EncodeHeader(type, length, h);
    EXPECT_THROW(DecodeHeader(h), Error) << static_cast<int>(type) << " " << length;
  }
}

}  // namespace
}  // namespace ferry::agent::transfer::testing
