#include "common/http/server.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <future>
#include <stdexcept>
#include <vector>

#include "common/http/server_impl.hpp"

namespace ferry::http {

namespace asio = boost::asio;
using tcp = boost::asio::ip::tcp;

namespace {
// 100 ms between accept attempts after accept() failed (EMFILE: out of file descriptors), so
// the io thread does not spin while connections close and free some.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);
}  // namespace

bool Server::Impl::TryAddPeer(const std::string& peer) {
  // Connections looked at for eviction are released after peers_mu: the last reference to one
  // runs its destructor, which takes peers_mu (RemovePeer).
  std::vector<std::shared_ptr<ConnectionSlot>> looked_at;
  std::lock_guard lock(peers_mu);
  auto& count = peers[peer];
  bool room =
      count < options.max_connections_per_peer &&
      (connections - evicting < options.max_connections || EvictOldestWaitingLocked(looked_at));
  if (!room) {
    if (count == 0) peers.erase(peer);
    return false;
  }
  ++count;
  ++connections;
  return true;
}

bool Server::Impl::EvictOldestWaitingLocked(
    std::vector<std::shared_ptr<ConnectionSlot>>& looked_at) {
  for (auto it = slots.begin(); it != slots.end(); ++it) {
    auto slot = it->second.lock();
    if (!slot) continue;
    looked_at.push_back(slot);
    if (!slot->waiting.exchange(false)) continue;
    slots.erase(it);  // chosen once; its close frees the slot it still counts in
    ++evicting;
    slot->Evict();
    return true;
  }
  return false;
}

uint64_t Server::Impl::AddSlot(std::weak_ptr<ConnectionSlot> slot) {
  std::lock_guard lock(peers_mu);
  const uint64_t id = next_slot_id++;
  slots.emplace(id, std::move(slot));
  return id;
}

void Server::Impl::RemovePeer(const std::string& peer, uint64_t slot_id) {
  std::lock_guard lock(peers_mu);
  if (slots.erase(slot_id) == 0 && evicting > 0) --evicting;  // an evicted one is gone
  auto it = peers.find(peer);
  if (it == peers.end()) return;
  --connections;
  if (--it->second == 0) peers.erase(it);
}

void Server::Impl::Accept() {
  acceptor.async_accept(
      asio::make_strand(ioc), [this](boost::system::error_code ec, tcp::socket socket) {
        if (!acceptor.is_open() || stopping) return;
        if (!ec) {
          OnAccepted(std::move(socket));
          return Accept();
        }
        spdlog::warn("{}: accept failed: {}", options.name, ec.message());
        accept_backoff.expires_after(kAcceptBackoff);
        accept_backoff.async_wait([this](boost::system::error_code) { Accept(); });
      });
}

void Server::Impl::OnAccepted(tcp::socket socket) {
  boost::system::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  if (ec) return;  // the peer is already gone
  std::string peer = remote.address().to_string();
  if (!TryAddPeer(peer)) {
    spdlog::debug("{}: connection refused peer={} (connection cap)", options.name, peer);
    socket.close(ec);
    return;
  }
  // Responses go out at once: without this a kept-alive request waits for the client's delayed
  // ACK of the previous response (40 ms on Linux).
  socket.set_option(tcp::no_delay(true), ec);
  ServeConnection(*this, std::move(socket), std::move(peer));
}

Server::Server(ServerOptions options, AdmitFn admit, HandleFn handle)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(admit), std::move(handle))) {
  if (impl_->options.pool_threads.empty()) throw std::invalid_argument("no worker pool");
}

Server::~Server() { Stop(); }

int Server::Bind(const std::string& host, int port) {
  try {
    tcp::resolver resolver(impl_->ioc);
    auto endpoint =
        resolver.resolve(host, std::to_string(port), tcp::resolver::passive).begin()->endpoint();
    auto& acceptor = impl_->acceptor;
    acceptor.open(endpoint.protocol());
    // SO_REUSEADDR only, never SO_REUSEPORT: a second controller must fail to bind the same
    // port rather than silently take half the connections; this only allows fast restarts.
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(endpoint);
    // SOMAXCONN: a burst of requests (a drain script firing 50 live migrations) must queue in
    // the kernel, not be reset.
    acceptor.listen(asio::socket_base::max_listen_connections);
    return acceptor.local_endpoint().port();
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                             e.code().message());
  }
}

void Server::Start() {
  std::lock_guard lock(impl_->state_mu);
  if (impl_->started || impl_->stopped) return;
  impl_->started = true;
  for (int n : impl_->options.pool_threads) {
    impl_->pools.push_back(std::make_unique<asio::thread_pool>(static_cast<size_t>(n)));
  }
  impl_->work.emplace(impl_->ioc.get_executor());
  asio::post(impl_->ioc, [impl = impl_.get()] { impl->Accept(); });
  for (int i = 0; i < impl_->options.io_threads; ++i) {
    impl_->io_threads.emplace_back([impl = impl_.get()] { impl->ioc.run(); });
  }
}

void Server::Wait() {
  std::unique_lock lock(impl_->state_mu);
  impl_->state_cv.wait(lock, [this] { return impl_->stopped; });
}

void Server::Stop() {
  auto& impl = *impl_;
  if (impl.stopping.exchange(true)) return Wait();
  {
    // Closing the acceptor on an io thread: no other thread touches it meanwhile.
    std::promise<void> closed;
    asio::post(impl.ioc, [&impl, &closed] {
      boost::system::error_code ignored;
      impl.acceptor.close(ignored);
      impl.accept_backoff.cancel();
      closed.set_value();
    });
    if (!impl.io_threads.empty()) closed.get_future().wait();
  }
  for (auto& pool : impl.pools) pool->join();  // handlers under way finish
  impl.work.reset();
  impl.ioc.stop();
  for (auto& t : impl.io_threads) t.join();
  std::lock_guard lock(impl.state_mu);
  impl.stopped = true;
  impl.state_cv.notify_all();
}

}  // namespace ferry::http
