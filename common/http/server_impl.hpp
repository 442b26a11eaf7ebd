#pragma once
// The state a Server shares with its connections (private to common/http).
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/http/server.hpp"

namespace ferry::http {

// What the server may do to a connection it counts: at the connection cap, close the oldest
// one that is only waiting for a request (its head still arriving, or idle between requests).
class ConnectionSlot {
 public:
  virtual ~ConnectionSlot() = default;
  // Thread-safe: closes the connection on its own strand if it is still waiting by then.
  virtual void Evict() = 0;
  // True while no request of this connection is being read past its head, handled or answered.
  std::atomic<bool> waiting{true};
};

struct Server::Impl {
  Impl(ServerOptions o, AdmitFn a, HandleFn h)
      : options(std::move(o)), admit(std::move(a)), handle(std::move(h)) {}

  // Counts a new connection from `peer`; false when its peer's cap is reached, or the global
  // cap is and no waiting connection can make room (the caller closes it). Room is made by
  // evicting the oldest waiting connection: one that has sent no request has no better claim
  // to a slot than one that arrives, so slow or idle clients cannot keep agents out.
  bool TryAddPeer(const std::string& peer);
  // The connection's place in the eviction order, once it exists; its destructor calls
  // RemovePeer with the same id.
  uint64_t AddSlot(std::weak_ptr<ConnectionSlot> slot);
  void RemovePeer(const std::string& peer, uint64_t slot_id);
  // peers_mu held; every connection it locks goes to `looked_at`, released after the lock.
  bool EvictOldestWaitingLocked(std::vector<std::shared_ptr<ConnectionSlot>>& looked_at);
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
  std::map<uint64_t, std::weak_ptr<ConnectionSlot>> slots;  // by age: the oldest first
  uint64_t next_slot_id = 0;
  size_t evicting = 0;  // evicted, not yet closed: counted in `connections` until then

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
