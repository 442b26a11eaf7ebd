#include "agent/command_server_flags.hpp"

#include <chrono>
#include <string>

namespace ferry::agent {

void AddCommandServerFlags(CLI::App& app, CommandServerOptions& o) {
  const std::string g = "Command server limits";
  auto& h = o.http;
  app.add_option("--max-body-bytes", o.body_bytes, "largest command body (413 beyond)")
      ->check(CLI::Range(1024, 1 << 30))
      ->capture_default_str()
      ->group(g);
  app.add_option("--max-header-bytes", h.max_header_bytes,
                 "request line and headers together (431 beyond)")
      ->check(CLI::Range(1024, 1 << 20))
      ->capture_default_str()
      ->group(g);
  app.add_option("--max-connections", h.max_connections,
                 "open connections in all; beyond, the oldest one waiting for a request is closed")
      ->check(CLI::Range(2, 1000000))
      ->capture_default_str()
      ->group(g);
  app.add_option("--max-connections-per-peer", h.max_connections_per_peer,
                 "open connections from one address")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str()
      ->group(g);
  app.add_option_function<int>(
         "--header-timeout", [&h](int s) { h.header_timeout = std::chrono::seconds(s); },
         "seconds to send a request's line and headers (default 10)")
      ->check(CLI::Range(1, 3600))
      ->group(g);
  app.add_option_function<int>(
         "--command-threads", [&h](int n) { h.pool_threads = {n}; },
         "worker threads running commands and inventory reads (default 8)")
      ->check(CLI::Range(1, 1024))
      ->group(g);
  app.add_option("--metrics-token-file", o.metrics_token_file,
                 "file holding a token that may read GET /metrics and nothing else (for "
                 "Prometheus); the command token may read it too")
      ->group("Metrics");
}

}  // namespace ferry::agent
