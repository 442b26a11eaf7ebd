#include "api/client/commands/migration_progress.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <optional>

namespace ferry::client {
namespace {

constexpr int kBarWidth = 20;  // fits an 80-column terminal with the rest of the line

std::optional<int64_t> Int(const nlohmann::json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || !it->is_number()) return std::nullopt;
  return it->get<int64_t>();
}

// Memory plus disk, as the API's progress_percent counts them; nullopt before any report.
std::optional<int64_t> Sum(const nlohmann::json& o, const char* memory, const char* disk) {
  auto m = Int(o, memory);
  auto d = Int(o, disk);
  if (!m && !d) return std::nullopt;
  return m.value_or(0) + d.value_or(0);
}

}  // namespace

std::string FormatBytes(int64_t bytes) {
  static constexpr std::array kUnits = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < kUnits.size()) {
    value /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string FormatDuration(int64_t seconds) {
  seconds = std::max<int64_t>(seconds, 0);
  if (seconds >= 3600) {
    return fmt::format("{}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60);
  }
  return fmt::format("{}:{:02}", seconds / 60, seconds % 60);
}

std::string ProgressLine(const nlohmann::json& m) {
  const auto total = Sum(m, "memory_total_bytes", "disk_total_bytes");
  const auto processed = Sum(m, "memory_processed_bytes", "disk_processed_bytes");
  std::optional<int64_t> percent = Int(m, "progress_percent");
  if (!percent && total && *total > 0 && processed) percent = *processed * 100 / *total;
  std::string line;
  if (percent) {
    const int64_t p = std::clamp<int64_t>(*percent, 0, 100);
    const int filled = static_cast<int>(p * kBarWidth / 100);
    line = fmt::format("[{}{}] {:3}%", std::string(filled, '#'),
                       std::string(kBarWidth - filled, '.'), p);
  } else {
    line = fmt::format("[{}]   -%", std::string(kBarWidth, '.'));
  }
  if (total && *total > 0)
    line += fmt::format("  {}/{}", FormatBytes(processed.value_or(0)), FormatBytes(*total));
  if (auto rate = Int(m, "transfer_rate_bps"); rate && *rate > 0)
    line += fmt::format("  {}/s", FormatBytes(*rate));
  if (auto eta = Int(m, "eta_seconds")) line += "  ETA " + FormatDuration(*eta);
  line += "  " + m.value("status", std::string("?"));
  if (auto q = Int(m, "queue_position")) line += fmt::format(" #{}", *q);
  if (auto phase = m.find("phase"); phase != m.end() && phase->is_string()) {
    line += " (" + phase->get<std::string>() + ")";
  }
  return line;
}

}  // namespace ferry::client
