// Who may send disks to a DiskReceiver and to whom a source sends them (agent/disk_transfer):
// the move must be expected, the token right, the client certificate the move's source host's
// and from the deployment CA; the sender checks the destination's certificate names its host.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

#include "common/errors.hpp"
#include "tests/unit/disk_transfer_test_fixture.hpp"

namespace ferry::agent::transfer::testing {
namespace {

constexpr int64_t kMiB = 1 << 20;

class AuthTest : public TransferTest {
 protected:
  void SetUp() override {
    MakeSparseFile(disk_, 2 * kMiB, {{0, 2 * kMiB}});
    StartReceiver();
  }
  // The error SendDisks throws (fails the test when it returns).
  Error SendError(const TlsContext& tls, const SendRequest& r) {
    try {
      SendDisks(tls, r);
    } catch (const Error& e) {
      return e;
    }
    ADD_FAILURE() << "the transfer was accepted";
    return Error(Errc::kInternal, "accepted");
  }
  bool NothingReceived() const { return !fs::exists(Received("vda")); }

  std::string disk_ = src_ / "vda.img";
};

void ExpectRefused(const Error& e, Errc want, const std::string& text) {
  EXPECT_EQ(e.code(), want) << e.what();
  EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
}

TEST_F(AuthTest, TheRightTokenFromTheRightHostIsAccepted) {  // the control for the tests below
  ExpectMove({"vda"});
  EXPECT_EQ(SendDisks(*src_tls_, Request({FileDisk("vda", disk_)})), SendOutcome::kVerified);
}

TEST_F(AuthTest, WrongTokenIsRefused) {
  ExpectMove({"vda"}, "another-token");
  ExpectRefused(SendError(*src_tls_, Request({FileDisk("vda", disk_)})), Errc::kConflict,
                "wrong transfer token");
  EXPECT_TRUE(NothingReceived());
}

TEST_F(AuthTest, MoveNotExpectedIsRefused) {
  ExpectRefused(SendError(*src_tls_, Request({FileDisk("vda", disk_)})), Errc::kConflict,
                "not prepared here");
  EXPECT_TRUE(NothingReceived());
}

TEST_F(AuthTest, OtherDisksThanPreparedAreRefused) {
  ExpectMove({"vda", "vdb"});
  ExpectRefused(SendError(*src_tls_, Request({FileDisk("vda", disk_)})), Errc::kConflict,
                "not the ones prepared");
  EXPECT_TRUE(NothingReceived());
}

TEST_F(AuthTest, ClientCertificateOfAnotherHostIsRefused) {
  ExpectMove({"vda"});
  const TlsContext other(Certs::Get().Host("other-host"));
  ExpectRefused(SendError(other, Request({FileDisk("vda", disk_)})), Errc::kConflict,
                "does not name src-host");
  EXPECT_TRUE(NothingReceived());
}

TEST_F(AuthTest, ClientCertificateOfAForeignCaFailsTheHandshake) {
  ExpectMove({"vda"});
  // Clients that trust both CAs (so only the receiver's check can stop them): one presents
  // src-host's certificate from the other CA, the control presents ours. The first CA in the
  // file is the one TlsContext checks its own certificate against.
  const TempDir dir;
  const TlsFiles foreign = Certs::Get().ForeignHost("src-host");
  const TlsFiles ours = Certs::Get().Host("src-host");
  std::ofstream(dir / "foreign-first.crt") << ReadAll(foreign.ca_file) << ReadAll(ours.ca_file);
  std::ofstream(dir / "ours-first.crt") << ReadAll(ours.ca_file) << ReadAll(foreign.ca_file);
  const TlsContext stranger({dir / "foreign-first.crt", foreign.cert_file, foreign.key_file});
  const TlsContext control({dir / "ours-first.crt", ours.cert_file, ours.key_file});

  // The receiver ends the handshake with an alert ("unknown ca"); the sender sees it, or a reset
  // when its hello crossed the alert: either way a failed link, never a refusal of the hello.
  const Error e = SendError(stranger, Request({FileDisk("vda", disk_)}));
  EXPECT_EQ(e.code(), Errc::kUnavailable) << e.what();
  EXPECT_TRUE(NothingReceived());
  EXPECT_EQ(SendDisks(control, Request({FileDisk("vda", disk_)})), SendOutcome::kVerified);
}

TEST_F(AuthTest, ServerCertificateOfAForeignCaIsRefusedBySender) {
  receiver_.reset();
  const TlsContext foreign_dst(Certs::Get().ForeignHost("dst-host"));
  FileDiskStore store(dst_.path());
  DiskReceiver impostor(foreign_dst, store, "", "127.0.0.1", 0);
  impostor.Expect(uuid_, kToken, "src-host", {"vda"});
  SendRequest r;
  r.migration_uuid = uuid_;
  r.token = kToken;
  r.receive_uri = impostor.Uri();
  r.peer_host = "dst-host";
  r.disks = {FileDisk("vda", disk_)};
  ExpectRefused(SendError(*src_tls_, r), Errc::kConflict, "not one of this CA's");
  EXPECT_FALSE(impostor.Find(uuid_)->verified);
  EXPECT_TRUE(NothingReceived());
}

TEST_F(AuthTest, ServerCertificateNotNamingThePeerHostIsRefusedBySender) {
  ExpectMove({"vda"});
  SendRequest r = Request({FileDisk("vda", disk_)});
  r.peer_host = "other-host";  // the receiver presents dst-host's certificate
  ExpectRefused(SendError(*src_tls_, r), Errc::kConflict, "does not name other-host");
  EXPECT_TRUE(NothingReceived());  // not even the hello (and its token) went
}

TEST_F(AuthTest, ExpectIsIdempotentAndRefusesAnotherVersionOfTheMove) {
  ExpectMove({"vda", "vdb"});
  EXPECT_NO_THROW(ExpectMove({"vdb", "vda"}));
  auto code_of = [&](auto&& call) {
    try {
      call();
    } catch (const Error& e) {
      return e.code();
    }
    return Errc::kInternal;
  };
  EXPECT_EQ(code_of([&] { ExpectMove({"vda", "vdb"}, "another-token"); }), Errc::kConflict);
  EXPECT_EQ(code_of([&] { ExpectMove({"vda"}); }), Errc::kConflict);
  EXPECT_EQ(code_of([&] {
              receiver_->Expect(uuid_, kToken, "other-host", {"vda", "vdb"});
            }),
            Errc::kConflict);
  EXPECT_EQ(code_of([&] { receiver_->Expect("../../etc", kToken, "src-host", {"vda"}); }),
            Errc::kBadRequest);
  EXPECT_EQ(code_of([&] {
              receiver_->Expect(NewUuid(), kToken, "src-host", {"vda", "vda"});
            }),
            Errc::kBadRequest);
  EXPECT_EQ(code_of([&] { receiver_->Expect(NewUuid(), kToken, "src-host", {"../x"}); }),
            Errc::kBadRequest);
}

// A new connection of a move still being served (the source lost its link; this host has not
// noticed yet) is the same source authenticated again: the old connection is cut, the new one
// told "busy" as a retryable kUnavailable, and the try after it resumes and completes.
TEST_F(AuthTest, ANewConnectionOfAMoveInProgressCutsTheOldOneAndTheNextTryResumes) {
  MakeSparseFile(disk_, 16 * kMiB, {{0, 16 * kMiB}});
  ExpectMove({"vda"});
  std::atomic<int64_t> sent{0};
  SendRequest slow = Request({FileDisk("vda", disk_)});
  slow.bandwidth_bytes_per_s = 4 * kMiB;  // 4 s for all of it: cut long before
  slow.progress = [&](int64_t transferred, int64_t) { sent = transferred; };
  std::optional<Error> first_failure;
  std::thread first([&] {
    try {
      SendDisks(*src_tls_, slow);
    } catch (const Error& e) {
      first_failure = e;
    }
  });
  while (sent < 2 * kMiB) std::this_thread::sleep_for(std::chrono::milliseconds(5));

  ExpectRefused(SendError(*src_tls_, Request({FileDisk("vda", disk_)})), Errc::kUnavailable,
                "busy");
  first.join();
  ASSERT_TRUE(first_failure) << "the earlier connection was not cut";
  EXPECT_EQ(first_failure->code(), Errc::kUnavailable) << first_failure->what();

  int64_t resumed_from = -1;
  SendRequest again = Request({FileDisk("vda", disk_)});
  again.progress = [&](int64_t transferred, int64_t) {
    if (resumed_from < 0) resumed_from = transferred;
  };
  ASSERT_EQ(SendDisks(*src_tls_, again), SendOutcome::kVerified);
  EXPECT_GT(resumed_from, 0) << "the next try started over instead of resuming";
  EXPECT_EQ(ReadAll(Received("vda")), ReadAll(disk_));
}

TEST_F(AuthTest, ForgetCutsTheTransferOfThatMove) {
  MakeSparseFile(disk_, 16 * kMiB, {{0, 16 * kMiB}});
  ExpectMove({"vda"});
  SendRequest slow = Request({FileDisk("vda", disk_)});
  slow.bandwidth_bytes_per_s = 4 * kMiB;
  std::atomic<bool> started{false};
  slow.progress = [&](int64_t, int64_t) { started = true; };
  std::optional<Error> failure;
  const auto start = std::chrono::steady_clock::now();
  std::thread sender([&] {
    try {
      SendDisks(*src_tls_, slow);
    } catch (const Error& e) {
      failure = e;
    }
  });
  while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  receiver_->Forget(uuid_);
  sender.join();

  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->code(), Errc::kUnavailable) << failure->what();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));  // not 4 s
  EXPECT_FALSE(receiver_->Find(uuid_));
  EXPECT_FALSE(fs::exists(state_ / ("disk-transfers/" + uuid_ + ".json")));
}

