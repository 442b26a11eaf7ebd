// The journald sink speaks systemd's native protocol: a test socket stands in for journald's and
// reads back exactly what journald would parse. And a journald that does not read must not
// stall logging.
#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/journal_sink.hpp"

namespace ferry {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

// Parses a native-protocol datagram as journald does (both the text and the binary form).
Fields Parse(const std::string& d) {
  Fields out;
  size_t pos = 0;
  while (pos < d.size()) {
    size_t nl = d.find('\n', pos);
    EXPECT_NE(nl, std::string::npos);
    std::string line = d.substr(pos, nl - pos);
    size_t eq = line.find('=');
    if (eq != std::string::npos) {
      out.emplace_back(line.substr(0, eq), line.substr(eq + 1));
      pos = nl + 1;
      continue;
    }
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= uint64_t(static_cast<unsigned char>(d[nl + 1 + i])) << (8 * i);
    out.emplace_back(line, d.substr(nl + 9, n));
    EXPECT_EQ(d[nl + 9 + n], '\n');
    pos = nl + 9 + n + 1;
  }
  return out;
}

std::vector<std::string> All(const Fields& f, const std::string& name) {
  std::vector<std::string> v;
  for (const auto& [k, val] : f) {
    if (k == name) v.push_back(val);
  }
  return v;
}

class FakeJournal {
 public:
  FakeJournal() {
    dir_ = std::filesystem::temp_directory_path() /
           ("ferry-journal-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "socket").string();
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path_.c_str());
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    timeval tv{2, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~FakeJournal() {
    ::close(fd_);
    std::filesystem::remove_all(dir_);
  }
  const std::string& path() const { return path_; }
  // Without waiting: "" when nothing is queued.
  std::string ReceiveNow() {
    std::string buf(256 * 1024, '\0');
    ssize_t n = ::recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
    buf.resize(n > 0 ? n : 0);
    return buf;
  }
  std::string Receive() {
    std::string buf(256 * 1024, '\0');
    ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    EXPECT_GT(n, 0) << "nothing arrived";
    buf.resize(n > 0 ? n : 0);
    return buf;
  }

 private:
  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::string path_;
  int fd_ = -1;
};

TEST(JournalSink, EachRecordArrivesWithItsPriorityIdentifierAndPairsAsFields) {
  FakeJournal journal;
  auto sink = std::make_shared<JournalSink>(journal.path(), "ferry-controller");
  spdlog::logger log("controller", sink);
  log.set_level(spdlog::level::trace);
  log.error(
      "live migration 0a3f6c1e-2b4d-4e6f-8a9b-0c1d2e3f4a5b: source kvm-1 unreachable host=kvm-1 "
      "attempt=2 Bad=x =y");
  auto f = Parse(journal.Receive());
  EXPECT_EQ(All(f, "MESSAGE").at(0),
            "live migration 0a3f6c1e-2b4d-4e6f-8a9b-0c1d2e3f4a5b: source kvm-1 unreachable "
            "host=kvm-1 attempt=2 Bad=x =y");
  EXPECT_EQ(All(f, "PRIORITY"), std::vector<std::string>{"3"});
  EXPECT_EQ(All(f, "SYSLOG_IDENTIFIER"), std::vector<std::string>{"ferry-controller"});
  EXPECT_EQ(All(f, "FERRY_UUID"), std::vector<std::string>{"0a3f6c1e-2b4d-4e6f-8a9b-0c1d2e3f4a5b"});
  EXPECT_EQ(All(f, "FERRY_HOST"), std::vector<std::string>{"kvm-1"});
  EXPECT_EQ(All(f, "FERRY_ATTEMPT"), std::vector<std::string>{"2"});
  // Not field names journald would accept: left in MESSAGE only.
  EXPECT_TRUE(All(f, "FERRY_BAD").empty());
  EXPECT_EQ(f.size(), 6u);

  log.info("started");
  EXPECT_EQ(All(Parse(journal.Receive()), "PRIORITY"), std::vector<std::string>{"6"});
  log.warn("slow");
  EXPECT_EQ(All(Parse(journal.Receive()), "PRIORITY"), std::vector<std::string>{"4"});
  log.debug("detail");
  EXPECT_EQ(All(Parse(journal.Receive()), "PRIORITY"), std::vector<std::string>{"7"});
  EXPECT_EQ(sink->FellBack(), 0u);
}

TEST(JournalSink, AMultiLineValueUsesTheBinaryFormAndSurvivesWhole) {
  FakeJournal journal;
  auto sink = std::make_shared<JournalSink>(journal.path(), "ferry-agent");
  spdlog::logger log("ferry-agent", sink);
  std::string text = "libvirt said:\nerror: domain not found\n  detail=yes";
  log.warn(text);
  auto f = Parse(journal.Receive());
  EXPECT_EQ(All(f, "MESSAGE").at(0), text);
  EXPECT_EQ(All(f, "FERRY_DETAIL"), std::vector<std::string>{"yes"});
}

TEST(JournalSink, EveryUuidOfALineIsAFieldAndPairsAreBounded) {
  std::string msg =
      "drain (11111111-2222-4333-8444-555555555555) server "
      "'66666666-7777-4888-9999-aaaaaaaaaaaa', moved; 11111111-2222-4333-8444-"
      "555555555555 again";
  for (int i = 0; i < 100; ++i) msg += " k" + std::to_string(i) + "=v";
  auto f = JournalFields(msg, 6, "ferry-controller");
  EXPECT_EQ(All(f, "FERRY_UUID"),
            (std::vector<std::string>{"11111111-2222-4333-8444-555555555555",
                                      "66666666-7777-4888-9999-aaaaaaaaaaaa"}));
  size_t pairs = 0;
  for (const auto& [k, v] : f) pairs += k.rfind("FERRY_K", 0) == 0;
  EXPECT_EQ(pairs, 32u);
}

TEST(JournalSink, AJournaldThatDoesNotReadNeverStallsLoggingNorTouchesStderr) {
  FakeJournal journal;  // bound, not read: its queue fills
  auto sink = std::make_shared<JournalSink>(journal.path(), "ferry-controller");
  spdlog::logger log("controller", sink);
  // Under systemd stderr is journald's stream socket, which blocks when journald stalls: a full
  // journal socket must not send lines there.
  testing::internal::CaptureStderr();
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5000; ++i) log.info("line {} host=sim-1 {}", i, std::string(512, 'x'));
  auto took = std::chrono::steady_clock::now() - start;
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_LT(took, std::chrono::seconds(5));
  EXPECT_TRUE(err.empty()) << err.substr(0, 200);
  EXPECT_EQ(sink->FellBack(), 0u);
  const uint64_t dropped = sink->Dropped();
  EXPECT_GT(dropped, 0u) << "the full queue's records are dropped and counted";

  // Once journald reads again, the next line arrives and says how many were lost.
  while (!journal.ReceiveNow().empty()) {
  }
  log.warn("journald is back");
  auto f = Parse(journal.Receive());
  EXPECT_EQ(All(f, "MESSAGE").at(0), "journald is back");
  EXPECT_EQ(All(f, "FERRY_LOG_LINES_DROPPED"), std::vector<std::string>{std::to_string(dropped)});
}

TEST(JournalSink, NoJournalSocketFallsBackToStderr) {
  auto sink = std::make_shared<JournalSink>("/nonexistent/ferry/journal.socket", "ferry-agent");
  spdlog::logger log("ferry-agent", sink);
  testing::internal::CaptureStderr();
  log.info("still logged uuid=x");
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("still logged uuid=x"), std::string::npos) << err;
  EXPECT_EQ(sink->FellBack(), 1u);
}

}  // namespace
}  // namespace ferry
