#include "tests/support/nova_contract.hpp"

#include <gtest/gtest.h>
#include <strings.h>

#include <mutex>
#include <optional>
#include <set>
#include <sstream>

#include "controller/api/microversion.hpp"
#include "tests/support/json_schema.hpp"

namespace ferry::testing {
namespace {

using nlohmann::json;

constexpr const char* kSchemaDir = FERRY_SOURCE_DIR "/tests/nova_schemas";

// Fields ferry adds to Nova's bodies when the client asks with X-Ferry-Extensions: true: any
// key naming ferry, and the progress fields of a live migration (README, "Live migration").
bool IsFerryExtensionKey(const std::string& key) {
  if (key.find("ferry") != std::string::npos) return true;
  static const std::set<std::string> kMigrationFields = {
      "phase",         "progress_percent", "transfer_rate_bps", "dirty_rate_bps",
      "eta_seconds",   "attempt",          "queue_position",    "error",
      "step_failures", "last_step_error"};
  return kMigrationFields.count(key) > 0;
}

std::optional<std::string> HeaderOf(const std::map<std::string, std::string>& headers,
                                    const std::string& name) {
  for (const auto& [k, v] : headers) {
    if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
  }
  return std::nullopt;
}

// "compute 2.53" -> "2.53"; "latest" -> ferry's maximum; "" when absent or not for compute.
std::string VersionFromHeader(const std::string& value) {
  std::string v = value;
  if (v.rfind("compute ", 0) == 0) v = v.substr(8);
  if (v == "latest") return controller::api::kMaxVersion.ToString();
  return ParseMicroversion(v) ? v : "";
}

std::vector<std::string> Segments(const std::string& path) {
  std::vector<std::string> out;
  std::stringstream in(path);
  std::string part;
  while (std::getline(in, part, '/')) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

bool StatusMatches(const json& wanted, int status) {
  if (wanted.is_number_integer()) return wanted.get<int>() == status;
  const std::string s = wanted.get<std::string>();  // "4xx" / "5xx"
  return s.size() == 3 && s.substr(1) == "xx" && status / 100 == s[0] - '0';
}

bool InRange(const json& entry, const std::string& version) {
  auto v = ParseMicroversion(version);
  if (entry.contains("min") && v < ParseMicroversion(entry["min"].get<std::string>())) return false;
  if (entry.contains("max") && v > ParseMicroversion(entry["max"].get<std::string>())) return false;
  return true;
}

// -1: the template does not match; else 1 + how many of its segments are literal (the most
// specific entry wins: /servers/detail over /servers/{id}). "*" matches every path, at 0.
int PathScore(const std::string& pattern, const std::vector<std::string>& path) {
  if (pattern == "*") return 0;
  const auto parts = Segments(pattern);
  if (parts.size() != path.size()) return -1;
  int literal = 0;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].front() == '{') continue;
    if (parts[i] != path[i]) return -1;
    ++literal;
  }
  return 1 + literal;
}

class ContractIndex {
 public:
  static ContractIndex& Get() {
    static ContractIndex index;  // loaded on first use, once per test binary
    return index;
  }
  // The index entry for the response, or nullptr. The path is matched before the microversion,
  // so a route that left the API (statistics at 2.88) is not taken for its {id} sibling.
  const json* Find(const std::string& method, const std::string& path, int status,
                   const std::string& version) const {
    const auto segments = Segments(path.substr(0, path.find('?')));
    const json* best = nullptr;
    int best_score = -1;
    bool best_in_range = false;
    for (const auto& entry : routes_) {
      const std::string m = entry["method"];
      if ((m != "*" && m != method) || !StatusMatches(entry["status"], status)) continue;
      const int score = PathScore(entry["path"], segments);
      if (score < 0) continue;
      const bool in_range = InRange(entry, version);
      if (score > best_score || (score == best_score && in_range && !best_in_range)) {
        best = &entry;
        best_score = score;
        best_in_range = in_range;
      }
    }
    return best_in_range ? best : nullptr;
  }
  std::vector<SchemaError> Validate(const std::string& file, const json& body,
                                    const SchemaOptions& options) {
    std::lock_guard lock(mu_);  // the store caches documents as they are first referenced
    return store_.Validate(file, body, options);
  }

 private:
  ContractIndex() : store_(kSchemaDir) { routes_ = store_.Document("index.json")["routes"]; }
  std::mutex mu_;
  SchemaStore store_;
  json routes_;
};

}  // namespace

bool IsNovaPath(const std::string& raw) {
  const std::string path = raw.substr(0, raw.find('?'));
  if (path == "/" || path == "/v2.1" || path == "/v2.1/") return true;
  return path.rfind("/v2.1/", 0) == 0 && path.rfind("/v2.1/ferry/", 0) != 0;
}

std::string NegotiatedMicroversion(const ContractRequest& request, const HttpResult& response) {
  std::string v = VersionFromHeader(response.Header("OpenStack-API-Version"));
  if (!v.empty()) return v;
  for (const char* name : {"OpenStack-API-Version", "X-OpenStack-Nova-API-Version"}) {
    auto sent = HeaderOf(request.headers, name);
    if (sent && !(v = VersionFromHeader(*sent)).empty()) return v;
  }
  return controller::api::kMinVersion.ToString();
}

std::vector<std::string> NovaContractViolations(const ContractRequest& request,
                                                const HttpResult& response, ContractCheck check) {
  if (response.status == 0 || !IsNovaPath(request.path)) return {};
  if (check == ContractCheck::kErrorBodiesOnly && response.status < 400) return {};
  const std::string version = NegotiatedMicroversion(request, response);
  auto& index = ContractIndex::Get();
  const json* entry = index.Find(request.method, request.path, response.status, version);
  if (!entry) return {"no schema for this Nova route, status and microversion"};
  if ((*entry)["schema"].is_null()) {
    if (response.raw.empty()) return {};
    return {"(body): Nova answers this with no body, ferry sent " + response.raw.substr(0, 80)};
  }
  if (response.body.is_discarded() || response.raw.empty()) return {"(body): not JSON"};
  SchemaOptions options{.microversion = version};
  auto extensions = HeaderOf(request.headers, "X-Ferry-Extensions");
  if (extensions && strcasecmp(extensions->c_str(), "true") == 0) {
    options.extra_key_allowed = IsFerryExtensionKey;
  }
  std::vector<std::string> out;
  const std::string file = (*entry)["schema"];
  for (const auto& e : index.Validate(file, response.body, options)) {
    out.push_back(e.ToString() + "  [" + file + "]");
  }
  return out;
}

void ExpectNovaContract(const ContractRequest& request, const HttpResult& response,
                        ContractCheck check) {
  const auto violations = NovaContractViolations(request, response, check);
  if (violations.empty()) return;
  std::string text;
  for (const auto& v : violations) text += "\n  " + v;
  ADD_FAILURE() << "Nova contract: " << request.method << " " << request.path << " -> "
                << response.status << " at microversion "
                << NegotiatedMicroversion(request, response) << text;
}

}  // namespace ferry::testing