TEST(DiskTransferTls, FilesThatDoNotBelongTogetherAreRefused) {
  const TlsFiles ours = Certs::Get().Host("src-host");
  const TlsFiles foreign = Certs::Get().ForeignHost("src-host");
  const TlsFiles other = Certs::Get().Host("other-host");
  const std::vector<std::pair<std::string, TlsFiles>> cases = {
      {"does not match", {ours.ca_file, ours.cert_file, other.key_file}},
      {"does not verify against the CA", {ours.ca_file, foreign.cert_file, foreign.key_file}},
      {"cannot open", {ours.ca_file + ".missing", ours.cert_file, ours.key_file}},
      {"all required", {"", ours.cert_file, ours.key_file}},
  };
  for (const auto& [why, files] : cases) {
    try {
      TlsContext tls(files);
      ADD_FAILURE() << "accepted: " << why;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kBadRequest);
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  }
  EXPECT_NO_THROW(TlsContext tls(ours));
}

TEST(DiskTransferUri, OnlyFerryDiskUrisAreSentTo) {
  const TlsContext tls(Certs::Get().Host("src-host"));
  for (const std::string uri :
       {"http://127.0.0.1:1", "ferry-disk://127.0.0.1", "ferry-disk://:80", "ferry-disk://[::1:80",
        "ferry-disk://host:70000", "ferry-disk://ho st:80"}) {
    SendRequest r;
    r.migration_uuid = NewUuid();
    r.token = "t";
    r.peer_host = "dst-host";
    r.receive_uri = uri;
    r.disks = {{"vda", 0, [] { return std::unique_ptr<DiskSource>(); }}};
    try {
      SendDisks(tls, r);
      ADD_FAILURE() << uri;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kBadRequest) << uri << ": " << e.what();
    }
  }
}

}  // namespace
}  // namespace ferry::agent::transfer::testing
