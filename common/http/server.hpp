#pragma once
// A small HTTP/1.1 server on Boost.Beast for ferry's controller API and agent command servers.
//
// Socket I/O and parsing run on io threads; handlers (which may block on PostgreSQL or a
// hypervisor) run on worker pools. Per request: the request line and headers are read within
// ServerOptions limits; `admit` then sees them (no body yet) and picks the worker pool and the
// body limit, or refuses the request (401, say) so that an unauthenticated peer never gets a
// body buffered; only then is the body read, bounded for Content-Length and chunked alike.
// Content-Encoding is never decoded: anything but identity is refused with 415.
#include <functional>
#include <memory>
#include <string>

#include "common/http/message.hpp"
#include "common/http/server_options.hpp"

namespace ferry::http {

using AdmitFn = std::function<Admission(const Request& head)>;      // on an io thread: no blocking
using HandleFn = std::function<void(Request& req, Response& res)>;  // on a worker thread

class Server {
 public:
  Server(ServerOptions options, AdmitFn admit, HandleFn handle);
  ~Server();  // Stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port (port 0: any free port) with SO_REUSEADDR and a wide backlog; returns the
  // bound port. Throws std::runtime_error when it cannot.
  int Bind(const std::string& host, int port);
  // Serves on the io threads and pools; returns at once.
  void Start();
  // Blocks until Stop() (from another thread).
  void Wait();
  // Stops accepting, lets running handlers finish, closes every connection. Idempotent; safe
  // from any thread except an io or worker thread of this server.
  void Stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry::http
