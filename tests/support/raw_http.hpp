#pragma once
// A raw TCP client for tests that must misbehave on the wire (slow headers, huge or compressed
// bodies, too many connections) and read exactly what the server answers, byte by byte.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace ferry::testing {

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

class RawHttp {
 public:
  // Connects to 127.0.0.1:port from `source` (any 127.x.y.z: a different peer address).
  explicit RawHttp(int port, const std::string& source = "127.0.0.1");
  ~RawHttp();
  RawHttp(const RawHttp&) = delete;
  RawHttp& operator=(const RawHttp&) = delete;

  bool connected() const { return fd_ >= 0; }
  // Sends all of data; false when the server closed or reset the connection (or 2 s passed).
  bool Send(std::string_view data);
  // One response: status line, headers, Content-Length body. nullopt on close or timeout.
  std::optional<RawResponse> ReadResponse(std::chrono::milliseconds timeout);
  // True when the server closed (EOF or reset) within timeout; data it sent first is skipped.
  bool ClosedWithin(std::chrono::milliseconds timeout);
  // True when something (an answer, or a close) is waiting to be read.
  bool Readable(std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

 private:
  // Reads what is available into buffered_; false on EOF/error/timeout.
  bool Fill(std::chrono::steady_clock::time_point deadline);
  int fd_ = -1;
  std::string buffered_;
};

// POSTs a chunked body of zeros to path, up to `total` bytes in 64 KiB chunks, until the server
// answers or closes. Returns the bytes of body sent; *answer gets the response if one came.
uint64_t StreamChunkedBody(RawHttp& c, const std::string& path, const std::string& token,
                           uint64_t total, std::optional<RawResponse>* answer);

// POSTs a chunked body whose first chunk-size line never ends ("1;" then `total` bytes of a
// chunk extension, no CRLF), until the server answers or closes. Returns the bytes sent.
uint64_t StreamUnterminatedChunkLine(RawHttp& c, const std::string& path, const std::string& token,
                                     uint64_t total, std::optional<RawResponse>* answer);

// `bytes` zeros through gzip (about 1/1000 of that on the wire).
std::string GzipOfZeros(size_t bytes);

// The resident set size of a process in KiB (VmRSS of /proc/<pid>/status), 0 if unknown.
int64_t ResidentKiB(pid_t pid);

}  // namespace ferry::testing
