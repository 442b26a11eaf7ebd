// One HTTP/1.1 connection: read the head (bounded bytes and time), admit, read the body
// (bounded bytes and time), run the handler on a worker pool, write (bounded time), repeat.
#include <spdlog/spdlog.h>
#include <strings.h>

#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstring>
#include <iterator>
#include <limits>
#include <memory>

#include "common/http/server_impl.hpp"

namespace ferry::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

// A kept-alive connection's next request is first awaited with a plain read of this size;
// the header parser reads the rest.
constexpr size_t kFirstReadBytes = 4096;
// What the read buffer may hold beyond a request's head: one read of body (Beast reads 64 KiB at
// a time, and the parser takes chunk data out as it goes). Only a line the parser cannot finish
// (a chunk-size line or trailer without its CRLF) would grow it further; it is refused (400) at
// this bound instead of buffering whatever a peer sends before the body limit applies.
constexpr size_t kBodyReadSlackBytes = 64 * 1024;
constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";

bool EqualsIgnoreCase(beast::string_view a, const char* b) {
  return a.size() == std::strlen(b) && strncasecmp(a.data(), b, a.size()) == 0;
}

class Connection : public std::enable_shared_from_this<Connection>, public ConnectionSlot {
 public:
  Connection(Server::Impl& server, tcp::socket socket, std::string peer)
      : server_(server),
        options_(server.options),
        stream_(std::move(socket)),
        peer_(std::move(peer)),
        buffer_(server.options.max_header_bytes + kBodyReadSlackBytes) {}
  ~Connection() override { server_.RemovePeer(peer_, slot_id_); }

  // The first request's head must arrive within header_timeout of the connect.
  void Start() {
    slot_id_ = server_.AddSlot(weak_from_this());
    ReadHead();
  }

