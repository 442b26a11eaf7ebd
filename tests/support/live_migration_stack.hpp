#pragma once
// Shared by the live-migration integration and e2e tests: a stack with fast live-migration
// settings, requests in Nova's shapes, and direct reads of the tables the tests assert on.
#include <gtest/gtest.h>

#include <algorithm>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <vector>

#include "tests/support/stack.hpp"

namespace ferry::testing {

using namespace std::chrono_literals;
using nlohmann::json;

// Monitor every second, look every 200 ms, take over a dead controller's work after 3 s.
inline std::vector<std::string> FastLiveMigrationArgs() {
  return {"--live-migration-monitor-interval",
          "1",
          "--live-migration-tick-ms",
          "200",
          "--live-migration-lease",
          "3"};
}

struct ClaimRow {
  std::string consumer;
  std::string host;
  std::string resource;
  int64_t amount;
};

class LiveMigrationStack {
 public:
  explicit LiveMigrationStack(const std::string& dsn,
                              std::vector<std::string> extra_controller_args = {},
                              int service_down_time_s = 60,
                              const std::vector<std::string>& controller_env = {}) {
    StackOptions o;
    o.service_down_time_s = service_down_time_s;
    // The fast defaults (flag, value pairs), but for a flag the caller sets itself.
    const auto fast = FastLiveMigrationArgs();
    for (size_t i = 0; i + 1 < fast.size(); i += 2) {
      if (std::find(extra_controller_args.begin(), extra_controller_args.end(), fast[i]) ==
          extra_controller_args.end()) {
        o.controller_args.insert(o.controller_args.end(), {fast[i], fast[i + 1]});
      }
    }
    o.controller_args.insert(o.controller_args.end(), extra_controller_args.begin(),
                             extra_controller_args.end());
    stack = std::make_unique<Stack>(dsn, o);
    stack->StartController(controller_env);
  }

  void StartHosts(const std::vector<std::pair<std::string, std::vector<std::string>>>& hosts,
                  const std::string& driver = "sim") {
    for (const auto& [name, args] : hosts) stack->StartAgent(name, args, driver);
    for (const auto& [name, args] : hosts) {
      EXPECT_TRUE(stack->WaitUntilUp({name})) << name;
    }
  }

  // A server of `flavor` on `host`, ACTIVE.
  std::string ServerOn(const std::string& host, const std::string& name,
                       const std::string& flavor = "1") {
    auto id = stack->CreateServer(name, flavor, "nova:" + host);
    auto s = stack->WaitServerSettled(id);
    EXPECT_EQ(s["status"], "ACTIVE") << s.dump();
    EXPECT_EQ(s["OS-EXT-SRV-ATTR:host"], host);
    return id;
  }

  HttpResult MigrateLive(const std::string& server, const json& body,
                         const std::string& mv = "2.80") {
    auto admin = stack->Admin();
    admin.SetMicroversion(mv);
    return admin.Post("/v2.1/servers/" + server + "/action", {{"os-migrateLive", body}});
  }

  json Server(const std::string& id) {
    return stack->FerryAdmin().Get("/v2.1/servers/" + id).body["server"];
  }

  // The server's live migrations, newest first, from os-migrations (any status), with ferry's
  // fields (phase, error) that tests read.
  json Migrations(const std::string& server) {
    auto admin = stack->FerryAdmin();
    admin.SetMicroversion("2.80");
    return admin.Get("/v2.1/os-migrations?instance_uuid=" + server).body["migrations"];
  }
  json LatestMigration(const std::string& server) {
    auto list = Migrations(server);
    return list.empty() ? json() : list[0];
  }
  std::string LatestStatus(const std::string& server) {
    auto m = LatestMigration(server);
    return m.is_null() ? "" : m["status"].get<std::string>();
  }
  bool WaitStatus(const std::string& server, const std::string& status,
                  std::chrono::milliseconds t = 30s) {
    return Stack::WaitFor([&] { return LatestStatus(server) == status; }, t);
  }
  bool WaitTerminal(const std::string& server, std::chrono::milliseconds t = 60s) {
    return Stack::WaitFor(
        [&] {
          auto s = LatestStatus(server);
          return s == "completed" || s == "failed" || s == "error" || s == "cancelled";
        },
        t);
  }

  std::vector<ClaimRow> Claims() {
    pqxx::connection c(stack->dsn());
    pqxx::work w(c);
    std::vector<ClaimRow> out;
    for (const auto& r :
         w.exec("SELECT c.consumer_uuid::text, h.name, c.resource, c.amount "
                "FROM claims c JOIN hosts h ON h.id = c.host_id ORDER BY 1, 2, 3")) {
      out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                     r[3].as<int64_t>()});
    }
    return out;
  }
  // Hosts holding a claim of `consumer`.
  std::set<std::string> ClaimHosts(const std::string& consumer) {
    std::set<std::string> out;
    for (const auto& c : Claims()) {
      if (c.consumer == consumer) out.insert(c.host);
    }
    return out;
  }
  // Claims whose consumer is neither a server nor a move that holds resources: leaks.
  int64_t LeakedClaims() {
    pqxx::connection c(stack->dsn());
    pqxx::work w(c);
    return w
        .exec1(
            "SELECT count(*) FROM claims c WHERE NOT EXISTS (SELECT 1 FROM servers s WHERE s.uuid "
            "= c.consumer_uuid) "
            "AND NOT EXISTS (SELECT 1 FROM migrations m WHERE m.uuid = c.consumer_uuid AND "
            "m.status IN (SELECT status FROM migration_statuses WHERE holds_resources))")[0]
        .as<int64_t>();
  }
  std::vector<std::string> EventPath(const std::string& migration_uuid) {
    pqxx::connection c(stack->dsn());
    pqxx::work w(c);
    std::vector<std::string> out;
    for (const auto& r :
         w.exec_params("SELECT e.to_status FROM migration_events e JOIN migrations m "
                       "ON m.id = e.migration_id WHERE m.uuid = $1::uuid ORDER BY e.id",
                       migration_uuid)) {
      out.push_back(r[0].as<std::string>());
    }
    return out;
  }
  std::vector<std::string> AgentDomains(const std::string& host) {
    std::vector<std::string> out;
    auto r = stack->AgentApi(host).Get("/v1/inventory");
    for (const auto& d : r.body["domains"]) out.push_back(d["uuid"]);
    return out;
  }
  bool RunsOn(const std::string& host, const std::string& uuid) {
    auto r = stack->AgentApi(host).Get("/v1/inventory");
    for (const auto& d : r.body["domains"]) {
      if (d["uuid"] == uuid) return d["power_state"] == 1;
    }
    return false;
  }
  int64_t Count(const std::string& query) {
    pqxx::connection c(stack->dsn());
    pqxx::work w(c);
    return w.exec1(query)[0].as<int64_t>();
  }
  void Sql(const std::string& statement) {
    pqxx::connection c(stack->dsn());
    pqxx::work w(c);
    w.exec(statement);
    w.commit();
  }

  std::unique_ptr<Stack> stack;
};

}  // namespace ferry::testing
