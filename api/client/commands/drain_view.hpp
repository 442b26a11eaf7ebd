#pragma once
// How ferryctl shows a host drain (the VIEW of /v2.1/ferry/drains): the plan, the verdict, one
// progress line per poll, the final per-server report, and which outcome (and so which exit
// code) a view means. Pure functions of the JSON, so tests pin the text.
#include <nlohmann/json.hpp>
#include <string>

#include "api/client/table.hpp"

namespace ferry::client {

// planned (a dry run), running, paused and cancelling may still change; every other status,
// including one this client does not know, is final.
bool IsFinalDrainStatus(const std::string& status);

// What a view means for a cron job, in the order ClassifyDrain decides it.
enum class DrainOutcome {
  kNothingFits,  // the plan can move none of the host's servers (verdict.left covers them all)
  kInProgress,   // running, paused or cancelling: accepted, the end is not known yet
  kDone,         // every server moved (or a dry run where everything fits)
  kPartial,      // some servers stay: left by the plan, failed, skipped or cancelled
  kFailed,       // failed, cancelled, or a status this client does not know
};
DrainOutcome ClassifyDrain(const nlohmann::json& view);
// kExitOk for kDone and kInProgress, else the kExitDrain* code (ferryctl.hpp).
int ExitCodeFor(DrainOutcome outcome);

// Position, server, kind, planned destination, size and predicted duration, in plan order.
Table DrainPlanTable(const nlohmann::json& view);
// "Verdict: everything fits on the remaining hosts.\n", or "Verdict: 2 servers cannot move:\n"
// and one "  name (uuid): reason\n" line per server the plan leaves.
std::string DrainVerdictText(const nlohmann::json& view);
// "[#####...............]  25%  1/3 moved  45 B/123 B  ETA 0:12  running (1 moving, 1 pending)";
// the bar counts bytes (what takes the time), or servers when the drain reports no bytes.
std::string DrainProgressLine(const nlohmann::json& view);
// Server, state, destination, seconds, size and reason of every server: the final report.
Table DrainReportTable(const nlohmann::json& view);
// "Drain <id> of h1 partial: 2 of 3 servers moved, 1 failed."
std::string DrainSummary(const nlohmann::json& view);
// The drain's own fields (id, host, mode, status, limits, times, progress) as Property | Value.
Table DrainPropertiesTable(const nlohmann::json& view);

}  // namespace ferry::client
