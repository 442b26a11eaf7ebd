#pragma once
// A small synchronous client for ferry's Nova-compatible REST API (/v2.1).
//
// It speaks the transport only: it adds the auth and microversion headers, sends JSON and hands
// back {status, parsed body, headers} for every HTTP answer, including 4xx/5xx, so callers and
// tests can look at the raw exchange. Transport failures (refused, timeout, bad URL) throw
// ferry::Error. ExpectOk() turns a Nova error body into an ApiError for callers that want
// exceptions.
//
// httplib stays out of this header on purpose: it must be compiled with its pkg-config defines,
// and keeping it in the .cpp means a consumer cannot get that wrong by including us.
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/errors.hpp"

namespace ferry::client {

using HeaderList = std::vector<std::pair<std::string, std::string>>;
using QueryParams = std::vector<std::pair<std::string, std::string>>;

struct Response {
  int status = 0;
  nlohmann::json body;  // null when the body is empty or not JSON
  std::string text;     // raw body: the only clue when a proxy answers with HTML or plain text
  HeaderList headers;

  bool Ok() const { return status >= 200 && status < 300; }
  // First header with this name, compared case-insensitively as HTTP requires.
  std::optional<std::string> Header(std::string_view name) const;
};

struct ClientOptions {
  std::string url;                    // http://host[:port][/prefix]; a trailing /v2.1 is dropped
  std::string token;                  // sent as X-Auth-Token; empty sends none
  std::string microversion = "2.92";  // "2.NN" or "latest"
  // 5 s: a controller on the management network answers a TCP handshake in milliseconds; longer
  // than this it is down or unreachable and the operator should hear so quickly.
  std::chrono::seconds connect_timeout{5};
  // 60 s: every call ferryctl makes is either a read or an asynchronous 202, so even a full
  // page of 1000 servers (Nova's osapi_max_limit) comes back well within this.
  std::chrono::seconds read_timeout{60};
};

class RestClient {
 public:
  enum class Method { kGet, kPost, kPut, kDelete };

  // Throws ferry::Error(kBadRequest) for a URL it cannot use (not http://, no host, bad port).
  explicit RestClient(ClientOptions options);
  ~RestClient();
  RestClient(const RestClient&) = delete;
  RestClient& operator=(const RestClient&) = delete;

  // `path` is relative to the base URL and starts with '/', e.g. "/v2.1/os-services?host=h".
  Response Get(const std::string& path);
  Response Post(const std::string& path, const nlohmann::json& body);
  // With headers of the request's own beside the usual ones (e.g. Idempotency-Key).
  Response Post(const std::string& path, const nlohmann::json& body, const HeaderList& extra);
  Response Put(const std::string& path, const nlohmann::json& body);
  Response Delete(const std::string& path);
  Response Send(Method method, const std::string& path, const nlohmann::json* body,
                const HeaderList& extra = {});

  // scheme://host:port plus the path prefix, without a trailing slash.
  const std::string& BaseUrl() const;
  const std::string& Microversion() const;
  // The part of an absolute link (e.g. a "next" page href) that Get() accepts; the link's own
  // host is ignored because controllers behind a proxy often advertise an internal address.
  std::string RelativePath(const std::string& href) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A Nova error answer: {"<faultName>": {"code": N, "message": "..."}}.
class ApiError : public Error {
 public:
  ApiError(std::string fault_name, int http_status, const std::string& message);
  const std::string& FaultName() const { return fault_name_; }
  int HttpStatus() const { return http_status_; }

 private:
  std::string fault_name_;
  int http_status_;
};

// Builds the ApiError for a non-2xx response; bodies that are not Nova-shaped (a proxy's HTML
// page, an empty 502) get Nova's fault name for the status and the start of the raw text.
ApiError ApiErrorFrom(const Response& response);
// Returns the response when it is 2xx, throws ApiErrorFrom(response) otherwise.
const Response& ExpectOk(const Response& response);

// RFC 3986 percent-encoding of everything but unreserved characters.
std::string UrlEncode(std::string_view s);
// "" for no parameters, else "?k=v&k2=v2" with keys and values encoded.
std::string QueryString(const QueryParams& params);

}  // namespace ferry::client
