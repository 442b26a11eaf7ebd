#include "controller/live_migration/policy.hpp"

#include <algorithm>
#include <charconv>
#include <functional>

#include "common/errors.hpp"

namespace ferry::controller::live_migration {
namespace {

constexpr std::string_view kPrefix = "ferry:live_migration_";

int64_t ParseInt(const std::string& key, const std::string& value) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || end != value.data() + value.size()) {
    throw Error(Errc::kBadRequest,
                "aggregate metadata " + key + "='" + value + "' is not an integer");
  }
  return v;
}

bool ParseBool(const std::string& key, const std::string& value) {
  std::string v = value;
  std::ranges::transform(v, v.begin(), [](unsigned char c) { return std::tolower(c); });
  if (v == "true" || v == "1" || v == "yes") return true;
  if (v == "false" || v == "0" || v == "no") return false;
  throw Error(Errc::kBadRequest, "aggregate metadata " + key + "='" + value + "' is not a boolean");
}

void Require(bool ok, const std::string& what) {
  if (!ok) throw Error(Errc::kBadRequest, "live migration policy: " + what);
}

}  // namespace

int64_t Policy::CompletionTimeoutSeconds(int64_t memory_mb, int64_t copied_disk_gb) const {
  if (completion_timeout_per_gib_s == 0) return 0;
  // Nova counts each device as at least 2 GiB so that small guests are not timed out early.
  const double memory_gib = std::max(2.0, static_cast<double>(memory_mb) / 1024.0);
  const double disk_gib = copied_disk_gb > 0 ? std::max<double>(2.0, copied_disk_gb) : 0.0;
  return static_cast<int64_t>(completion_timeout_per_gib_s * (memory_gib + disk_gib));
}

void Validate(const Policy& p) {
  Require(p.completion_timeout_per_gib_s >= 0, "completion_timeout must be >= 0");
  Require(p.timeout_action == "abort" || p.timeout_action == "force_complete",
          "timeout_action must be abort or force_complete");
  Require(p.progress_timeout_s >= 0, "progress_timeout must be >= 0");
  Require(p.bandwidth_mibps > 0, "bandwidth must be > 0 MiB/s");
  Require(p.max_downtime_ms >= 100, "downtime must be >= 100 ms (Nova's minimum)");
  Require(p.downtime_steps >= 3, "downtime_steps must be >= 3 (Nova's minimum)");
  Require(p.downtime_delay_s >= 3, "downtime_delay must be >= 3 s (Nova's minimum)");
  Require(p.monitor_interval_s >= 1 && p.monitor_interval_s <= 3600,
          "monitor_interval must be 1-3600 s");
}

Policy WithOverrides(Policy p, const std::map<std::string, std::string>& metadata) {
  using Setter = std::function<void(const std::string& key, const std::string& value)>;
  const std::map<std::string, Setter, std::less<>> setters = {
      {"completion_timeout",
       [&](auto& k, auto& v) { p.completion_timeout_per_gib_s = ParseInt(k, v); }},
      {"timeout_action", [&](auto&, auto& v) { p.timeout_action = v; }},
      {"progress_timeout", [&](auto& k, auto& v) { p.progress_timeout_s = ParseInt(k, v); }},
      {"permit_post_copy", [&](auto& k, auto& v) { p.permit_post_copy = ParseBool(k, v); }},
      {"permit_auto_converge", [&](auto& k, auto& v) { p.permit_auto_converge = ParseBool(k, v); }},
      {"bandwidth", [&](auto& k, auto& v) { p.bandwidth_mibps = ParseInt(k, v); }},
      {"downtime", [&](auto& k, auto& v) { p.max_downtime_ms = ParseInt(k, v); }},
      {"downtime_steps",
       [&](auto& k, auto& v) { p.downtime_steps = static_cast<int>(ParseInt(k, v)); }},
      {"downtime_delay", [&](auto& k, auto& v) { p.downtime_delay_s = ParseInt(k, v); }},
      {"monitor_interval",
       [&](auto& k, auto& v) { p.monitor_interval_s = static_cast<int>(ParseInt(k, v)); }},
  };
  for (const auto& [key, value] : metadata) {
    if (!key.starts_with(kPrefix)) continue;
    auto it = setters.find(std::string_view(key).substr(kPrefix.size()));
    if (it == setters.end())
      throw Error(Errc::kBadRequest, "unknown live migration policy key " + key);
    it->second(key, value);
  }
  Validate(p);
  return p;
}

void to_json(nlohmann::json& j, const Policy& p) {
  j = {{"completion_timeout_per_gib_s", p.completion_timeout_per_gib_s},
       {"timeout_action", p.timeout_action},
       {"progress_timeout_s", p.progress_timeout_s},
       {"permit_post_copy", p.permit_post_copy},
       {"permit_auto_converge", p.permit_auto_converge},
       {"bandwidth_mibps", p.bandwidth_mibps},
       {"max_downtime_ms", p.max_downtime_ms},
       {"downtime_steps", p.downtime_steps},
       {"downtime_delay_s", p.downtime_delay_s},
       {"monitor_interval_s", p.monitor_interval_s}};
}

void from_json(const nlohmann::json& j, Policy& p) {
  const Policy d;
  p.completion_timeout_per_gib_s =
      j.value("completion_timeout_per_gib_s", d.completion_timeout_per_gib_s);
  p.timeout_action = j.value("timeout_action", d.timeout_action);
  p.progress_timeout_s = j.value("progress_timeout_s", d.progress_timeout_s);
  p.permit_post_copy = j.value("permit_post_copy", d.permit_post_copy);
  p.permit_auto_converge = j.value("permit_auto_converge", d.permit_auto_converge);
  p.bandwidth_mibps = j.value("bandwidth_mibps", d.bandwidth_mibps);
  p.max_downtime_ms = j.value("max_downtime_ms", d.max_downtime_ms);
  p.downtime_steps = j.value("downtime_steps", d.downtime_steps);
  p.downtime_delay_s = j.value("downtime_delay_s", d.downtime_delay_s);
  p.monitor_interval_s = j.value("monitor_interval_s", d.monitor_interval_s);
}

}  // namespace ferry::controller::live_migration
