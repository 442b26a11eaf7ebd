#pragma once
// A small JSON-over-HTTP client for tests, speaking to the real controller on loopback.
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace ferry::testing {

// What an HttpClient checks of the Nova responses it receives (tests/support/nova_contract.hpp).
enum class ContractCheck {
  kFull,            // every Nova response against its route's schema, the default
  kErrorBodiesOnly  // only 4xx/5xx bodies: for tests that send garbage on purpose
};

struct HttpResult {
  int status = 0;  // 0: no connection
  nlohmann::json body;
  std::string raw;  // the body; with status 0, why the request got no answer
  std::multimap<std::string, std::string> headers;
  std::string Header(const std::string& name) const;
};

class HttpClient {
 public:
  HttpClient(std::string base_url, std::string token)
      : base_(std::move(base_url)), token_(std::move(token)) {}
  void SetToken(std::string token) { token_ = std::move(token); }
  void SetMicroversion(std::string mv) { mv_ = std::move(mv); }
  void SetHeader(const std::string& name, const std::string& value) {
    extra_headers_[name] = value;
  }
  // Every response to a Nova path is checked against Nova's published schema (a gtest failure
  // otherwise); a test that sends garbage on purpose narrows that to the error bodies.
  void SetContractCheck(ContractCheck check) { check_ = check; }

  HttpResult Get(const std::string& path) const;
  HttpResult Post(const std::string& path, const nlohmann::json& body) const;
  HttpResult PostRaw(const std::string& path, const std::string& body) const;
  HttpResult Put(const std::string& path, const nlohmann::json& body) const;
  HttpResult Delete(const std::string& path) const;

 private:
  HttpResult Send(const std::string& method, const std::string& path,
                  const std::string* body) const;
  std::string base_;
  std::string token_;
  std::string mv_;
  std::map<std::string, std::string> extra_headers_;
  ContractCheck check_ = ContractCheck::kFull;
};

}  // namespace ferry::testing
