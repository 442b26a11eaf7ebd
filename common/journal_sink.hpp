#pragma once
// Log records straight to systemd-journald over its native protocol (a datagram of FIELD=value
// lines on /run/systemd/journal/socket), so that journald keeps each record structured: the
// message, its priority, and every `key=value` pair of ferry's log lines as a field of its own
// (FERRY_UUID, FERRY_HOST, ...): `journalctl -u ferry-controller FERRY_UUID=<uuid>` finds a
// move's every line. Written here because libsystemd is not a dependency; the protocol is
// systemd's documented one ("Native Journal Protocol").
//
// A stuck journald must never stall the controller: datagrams are sent without blocking, and a
// record the socket cannot take now is written to stderr instead (which systemd also sends to
// the journal) and counted.
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

  // Records written to stderr because the socket refused or could not take them now.
  uint64_t FellBack() const { return fell_back_.load(); }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}

 private:
  bool Send(const std::string& datagram);
  std::string socket_path_;
  std::string identifier_;
  int fd_ = -1;
  std::atomic<uint64_t> fell_back_{0};
};

}  // namespace ferry
