#pragma once
// A real HTTP server for ferryctl tests: binds 127.0.0.1 on port 0, answers with canned Nova
// responses per (method, path) and records every request it receives, so tests assert on
// exactly what went over the wire.
#include <httplib.h>

#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "api/client/ferryctl.hpp"

namespace ferry::client::testing {

struct RecordedRequest {
  std::string method;
  std::string path;  // without the query
  std::multimap<std::string, std::string> params;
  httplib::Headers headers;
  std::string body;

  nlohmann::json Json() const { return nlohmann::json::parse(body); }
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);  // httplib::Headers compares names case-insensitively
    return it == headers.end() ? "" : it->second;
  }
  std::string Param(const std::string& name) const {
    auto it = params.find(name);
    return it == params.end() ? "" : it->second;
  }
};

struct Canned {
  int status = 200;
  std::string body;  // JSON text, or anything for non-Nova error pages
};

class RecordingServer {
 public:
  using Handler = std::function<Canned(const httplib::Request&)>;

  RecordingServer() {
    auto handle = [this](const httplib::Request& req, httplib::Response& res) { Handle(req, res); };
    server_.Get(".*", handle);
    server_.Post(".*", handle);
    server_.Put(".*", handle);
    server_.Delete(".*", handle);
    // bind_to_any_port also listens, so connections queue before the thread accepts them.
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() is a no-op until the accept loop runs; without this wait a short-lived server's
    // destructor could stop nothing and then join a thread that listens forever.
    while (!server_.is_running()) std::this_thread::yield();
  }
  ~RecordingServer() {
    server_.stop();
    thread_.join();
  }
  RecordingServer(const RecordingServer&) = delete;
  RecordingServer& operator=(const RecordingServer&) = delete;

  void On(const std::string& method, const std::string& path, int status,
          const nlohmann::json& body) {
    const std::string text = body.is_null() ? "" : body.dump();
    OnFn(method, path, [status, text](const httplib::Request&) { return Canned{status, text}; });
  }
  void OnFn(const std::string& method, const std::string& path, Handler handler) {
    std::lock_guard lock(mu_);
    routes_[{method, path}] = std::move(handler);
  }

  std::vector<RecordedRequest> Requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  // The requests other than GET: the ones that change something.
  std::vector<RecordedRequest> Changes() const {
    std::vector<RecordedRequest> out;
    for (auto& r : Requests()) {
      if (r.method != "GET") out.push_back(r);
    }
    return out;
  }
  int Port() const { return port_; }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  void Handle(const httplib::Request& req, httplib::Response& res) {
    Handler handler;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(
          {req.method, req.path, {req.params.begin(), req.params.end()}, req.headers, req.body});
      auto it = routes_.find({req.method, req.path});
      if (it != routes_.end()) handler = it->second;
    }
    Canned canned{
        404, nlohmann::json{{"itemNotFound",
                             {{"code", 404},
                              {"message", "no canned answer for " + req.method + " " + req.path}}}}
                 .dump()};
    if (handler) canned = handler(req);
    res.status = canned.status;
    if (!canned.body.empty()) res.set_content(canned.body, "application/json");
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Handler> routes_;
  std::vector<RecordedRequest> requests_;
};

struct CliResult {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs ferryctl in-process with the given arguments (without the program name).
inline CliResult RunCli(std::vector<std::string> args, const Env& env) {
  args.insert(args.begin(), "ferryctl");
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::ostringstream out;
  std::ostringstream err;
  CliResult result;
  result.code = RunFerryctl(static_cast<int>(args.size()), argv.data(), out, err, env);
  result.out = out.str();
  result.err = err.str();
  return result;
}

}  // namespace ferry::client::testing
