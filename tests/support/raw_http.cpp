#include "tests/support/raw_http.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace ferry::testing {
namespace {

using Clock = std::chrono::steady_clock;

int MillisLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

RawHttp::RawHttp(int port, const std::string& source) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  // 2 s per send: a server that stops reading must not hang the test.
  timeval send_timeout{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof(send_timeout));
  int yes = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
    ::close(fd);
    return;
  }
  fd_ = fd;
}

RawHttp::~RawHttp() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawHttp::Send(std::string_view data) {
  while (fd_ >= 0 && !data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return fd_ >= 0;
}

bool RawHttp::Readable(std::chrono::milliseconds timeout) {
  if (!buffered_.empty()) return true;
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
}

bool RawHttp::Fill(Clock::time_point deadline) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, MillisLeft(deadline)) <= 0) return false;
  char buf[65536];
  ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
  if (n <= 0) return false;
  buffered_.append(buf, static_cast<size_t>(n));
  return true;
}

std::optional<RawResponse> RawHttp::ReadResponse(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  size_t head_end;
  while ((head_end = buffered_.find("\r\n\r\n")) == std::string::npos) {
    if (!Fill(deadline)) return std::nullopt;
  }
  RawResponse r;
  std::istringstream head(buffered_.substr(0, head_end));
  std::string line;
  std::getline(head, line);
  if (line.size() < 12) return std::nullopt;
  r.status = std::stoi(line.substr(9, 3));
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    r.headers[Lower(line.substr(0, colon))] = value;
  }
  size_t length = r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
  while (buffered_.size() < head_end + 4 + length) {
    if (!Fill(deadline)) return std::nullopt;
  }
  r.body = buffered_.substr(head_end + 4, length);
  buffered_.erase(0, head_end + 4 + length);
  return r;
}

bool RawHttp::ClosedWithin(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, MillisLeft(deadline)) <= 0) return false;
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return true;
  }
  return false;
}

uint64_t StreamChunkedBody(RawHttp& c, const std::string& path, const std::string& token,
                           uint64_t total, std::optional<RawResponse>* answer) {
  std::string head = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!token.empty()) head += "X-Auth-Token: " + token + "\r\n";
  head += "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  if (!c.Send(head)) return 0;
  constexpr size_t kChunk = 64 * 1024;
  const std::string chunk = "10000\r\n" + std::string(kChunk, '0') + "\r\n";  // 0x10000 bytes
  uint64_t sent = 0;
  while (sent < total) {
    if (c.Readable()) break;
    if (!c.Send(chunk)) break;
    sent += kChunk;
  }
  if (c.Readable(std::chrono::seconds(2))) *answer = c.ReadResponse(std::chrono::seconds(2));
  return sent;
}

uint64_t StreamUnterminatedChunkLine(RawHttp& c, const std::string& path, const std::string& token,
                                     uint64_t total, std::optional<RawResponse>* answer) {
  std::string head = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!token.empty()) head += "X-Auth-Token: " + token + "\r\n";
  head += "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1;";
  if (!c.Send(head)) return 0;
  const std::string extension(64 * 1024, 'a');
  uint64_t sent = 0;
  while (sent < total) {
    if (c.Readable()) break;
    if (!c.Send(extension)) break;
    sent += extension.size();
  }
  if (c.Readable(std::chrono::seconds(2))) *answer = c.ReadResponse(std::chrono::seconds(2));
  return sent;
}

std::string GzipOfZeros(size_t bytes) {
  std::string out;
  std::string command = "head -c " + std::to_string(bytes) + " /dev/zero | gzip -c";
  FILE* p = popen(command.c_str(), "r");
  if (!p) return out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

int64_t ResidentKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return 0;
}

}  // namespace ferry::testing
