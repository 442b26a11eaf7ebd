#include "tests/support/http.hpp"

#include <httplib.h>
#include <strings.h>

#include "tests/support/nova_contract.hpp"

namespace ferry::testing {

std::string HttpResult::Header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
  }
  return "";
}

HttpResult HttpClient::Send(const std::string& method, const std::string& path,
                            const std::string* body) const {
  httplib::Client cli(base_);
  cli.set_read_timeout(std::chrono::seconds(30));
  cli.set_tcp_nodelay(true);  // no 40 ms delayed-ACK stall on kept-alive connections
  httplib::Headers h;
  if (!token_.empty()) h.emplace("X-Auth-Token", token_);
  if (!mv_.empty()) h.emplace("OpenStack-API-Version", "compute " + mv_);
  for (const auto& [name, value] : extra_headers_) h.emplace(name, value);
  auto send = [&]() -> httplib::Result {
    if (method == "GET") return cli.Get(path.c_str(), h);
    if (method == "POST") return cli.Post(path.c_str(), h, *body, "application/json");
    if (method == "PUT") return cli.Put(path.c_str(), h, *body, "application/json");
    return cli.Delete(path.c_str(), h);
  };
  auto res = send();
  HttpResult out;
  if (!res) {
    out.raw = httplib::to_string(res.error());
    return out;
  }
  out.status = res->status;
  out.raw = res->body;
  out.headers = {res->headers.begin(), res->headers.end()};
  if (!res->body.empty()) out.body = nlohmann::json::parse(res->body, nullptr, false);
  ContractRequest sent{method, path, {h.begin(), h.end()}};
  ExpectNovaContract(sent, out, check_);
  return out;
}

HttpResult HttpClient::Get(const std::string& path) const { return Send("GET", path, nullptr); }
HttpResult HttpClient::Post(const std::string& path, const nlohmann::json& body) const {
  std::string s = body.dump();
  return Send("POST", path, &s);
}
HttpResult HttpClient::PostRaw(const std::string& path, const std::string& body) const {
  return Send("POST", path, &body);
}
HttpResult HttpClient::Put(const std::string& path, const nlohmann::json& body) const {
  std::string s = body.dump();
  return Send("PUT", path, &s);
}
HttpResult HttpClient::Delete(const std::string& path) const {
  return Send("DELETE", path, nullptr);
}

}  // namespace ferry::testing
