#include "common/journal_sink.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>

namespace ferry {
namespace {

constexpr size_t kMaxPairs = 32;
constexpr size_t kMaxUuids = 8;
constexpr size_t kMaxKeyLength = 58;  // FERRY_ + key within journald's 64-character names
// journald's socket takes datagrams up to its receive buffer; larger records would need a
// memfd, so the message is cut here (ferry's lines are far shorter).
constexpr size_t kMaxMessageBytes = 48 * 1024;

bool IsKey(std::string_view k) {
  if (k.empty() || k.size() > kMaxKeyLength || k[0] < 'a' || k[0] > 'z') return false;
  for (char c : k) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// A canonical lower-case UUID (8-4-4-4-12), possibly followed by punctuation.
bool IsUuid(std::string_view t) {
  if (t.size() != 36) return false;
  for (size_t i = 0; i < 36; ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? t[i] != '-' : !IsHex(t[i])) return false;
  }
  return true;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

int SyslogPriority(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::critical:
      return 2;
    case spdlog::level::err:
      return 3;
    case spdlog::level::warn:
      return 4;
    case spdlog::level::info:
      return 6;
    default:
      return 7;
  }
}

}  // namespace

std::vector<std::pair<std::string, std::string>> JournalFields(std::string_view message,
                                                               int syslog_priority,
                                                               std::string_view identifier) {
  if (message.size() > kMaxMessageBytes) message = message.substr(0, kMaxMessageBytes);
  std::vector<std::pair<std::string, std::string>> fields{
      {"MESSAGE", std::string(message)},
      {"PRIORITY", std::to_string(syslog_priority)},
      {"SYSLOG_IDENTIFIER", std::string(identifier)}};
  std::set<std::string> keys;
  std::set<std::string_view> uuids;
  size_t pos = 0;
  while (pos < message.size()) {
    size_t end = message.find_first_of(" \n\t", pos);
    if (end == std::string_view::npos) end = message.size();
    std::string_view token = message.substr(pos, end - pos);
    pos = end + 1;
    // "uuid:" or "(uuid)" name the object the line is about: each becomes a FERRY_UUID field
    // (journald keeps repeated fields), so one query finds every line about a move or server.
    std::string_view bare = token;
    while (!bare.empty() && (bare.front() == '(' || bare.front() == '\'')) bare.remove_prefix(1);
    while (!bare.empty() && std::strchr("),:;.'", bare.back()) != nullptr) bare.remove_suffix(1);
    if (IsUuid(bare) && uuids.size() < kMaxUuids && uuids.insert(bare).second) {
      fields.emplace_back("FERRY_UUID", std::string(bare));
    }
    size_t eq = token.find('=');
    if (eq == std::string_view::npos || keys.size() >= kMaxPairs) continue;
    std::string_view key = token.substr(0, eq);
    if (!IsKey(key) || !keys.insert(std::string(key)).second) continue;
    fields.emplace_back("FERRY_" + Upper(key), std::string(token.substr(eq + 1)));
  }
  return fields;
}

std::string EncodeJournalDatagram(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    out += name;
    if (value.find('\n') == std::string::npos) {
      out += '=';
      out += value;
    } else {
      out += '\n';
      uint64_t n = value.size();
      for (int i = 0; i < 8; ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
      out += value;
    }
    out += '\n';
  }
  return out;
}

JournalSink::JournalSink(std::string socket_path, std::string identifier)
    : socket_path_(std::move(socket_path)), identifier_(std::move(identifier)) {
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
}

JournalSink::~JournalSink() {
  if (fd_ >= 0) ::close(fd_);
}

JournalSink::Sent JournalSink::Send(const std::string& datagram) {
  if (fd_ < 0) return Sent::kNoJournal;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path_.size() >= sizeof(addr.sun_path)) return Sent::kNoJournal;
  std::memcpy(addr.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
  // MSG_DONTWAIT with the non-blocking socket: a full journald queue is EAGAIN, never a wait.
  ssize_t n = ::sendto(fd_, datagram.data(), datagram.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                       reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  if (n == static_cast<ssize_t>(datagram.size())) return Sent::kOk;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) return Sent::kFull;
  return Sent::kNoJournal;
}

void JournalSink::sink_it_(const spdlog::details::log_msg& msg) {
  std::string_view text(msg.payload.data(), msg.payload.size());
  auto fields = JournalFields(text, SyslogPriority(msg.level), identifier_);
  const uint64_t dropped = dropped_.load();
  if (dropped != dropped_reported_) {
    fields.emplace_back("FERRY_LOG_LINES_DROPPED", std::to_string(dropped - dropped_reported_));
  }
  switch (Send(EncodeJournalDatagram(fields))) {
    case Sent::kOk:
      dropped_reported_ = dropped;
      return;
    case Sent::kFull:
      dropped_.fetch_add(1);
      return;
    case Sent::kNoJournal:
      break;
  }
  fell_back_.fetch_add(1);
  spdlog::memory_buf_t line;
  formatter_->format(msg, line);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace ferry