  void Evict() override {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      spdlog::debug("{}: closed a waiting connection peer={} to make room (connection cap)",
                    self->options_.name, self->peer_);
      self->Close();
    });
  }

 private:
  void ReadHead() {
    if (server_.stopping) return Close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
    // No limit yet: Admit picks it before a byte of the body is read (OnHead checks the
    // Content-Length against it; the parser enforces it on chunked bodies).
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    stream_.expires_after(options_.header_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHead(ec); });
  }

  // Waits idle_timeout for the first byte of the next request, then header_timeout for its head.
  void AwaitNextRequest() {
    waiting = true;  // evictable again (ConnectionSlot) until the next head is in
    if (buffer_.size() > 0) return ReadHead();
    stream_.expires_after(options_.idle_timeout);
    stream_.async_read_some(buffer_.prepare(kFirstReadBytes),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->Close();
                              self->buffer_.commit(n);
                              self->ReadHead();
                            });
  }

  void OnHead(beast::error_code ec) {
    // Chosen for eviction while its head arrived: it is closed (Evict's close is on its way).
    if (!waiting.exchange(false)) return Close();
    if (ec == bhttp::error::header_limit) {
      return Refuse(431, "Request line and headers exceed " +
                             std::to_string(options_.max_header_bytes) + " bytes");
    }
    if (ec == beast::error::timeout || ec == bhttp::error::end_of_stream ||
        ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::error::operation_aborted) {
      return Close();
    }
    if (ec) return Refuse(400, "Malformed HTTP request: " + ec.message());
    const auto& head = parser_->get();
    if (static_cast<size_t>(std::distance(head.begin(), head.end())) > options_.max_header_fields) {
      return Refuse(431, "More than " + std::to_string(options_.max_header_fields) + " headers");
    }
    if (!FillRequest(head)) return Refuse(400, "Malformed request target");
    auto encoding = head[bhttp::field::content_encoding];
    if (!encoding.empty() && !EqualsIgnoreCase(encoding, "identity")) {
      return Refuse(415, "Content-Encoding is not accepted: send the body uncompressed");
    }
    auto transfer = head[bhttp::field::transfer_encoding];
    if (!transfer.empty() && !EqualsIgnoreCase(transfer, "chunked")) {
      return Refuse(501, "Transfer-Encoding other than chunked is not implemented");
    }
    Admission admission;
    // On an io thread: an exception from admit (a regex on a hostile path, a digest that
    // failed) must end this request, not the process.
    try {
      admission = server_.admit(request_);
    } catch (const std::exception& e) {
      spdlog::error("http: admission failed path={} error={}", request_.path, e.what());
      return Refuse(500, "Internal error");
    }
    if (admission.refusal) return Send(std::move(*admission.refusal), Ending::kLinger);
    auto length = parser_->content_length();
    if (length && *length > admission.body_limit) return RefuseBody(admission.body_limit);
    parser_->body_limit(admission.body_limit);
    body_limit_ = admission.body_limit;
    pool_ = admission.pool;
    if (parser_->is_done()) return RunHandler();
    if (EqualsIgnoreCase(head[bhttp::field::expect], "100-continue")) return SendContinue();
    ReadBody();
  }

  bool FillRequest(const bhttp::request<bhttp::string_body>& head) {
    request_ = Request{};
    request_.method = std::string(head.method_string());
    request_.target = std::string(head.target());
    request_.remote_addr = peer_;
    version_ = head.version();
    head_only_ = head.method() == bhttp::verb::head;
    for (const auto& field : head) {
      request_.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    return SplitTarget(request_.target, request_.path, request_.query);
  }

  void SendContinue() {
    stream_.expires_after(options_.write_timeout);
    asio::async_write(stream_, asio::buffer(kContinue, sizeof(kContinue) - 1),
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->Close();
                        self->ReadBody();
                      });
  }

  void ReadBody() {
    stream_.expires_after(options_.body_timeout);
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) return RefuseBody(body_limit_);
    if (ec == bhttp::error::buffer_overflow) {
      return Refuse(400, "Chunk size line or trailer exceeds " +
                             std::to_string(kBodyReadSlackBytes) + " bytes");
    }
    if (ec == beast::error::timeout || ec == asio::error::eof ||
        ec == bhttp::error::partial_message || ec == asio::error::connection_reset) {
      return Close();
    }
    if (ec) return Refuse(400, "Malformed HTTP body: " + ec.message());
    RunHandler();
  }

  void RefuseBody(size_t limit) {
    Refuse(413, "Request body exceeds " + std::to_string(limit) + " bytes");
  }

  void RunHandler() {
    if (server_.stopping) return Close();
    request_.body = std::move(parser_->get().body());
    keep_alive_ = parser_->get().keep_alive();
    stream_.expires_never();
    asio::post(server_.Pool(pool_), [self = shared_from_this()] {
      Response response;
      try {
        self->server_.handle(self->request_, response);
      } catch (const std::exception& e) {
        spdlog::error("{}: unhandled error path={} error=\"{}\"", self->options_.name,
                      self->request_.path, e.what());
        response = FaultResponse(500, "Unexpected error.");
      }
      asio::post(self->stream_.get_executor(), [self, r = std::move(response)]() mutable {
        self->Send(std::move(r), self->KeepAlive() ? Ending::kKeepAlive : Ending::kClose);
      });
    });
  }

  bool KeepAlive() {
    return keep_alive_ && ++served_ < options_.max_requests_per_connection && !server_.stopping;
  }

  void Refuse(int status, const std::string& why) {
    spdlog::debug("{}: refused peer={} status={} reason=\"{}\"", options_.name, peer_, status, why);
    Send(FaultResponse(status, why), Ending::kLinger);
  }

  enum class Ending { kKeepAlive, kClose, kLinger };

  void Send(Response r, Ending ending) {
    response_ = {};
    response_.version(version_);
    response_.result(static_cast<unsigned>(r.status));
    for (auto& [name, value] : r.headers) response_.insert(name, value);
    if (!r.body.empty()) response_.set(bhttp::field::content_type, r.content_type);
    response_.body() = std::move(r.body);
    response_.keep_alive(ending == Ending::kKeepAlive);
    response_.prepare_payload();
    if (head_only_) response_.body().clear();  // HEAD: the length of the body not sent
    stream_.expires_after(options_.write_timeout);
    bhttp::async_write(stream_, response_,
                       [self = shared_from_this(), ending](beast::error_code ec, size_t) {
                         if (ec) return self->Close();
                         if (ending == Ending::kKeepAlive) return self->AwaitNextRequest();
                         if (ending == Ending::kLinger) return self->Linger();
                         self->Close();
                       });
  }

  // A refused request's body may still be arriving: stop sending, read and drop for a moment so
  // the client sees the answer rather than a reset, then close.
  void Linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(options_.linger);
    Drain();
  }

  void Drain() {
    stream_.async_read_some(asio::buffer(discard_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->Close();
                              self->Drain();
                            });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  Server::Impl& server_;
  const ServerOptions& options_;
  beast::tcp_stream stream_;
  const std::string peer_;
  uint64_t slot_id_ = 0;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::string_body> response_;
  Request request_;
  size_t pool_ = 0;
  size_t body_limit_ = 0;
  size_t served_ = 0;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_only_ = false;
  std::array<char, 16384> discard_{};
};

}  // namespace

void ServeConnection(Server::Impl& server, tcp::socket socket, std::string peer) {
  std::make_shared<Connection>(server, std::move(socket), std::move(peer))->Start();
}

}  // namespace ferry::http
