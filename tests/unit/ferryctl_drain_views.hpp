#pragma once
// Drain VIEWs as /v2.1/ferry/drains answers them, for ferryctl's drain tests: servers in one of
// the contract's states, and a view whose progress and verdict follow from them, so a test
// states only what differs.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ferry::client::testing {

inline constexpr const char* kDrainId = "0b9f5c3e-4f7a-4d36-9a57-3c1f0e2d8a11";

inline std::string UuidOf(const std::string& name) { return "uuid-" + name; }

// One server of a drain; a skipped one has no destination and says why.
inline nlohmann::json DrainServer(int position, const std::string& name, const std::string& state,
                                  int64_t bytes, const std::string& planned = "h2") {
  using nlohmann::json;
  const bool skipped = state == "skipped";
  const bool moved = state == "moved";
  json reason = nullptr;
  if (skipped) reason = "No valid host: not enough RAM on h2, h3";
  if (state == "failed") reason = "migration failed: destination unreachable";
  return {{"server", UuidOf(name)},
          {"name", name},
          {"position", position},
          {"kind", skipped ? "cold" : "live"},
          {"planned_destination", skipped ? json(nullptr) : json(planned)},
          {"destination", moved ? json(planned) : json(nullptr)},
          {"state", state},
          {"bytes", bytes},
          {"predicted_seconds", skipped ? json(nullptr) : json(4.5)},
          {"migration", nullptr},
          {"attempts", moved ? 1 : 0},
          {"started_at", nullptr},
          {"finished_at", nullptr},
          {"seconds", moved ? json(3.4) : json(nullptr)},
          {"reason", reason}};
}

// A view whose counters and verdict are those of `servers`; `id` null is a dry run's.
inline nlohmann::json DrainView(const std::string& status,
                                const std::vector<nlohmann::json>& servers,
                                const nlohmann::json& id = kDrainId,
                                const nlohmann::json& eta = nullptr) {
  using nlohmann::json;
  json progress = {{"total", servers.size()},
                   {"moved", 0},
                   {"moving", 0},
                   {"pending", 0},
                   {"failed", 0},
                   {"skipped", 0},
                   {"cancelled", 0},
                   {"bytes_total", 0},
                   {"bytes_moved", 0},
                   {"eta_seconds", eta}};
  json left = json::array();
  for (const auto& s : servers) {
    const std::string state = s["state"];
    progress[state] = progress[state].get<int64_t>() + 1;
    if (state == "skipped") {
      left.push_back({{"server", s["server"]}, {"name", s["name"]}, {"reason", s["reason"]}});
      continue;
    }
    progress["bytes_total"] = progress["bytes_total"].get<int64_t>() + s["bytes"].get<int64_t>();
    if (state == "moved") {
      progress["bytes_moved"] = progress["bytes_moved"].get<int64_t>() + s["bytes"].get<int64_t>();
    }
  }
  const bool final =
      status != "planned" && status != "running" && status != "paused" && status != "cancelling";
  return {{"id", id},
          {"host", "h1"},
          {"mode", "auto"},
          {"status", status},
          {"max_parallel", 2},
          {"target_hosts", json::array()},
          {"deadline", nullptr},
          {"created_at", "2026-12-06T01:00:00Z"},
          {"updated_at", "2026-12-06T01:00:05Z"},
          {"finished_at", final ? json("2026-12-06T01:10:00Z") : json(nullptr)},
          {"verdict", {{"fits", left.empty()}, {"left", left}}},
          {"progress", progress},
          {"servers", servers}};
}

inline nlohmann::json DrainBody(const nlohmann::json& view) { return {{"drain", view}}; }

}  // namespace ferry::client::testing
