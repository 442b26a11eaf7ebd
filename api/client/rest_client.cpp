#include "api/client/rest_client.hpp"

#include <fmt/format.h>
#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "common/json_limits.hpp"
#include "common/nova_fault.hpp"

namespace ferry::client {
namespace {

constexpr std::string_view kHttpScheme = "http://";
constexpr std::string_view kHttpsScheme = "https://";
// 300 characters: enough of a proxy's error page to recognise it, short enough for one line.
constexpr std::size_t kMaxRawErrorChars = 300;

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

struct ParsedUrl {
  std::string host;
  int port = 80;
  std::string prefix;  // path prefix before /v2.1, e.g. "/compute" behind a proxy; "" normally
  std::string base;    // http://authority + prefix
};

int ParsePort(std::string_view text, const std::string& url) {
  int port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || port < 1 ||
      port > 65535) {
    throw Error(Errc::kBadRequest, fmt::format("invalid port in URL '{}'", url));
  }
  return port;
}

ParsedUrl ParseBaseUrl(const std::string& url) {
  if (StartsWith(url, kHttpsScheme)) {
    // The linked cpp-httplib has OpenSSL, but https needs CA-bundle and --insecure options that
    // are not designed yet; refusing is better than connecting without verifying the peer.
    throw Error(Errc::kBadRequest,
                fmt::format("https is not supported by ferryctl yet ('{}'); use http:// on the "
                            "management network or a local TLS-terminating proxy",
                            url));
  }
  if (!StartsWith(url, kHttpScheme)) {
    throw Error(Errc::kBadRequest, fmt::format("URL must start with http:// ('{}')", url));
  }
  std::string_view rest(url);
  rest.remove_prefix(kHttpScheme.size());
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string path(slash == std::string_view::npos ? "" : rest.substr(slash));
  if (authority.empty() || authority.find('@') != std::string_view::npos ||
      path.find_first_of("?#") != std::string::npos) {
    throw Error(Errc::kBadRequest,
                fmt::format("URL must be http://host[:port][/prefix] ('{}')", url));
  }
  ParsedUrl parsed;
  if (authority.front() == '[') {  // IPv6 literal: [::1]:8774
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      throw Error(Errc::kBadRequest, fmt::format("unterminated IPv6 address in URL '{}'", url));
    }
    parsed.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') throw Error(Errc::kBadRequest, fmt::format("bad URL '{}'", url));
      parsed.port = ParsePort(after.substr(1), url);
    }
  } else {
    const std::size_t colon = authority.find(':');
    parsed.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) parsed.port = ParsePort(authority.substr(colon + 1), url);
  }
  if (parsed.host.empty()) throw Error(Errc::kBadRequest, fmt::format("no host in URL '{}'", url));
  // Operators paste the endpoint from the service catalog, which ends in /v2.1; the commands
  // add /v2.1 themselves, so accept both forms.
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, "/v2.1") == 0)
    path.resize(path.size() - 5);
  while (!path.empty() && path.back() == '/') path.pop_back();
  parsed.prefix = path;
  parsed.base = std::string(kHttpScheme) + std::string(authority) + path;
  return parsed;
}

Errc ErrcForStatus(int status) {
  switch (status) {
    case 400:
      return Errc::kBadRequest;
    case 401:
      return Errc::kUnauthorized;
    case 403:
      return Errc::kForbidden;
    case 404:
      return Errc::kNotFound;
    case 406:
      return Errc::kNotAcceptable;
    case 409:
      return Errc::kConflict;
    case 503:
      return Errc::kUnavailable;
    default:
      return Errc::kInternal;
  }
}

const char* MethodName(RestClient::Method method) {
  switch (method) {
    case RestClient::Method::kGet:
      return "GET";
    case RestClient::Method::kPost:
      return "POST";
    case RestClient::Method::kPut:
      return "PUT";
    case RestClient::Method::kDelete:
      return "DELETE";
  }
  return "?";
}

// httplib's own names ("Connection", "Read") are terse; say what the operator should check.
std::string DescribeTransportError(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection:
      return "connection refused or host unreachable";
    case httplib::Error::ConnectionTimeout:
      return "connect timed out";
    case httplib::Error::Read:
      return "no complete answer (read failed or timed out)";
    case httplib::Error::Write:
      return "sending the request failed";
    default:
      return httplib::to_string(error);
  }
}

}  // namespace

struct RestClient::Impl {
  ClientOptions options;
  ParsedUrl url;
  httplib::ClientImpl http;

  explicit Impl(ClientOptions o)
      : options(std::move(o)), url(ParseBaseUrl(options.url)), http(url.host, url.port) {
    http.set_connection_timeout(options.connect_timeout);
    http.set_read_timeout(options.read_timeout);
    http.set_write_timeout(options.read_timeout);
    http.set_tcp_nodelay(true);  // no 40 ms delayed-ACK stall on kept-alive connections
  }

