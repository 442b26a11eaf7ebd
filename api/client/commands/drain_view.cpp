#include "api/client/commands/drain_view.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <optional>

#include "api/client/commands/command_support.hpp"
#include "api/client/commands/migration_progress.hpp"
#include "api/client/ferryctl.hpp"

namespace ferry::client {
namespace {

using nlohmann::json;

constexpr int kBarWidth = 20;  // as the live-migration bar: fits 80 columns with the rest

// Reads tolerate a missing or null member: a view from a newer or older server still prints.
int64_t Int(const json& o, const char* key) {
  if (!o.is_object()) return 0;
  auto it = o.find(key);
  return it != o.end() && it->is_number() ? it->get<int64_t>() : 0;
}

std::optional<double> Number(const json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

std::string Str(const json& o, const char* key) {
  if (!o.is_object()) return "";
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : "";
}

const json& Member(const json& o, const char* key) {
  static const json kNull;
  if (!o.is_object()) return kNull;
  auto it = o.find(key);
  return it == o.end() ? kNull : *it;
}

const json& Servers(const json& view) {
  static const json kEmpty = json::array();
  const json& servers = Member(view, "servers");
  return servers.is_array() ? servers : kEmpty;
}

const json& Left(const json& view) {
  static const json kEmpty = json::array();
  const json& left = Member(Member(view, "verdict"), "left");
  return left.is_array() ? left : kEmpty;
}

std::string ServerLabel(const json& entry) {
  std::string name = Str(entry, "name");
  return name.empty() ? Str(entry, "server") : name;
}

int64_t Total(const json& view) {
  const int64_t total = Int(Member(view, "progress"), "total");
  return total > 0 ? total : static_cast<int64_t>(Servers(view).size());
}

std::string Seconds(const json& o, const char* key) {
  auto seconds = Number(o, key);
  return seconds ? fmt::format("{:.1f}", *seconds) : "";
}

// ", 1 failed, 2 skipped" for the counters that are not zero.
std::string Counts(const json& progress, std::initializer_list<const char*> keys) {
  std::string out;
  for (const char* key : keys) {
    if (const int64_t n = Int(progress, key); n > 0) out += fmt::format(", {} {}", n, key);
  }
  return out;
}

}  // namespace

bool IsFinalDrainStatus(const std::string& status) {
  return status != "planned" && status != "running" && status != "paused" && status != "cancelling";
}

DrainOutcome ClassifyDrain(const json& view) {
  const std::string status = Str(view, "status");
  const int64_t total = Total(view);
  const auto left = static_cast<int64_t>(Left(view).size());
  if (total > 0 && left >= total) return DrainOutcome::kNothingFits;
  if (status == "running" || status == "paused" || status == "cancelling") {
    return DrainOutcome::kInProgress;
  }
  if (status == "planned") return left > 0 ? DrainOutcome::kPartial : DrainOutcome::kDone;
  if (status == "done") {
    // A server left by the plan, or one that failed, means the host is not empty whatever the
    // server calls the drain: the cron job has to hear it.
    const json& p = Member(view, "progress");
    const bool stayed =
        left > 0 || Int(p, "failed") > 0 || Int(p, "skipped") > 0 || Int(p, "cancelled") > 0;
    return stayed ? DrainOutcome::kPartial : DrainOutcome::kDone;
  }
  if (status == "partial") return DrainOutcome::kPartial;
  return DrainOutcome::kFailed;
}

int ExitCodeFor(DrainOutcome outcome) {
  switch (outcome) {
    case DrainOutcome::kNothingFits:
      return kExitDrainNothingFits;
    case DrainOutcome::kPartial:
      return kExitDrainPartial;
    case DrainOutcome::kFailed:
      return kExitDrainFailed;
    case DrainOutcome::kInProgress:
    case DrainOutcome::kDone:
      break;
  }
  return kExitOk;
}

Table DrainPlanTable(const json& view) {
  Table table({"#", "Server", "Kind", "Planned Destination", "Size", "Predicted"});
  table.SetAlign(0, Align::kRight);
  table.SetAlign(4, Align::kRight);
  table.SetAlign(5, Align::kRight);
  json servers = Servers(view);
  std::stable_sort(servers.begin(), servers.end(), [](const json& a, const json& b) {
    return Int(a, "position") < Int(b, "position");
  });
  for (const auto& s : servers) {
    const auto predicted = Number(s, "predicted_seconds");
    const std::string destination = Str(s, "planned_destination");
    table.AddRow({Field(s, "position"), ServerLabel(s), Str(s, "kind"),
                  destination.empty() ? "-" : destination, FormatBytes(Int(s, "bytes")),
                  predicted ? FormatDuration(std::llround(*predicted)) : ""});
  }
  return table;
}

std::string DrainVerdictText(const json& view) {
  const json& left = Left(view);
  if (left.empty()) return "Verdict: everything fits on the remaining hosts.\n";
  std::string text =
      fmt::format("Verdict: {} server{} cannot move:\n", left.size(), left.size() == 1 ? "" : "s");
  for (const auto& entry : left) {
    const std::string name = Str(entry, "name");
    const std::string uuid = Str(entry, "server");
    text +=
        fmt::format("  {}{}: {}\n", name.empty() ? uuid : name,
                    name.empty() || uuid.empty() ? "" : " (" + uuid + ")", Str(entry, "reason"));
  }
  return text;
}

std::string DrainProgressLine(const json& view) {
  const json& p = Member(view, "progress");
  const int64_t total = Total(view);
  const int64_t moved = Int(p, "moved");
  const int64_t bytes_total = Int(p, "bytes_total");
  const int64_t bytes_moved = Int(p, "bytes_moved");
  int64_t percent = 0;
  if (bytes_total > 0) {
    percent = bytes_moved * 100 / bytes_total;
  } else if (total > 0) {
    percent = moved * 100 / total;
  }
  percent = std::clamp<int64_t>(percent, 0, 100);
  const int filled = static_cast<int>(percent * kBarWidth / 100);
  std::string line = fmt::format("[{}{}] {:3}%  {}/{} moved", std::string(filled, '#'),
                                 std::string(kBarWidth - filled, '.'), percent, moved, total);
  if (bytes_total > 0) {
    line += fmt::format("  {}/{}", FormatBytes(bytes_moved), FormatBytes(bytes_total));
  }
  const std::string status = Str(view, "status");
  // A final view may keep its last estimate; an ETA after the end would only confuse.
  if (const json& eta = Member(p, "eta_seconds"); eta.is_number() && !IsFinalDrainStatus(status)) {
    line += "  ETA " + FormatDuration(eta.get<int64_t>());
  }
  line += "  " + status;
  const std::string counts = Counts(p, {"moving", "pending", "failed", "skipped", "cancelled"});
  if (!counts.empty()) line += " (" + counts.substr(2) + ")";
  return line;
}

Table DrainReportTable(const json& view) {
  Table table({"Server", "State", "Destination", "Seconds", "Size", "Reason"});
  table.SetAlign(3, Align::kRight);
  table.SetAlign(4, Align::kRight);
  for (const auto& s : Servers(view)) {
    table.AddRow({ServerLabel(s), Str(s, "state"), Str(s, "destination"), Seconds(s, "seconds"),
                  FormatBytes(Int(s, "bytes")), Str(s, "reason")});
  }
  return table;
}

std::string DrainSummary(const json& view) {
  const json& p = Member(view, "progress");
  return fmt::format("Drain {} of {} {}: {} of {} servers moved{}.", Str(view, "id"),
                     Str(view, "host"), Str(view, "status"), Int(p, "moved"), Total(view),
                     Counts(p, {"failed", "skipped", "cancelled"}));
}

Table DrainPropertiesTable(const json& view) {
  Table table({"Property", "Value"});
  for (const char* key : {"id", "host", "mode", "status", "max_parallel", "target_hosts",
                          "deadline", "created_at", "updated_at", "finished_at"}) {
    table.AddRow({key, Field(view, key)});
  }
  table.AddRow({"progress", DrainProgressLine(view)});
  return table;
}

}  // namespace ferry::client
