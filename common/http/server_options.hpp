#pragma once
// Limits of ferry's HTTP servers (the controller's API, the agents' command servers). Every
// resource a peer can make the server hold is bounded here, and every bound is checked before
// the server commits that resource: a slow or hostile client costs one socket and a few KiB,
// never a worker thread or an unbounded buffer.
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace ferry::http {

struct ServerOptions {
  std::string name = "http";  // in log lines

  // 16 KiB for the request line and all headers together: Nova behind eventlet accepts header
  // lines up to 16 KiB (max_header_line); ferry's own requests send well under 1 KiB.
  size_t max_header_bytes = 16 * 1024;
  // 100 header fields: Python's http.client (the openstack CLI's stack) refuses more than 100.
  size_t max_header_fields = 100;

  // 10 s for a whole request line and headers, counted from the first byte: a client on the
  // same network sends them in one packet; Apache's mod_reqtimeout allows 20 s.
  std::chrono::seconds header_timeout{10};
  // 20 s for a whole body: Apache's mod_reqtimeout body timeout. A 1 MiB body at 20 s is a
  // client below ~50 KiB/s.
  std::chrono::seconds body_timeout{20};
  // 5 s of silence on a kept-alive connection before it is closed: httplib's keep-alive
  // timeout, which ferry's servers used before.
  std::chrono::seconds idle_timeout{5};
  // 30 s to write a whole response: the largest (a detailed list of thousands of servers) is a
  // few MiB; httplib gave each send() 5 s.
  std::chrono::seconds write_timeout{30};
  // How long a refused request's remaining body is read and dropped before the socket closes,
  // so the client reads the refusal instead of a connection reset.
  std::chrono::milliseconds linger{500};

  // 512 connections: below the default soft limit of 1024 open files, leaving the rest for the
  // database pool, logs and outgoing connections. Beyond it a new connection takes the slot of
  // the oldest one waiting for a request; with none waiting, the new one is closed at once.
  size_t max_connections = 512;
  // 64 per peer address: an agent keeps 2 (heartbeats, progress), an operator's scripts a few;
  // 64 leaves room for a host running many clients and stops one peer taking all 512.
  size_t max_connections_per_peer = 64;
  // 1000 requests per kept-alive connection, then Connection: close. With httplib a connection
  // pinned a worker thread, so ferry closed it after 100 to hand the thread back; here it pins
  // nothing, and the cap only makes clients behind a load balancer spread out now and then.
  size_t max_requests_per_connection = 1000;

  // Threads that only do socket I/O and parsing; handlers never run on them.
  int io_threads = 1;
  // Worker threads per pool; Admission::pool picks one. Separate pools keep one class of
  // traffic (API clients) from starving another (agent heartbeats).
  std::vector<int> pool_threads = {8};
};

}  // namespace ferry::http
