#pragma once
// Log records straight to systemd-journald over its native protocol (a datagram of FIELD=value
// lines on /run/systemd/journal/socket), so that journald keeps each record structured: the
// message, its priority, and every `key=value` pair of ferry's log lines as a field of its own
// (FERRY_UUID, FERRY_HOST, ...): `journalctl -u ferry-controller FERRY_UUID=<uuid>` finds a
// move's every line. Written here because libsystemd is not a dependency; the protocol is
// systemd's documented one ("Native Journal Protocol").
//
// A stuck journald must never stall the controller: datagrams are sent without blocking, and a
// record its full socket cannot take now is dropped and counted (Dropped()), never written to
// stderr, which under systemd is journald's own blocking stream. Only when there is no journald
// to speak to (no socket, refused) does a record go to stderr.
#include <spdlog/sinks/base_sink.h>

#include <atomic>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ferry {

inline constexpr const char* kJournalSocket = "/run/systemd/journal/socket";

// The journal fields of one log line, in order: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, then
// FERRY_<KEY> for each key=value pair (keys [a-z][a-z0-9_]*, upper-cased; at most 32; a later
// duplicate is dropped). Exposed for tests.
std::vector<std::pair<std::string, std::string>> JournalFields(std::string_view message,
                                                               int syslog_priority,
                                                               std::string_view identifier);
// The native protocol's datagram for those fields: NAME=value\n, or, for a value holding a
// newline, NAME\n + 64-bit little-endian length + value + \n.
std::string EncodeJournalDatagram(const std::vector<std::pair<std::string, std::string>>& fields);

class JournalSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  // socket_path: journald's socket (kJournalSocket), or a test's. identifier: SYSLOG_IDENTIFIER.
  JournalSink(std::string socket_path, std::string identifier);
  ~JournalSink() override;
  JournalSink(const JournalSink&) = delete;
  JournalSink& operator=(const JournalSink&) = delete;

  // Records written to stderr because no journald listens at the socket.
  uint64_t FellBack() const { return fell_back_.load(); }
  // Records dropped because journald's socket was full (journald stalled or overwhelmed); the
  // next record that gets through says how many.
  uint64_t Dropped() const { return dropped_.load(); }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}

 private:
  enum class Sent { kOk, kFull, kNoJournal };
  Sent Send(const std::string& datagram);
  std::string socket_path_;
  std::string identifier_;
  int fd_ = -1;
  std::atomic<uint64_t> fell_back_{0};
  std::atomic<uint64_t> dropped_{0};
  uint64_t dropped_reported_ = 0;  // under the sink's mutex
};

}  // namespace ferry