  httplib::Headers RequestHeaders() const {
    httplib::Headers headers{
        {"Accept", "application/json"},
        {"User-Agent", "ferryctl"},
        // Both spellings: the modern header, and the legacy one older Nova-compatible servers
        // (and ferry's own tests of them) still read.
        {"OpenStack-API-Version", "compute " + options.microversion},
        {"X-OpenStack-Nova-API-Version", options.microversion},
        // ferry's own fields (migration phase and progress, ...) beside Nova's: ferryctl's
        // tables and progress bar read them; without this header the server omits them.
        {"X-Ferry-Extensions", "true"},
    };
    if (!options.token.empty()) headers.emplace("X-Auth-Token", options.token);
    return headers;
  }
};

std::optional<std::string> Response::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return std::nullopt;
}

RestClient::RestClient(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
RestClient::~RestClient() = default;

Response RestClient::Get(const std::string& path) { return Send(Method::kGet, path, nullptr); }
Response RestClient::Post(const std::string& path, const nlohmann::json& body) {
  return Send(Method::kPost, path, &body);
}
Response RestClient::Post(const std::string& path, const nlohmann::json& body,
                          const HeaderList& extra) {
  return Send(Method::kPost, path, &body, extra);
}
Response RestClient::Put(const std::string& path, const nlohmann::json& body) {
  return Send(Method::kPut, path, &body);
}
Response RestClient::Delete(const std::string& path) {
  return Send(Method::kDelete, path, nullptr);
}

Response RestClient::Send(Method method, const std::string& path, const nlohmann::json* body,
                          const HeaderList& extra) {
  const std::string full_path = impl_->url.prefix + path;
  httplib::Headers headers = impl_->RequestHeaders();
  for (const auto& [name, value] : extra) headers.emplace(name, value);
  const std::string payload = body != nullptr ? body->dump() : std::string();
  constexpr const char* kJson = "application/json";
  httplib::Result result = [&] {
    switch (method) {
      case Method::kPost:
        return impl_->http.Post(full_path, headers, payload, kJson);
      case Method::kPut:
        return impl_->http.Put(full_path, headers, payload, kJson);
      case Method::kDelete:
        return impl_->http.Delete(full_path, headers);
      case Method::kGet:
        break;
    }
    return impl_->http.Get(full_path, headers);
  }();
  if (!result) {
    throw Error(
        Errc::kUnavailable,
        fmt::format("cannot reach {}: {} {}{} failed: {}", impl_->url.base, MethodName(method),
                    impl_->url.base, path, DescribeTransportError(result.error())));
  }
  Response response;
  response.status = result->status;
  response.text = result->body;
  for (const auto& [key, value] : result->headers) response.headers.emplace_back(key, value);
  if (!response.text.empty()) {
    response.body = ParseBoundedJsonOrDiscarded(response.text);
    if (response.body.is_discarded()) response.body = nullptr;
  }
  return response;
}

const std::string& RestClient::BaseUrl() const { return impl_->url.base; }
const std::string& RestClient::Microversion() const { return impl_->options.microversion; }

std::string RestClient::RelativePath(const std::string& href) const {
  std::string path = href;
  for (std::string_view scheme : {kHttpScheme, kHttpsScheme}) {
    if (StartsWith(href, scheme)) {
      const std::size_t slash = href.find('/', scheme.size());
      path = slash == std::string::npos ? "/" : href.substr(slash);
      break;
    }
  }
  const std::string& prefix = impl_->url.prefix;
  if (!prefix.empty() && StartsWith(path, prefix)) path.erase(0, prefix.size());
  return path;
}

ApiError::ApiError(std::string fault_name, int http_status, const std::string& message)
    : Error(ErrcForStatus(http_status), message),
      fault_name_(std::move(fault_name)),
      http_status_(http_status) {}

ApiError ApiErrorFrom(const Response& response) {
  if (response.body.is_object()) {
    for (const auto& [fault, detail] : response.body.items()) {
      if (detail.is_object() && detail.contains("message") && detail["message"].is_string()) {
        return ApiError(fault, response.status, detail["message"].get<std::string>());
      }
    }
  }
  std::string message = response.text.substr(0, kMaxRawErrorChars);
  std::replace(message.begin(), message.end(), '\n', ' ');
  if (message.find_first_not_of(" \t\r") == std::string::npos) {
    message = fmt::format("HTTP {} with no error body", response.status);
  }
  return ApiError(NovaFaultName(response.status), response.status, message);
}

const Response& ExpectOk(const Response& response) {
  if (!response.Ok()) throw ApiErrorFrom(response);
  return response;
}

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0x0F]);
    }
  }
  return out;
}

std::string QueryString(const QueryParams& params) {
  std::string out;
  for (const auto& [key, value] : params) {
    out += out.empty() ? '?' : '&';
    out += UrlEncode(key) + "=" + UrlEncode(value);
  }
  return out;
}

}  // namespace ferry::client
