#pragma once
// How `ferryctl server migrate --live --wait` shows a live migration while it runs: one line
// from a GET /servers/{id}/migrations item (Nova's byte counters plus ferry's progress_percent,
// transfer_rate_bps, eta_seconds, phase, queue_position). Pure functions, so tests pin the text.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace ferry::client {

// 1536 -> "1.5 KiB"; binary units as QEMU and libvirt report memory.
std::string FormatBytes(int64_t bytes);
// 75 -> "1:15", 3725 -> "1:02:05".
std::string FormatDuration(int64_t seconds);
// "[#######.............]  35%  1.4 GiB/4.0 GiB  112.0 MiB/s  ETA 0:23  running (copying)";
// parts the migration has not reported yet are left out, a queued one shows its position.
std::string ProgressLine(const nlohmann::json& migration);

}  // namespace ferry::client
