#pragma once
// What ferry's HTTP servers hand their handlers, and what handlers give back.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/http/url.hpp"

namespace ferry::http {

struct Request {
  std::string method;
  std::string target;  // as sent
  std::string path;    // decoded (DecodeUrl)
  QueryParams query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // empty until the body has been read (Admit never sees it)
  std::string remote_addr;

  // The first header of that name (case-insensitive).
  std::optional<std::string> Header(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";  // sent only with a body
  std::vector<std::pair<std::string, std::string>> headers;

  void SetHeader(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
  }
  void SetJson(int status, std::string json_text) {
    this->status = status;
    body = std::move(json_text);
    content_type = "application/json";
  }
};

// Nova's fault body for a status the server itself answers (413, 415, 431, ...):
// {"<faultName>": {"code": N, "message": "..."}} with Nova's names for those statuses.
Response FaultResponse(int status, const std::string& message);

// Decided from the request line and headers, before any of the body is read.
struct Admission {
  size_t pool = 0;        // which worker pool runs the handler (ServerOptions::pools)
  size_t body_limit = 0;  // bytes; a larger body is refused with 413 before it is buffered
  std::optional<Response> refusal;  // set: answer this at once, read no body, close
};

}  // namespace ferry::http
