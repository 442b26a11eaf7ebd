#pragma once
// The state a Server shares with its connections (private to common/http).
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/http/server.hpp"

namespace ferry::http {

struct Server::Impl {
  Impl(ServerOptions o, AdmitFn a, HandleFn h)
      : options(std::move(o)), admit(std::move(a)), handle(std::move(h)) {}

  // Counts a new connection from `peer`; false when a cap is reached (the caller closes it).
  bool TryAddPeer(const std::string& peer);
  void RemovePeer(const std::string& peer);
  void Accept();
  void OnAccepted(boost::asio::ip::tcp::socket socket);
  boost::asio::thread_pool& Pool(size_t index) {
    return *pools[index < pools.size() ? index : pools.size() - 1];
  }

  const ServerOptions options;
  const AdmitFn admit;
  const HandleFn handle;
  std::atomic<bool> stopping{false};

  // Declared before the io_context: connections it destroys at the end still count out here.
  std::mutex peers_mu;
  std::unordered_map<std::string, size_t> peers;
  size_t connections = 0;

  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor{ioc};
  boost::asio::steady_timer accept_backoff{ioc};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::vector<std::unique_ptr<boost::asio::thread_pool>> pools;
  std::vector<std::thread> io_threads;

  std::mutex state_mu;
  std::condition_variable state_cv;
  bool started = false;
  bool stopped = false;
};

// Serves one accepted connection until it closes (defined in connection.cpp).
void ServeConnection(Server::Impl& server, boost::asio::ip::tcp::socket socket, std::string peer);

}  // namespace ferry::http
