// ferryctl host drain HOST [--dry-run] [--wait] ..., and host drain list|show|pause|resume|cancel:
// ferry's planned host drains (admin only).
//   POST /v2.1/ferry/drains {"drain": {...}} [Idempotency-Key]
//        -> 200 dry run (id null) | 202 new drain | 200 the drain already running for the host
//   GET  /v2.1/ferry/drains, /v2.1/ferry/drains/{id}
//   POST /v2.1/ferry/drains/{id}/action {"pause"|"resume"|"cancel": null} -> 202
// The drain's own verb comes before its follow-up verbs, as `server resize` and `server resize
// confirm` do, so the line a cron job runs reads as what it does.
#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <optional>
#include <thread>

#include "api/client/commands/commands.hpp"
#include "api/client/commands/drain_view.hpp"
#include "api/client/ferryctl.hpp"

namespace ferry::client {
namespace {

using nlohmann::json;

constexpr const char* kDrainsPath = "/v2.1/ferry/drains";

struct DrainOptions {
  std::string host;
  bool dry_run = false;
  bool wait = false;
  std::optional<std::string> mode;      // unset: the server's default (auto)
  std::optional<int> max_parallel;      // unset: the server's default (2)
  std::vector<std::string> targets;     // --target, repeatable
  std::optional<std::string> deadline;  // RFC 3339, checked by the server
  std::optional<std::string> idempotency_key;
  // 2 s: a drain moves whole servers, each taking seconds to minutes; the server updates its
  // progress about once per migration poll, so polling faster would show nothing new.
  double poll_seconds = 2.0;
};

std::string DrainPath(const std::string& id) {
  return std::string(kDrainsPath) + "/" + UrlEncode(id);
}

// Only what the operator gave: the server's defaults stay the server's to choose.
json DrainRequest(const DrainOptions& o) {
  json drain = {{"host", o.host}, {"dry_run", o.dry_run}};
  if (o.mode) drain["mode"] = *o.mode;
  if (o.max_parallel) drain["max_parallel"] = *o.max_parallel;
  if (!o.targets.empty()) drain["target_hosts"] = o.targets;
  if (o.deadline) drain["deadline"] = *o.deadline;
  return {{"drain", drain}};
}

// The view in a {"drain": VIEW} answer; a 2xx without one is an answer we do not understand.
const json& ViewOf(const json& body) { return body.at("drain"); }

void PrintPlan(Session& session, const json& view) {
  PrintTable(session, DrainPlanTable(view));
  session.out << DrainVerdictText(view);
}

void PrintFinal(Session& session, const json& view) {
  PrintTable(session, DrainReportTable(view));
  session.out << DrainSummary(view) << "\n";
}

// A poll that fails for want of the controller (restarting, behind a proxy that answers 502-504)
// is retried: a drain runs for hours and keeps running without us. Anything else ends the wait.
bool IsTransient(const Error& e) {
  if (const auto* api = dynamic_cast<const ApiError*>(&e)) {
    return api->HttpStatus() >= 502 && api->HttpStatus() <= 504;
  }
  return e.code() == Errc::kUnavailable;
}

// Redraws one line on a terminal; elsewhere (a cron job's mail, a journal) a line per change.
class DrainProgressPrinter {
 public:
  explicit DrainProgressPrinter(Session& s) : s_(s) {}
  void Show(const json& view) {
    const std::string line = DrainProgressLine(view);
    if (line == last_) return;
    last_ = line;
    if (s_.tty) {
      s_.out << '\r' << line << "\x1b[K" << std::flush;
      drawn_ = true;
    } else {
      s_.out << line << "\n" << std::flush;
    }
  }
  void Say(const std::string& text) {
    Finish();
    s_.out << text << "\n" << std::flush;
    last_.clear();
  }
  void Finish() {
    if (drawn_) s_.out << "\n";
    drawn_ = false;
  }

 private:
  Session& s_;
  std::string last_;
  bool drawn_ = false;
};

// GET the drain every poll until its status is final; returns the final body.
json WaitForDrain(Session& session, const std::string& id, double poll_seconds) {
  // 120 s: a controller restart (systemd restart, PostgreSQL reconnect) takes seconds; two
  // minutes without an answer is an outage the operator should hear about now, not at dawn.
  constexpr auto kUnreachableFor = std::chrono::seconds(120);
  const auto poll = std::chrono::duration<double>(poll_seconds);
  DrainProgressPrinter printer(session);
  auto last_answer = std::chrono::steady_clock::now();
  while (true) {
    json body;
    try {
      body = GetJson(session, DrainPath(id));
      last_answer = std::chrono::steady_clock::now();
    } catch (const Error& e) {
      if (!IsTransient(e) || std::chrono::steady_clock::now() - last_answer > kUnreachableFor) {
        printer.Finish();
        throw;
      }
      if (!session.json) printer.Say(fmt::format("(poll failed, retrying: {})", e.what()));
      std::this_thread::sleep_for(poll);
      continue;
    }
    const json& view = ViewOf(body);
    if (!session.json) printer.Show(view);
    if (IsFinalDrainStatus(view.value("status", ""))) {
      printer.Finish();
      return body;
    }
    std::this_thread::sleep_for(poll);
  }
}

void StartDrain(Session& session, const DrainOptions& o) {
  HeaderList headers;
  if (o.idempotency_key) headers.emplace_back("Idempotency-Key", *o.idempotency_key);
  const Response answer = session.client.Post(kDrainsPath, DrainRequest(o), headers);
  ExpectOk(answer);
  const json& view = ViewOf(answer.body);
  const json& id = view.at("id");
  if (id.is_null() != o.dry_run) {
    throw Error(Errc::kInternal,
                fmt::format("unexpected answer to POST {}: a {} with id {}", kDrainsPath,
                            o.dry_run ? "dry run" : "drain", id.dump()));
  }
  const std::string status = view.value("status", "");
  json final_body = answer.body;
  if (!session.json) {
    if (o.dry_run) {
      session.out << fmt::format("Plan to drain {} (dry run, nothing was changed):\n", o.host);
    } else if (answer.status == 202) {
      session.out << fmt::format("Drain {} of {} started.\n", id.get<std::string>(), o.host);
    } else {
      // 200 for a real drain: the host's drain that already runs, or the one this
      // Idempotency-Key started; its own options apply, not this command line's.
      session.out << fmt::format(
          "Drain {} of {} already exists ({}, created {}); attached to it.\n",
          id.get<std::string>(), o.host, status, view.value("created_at", "?"));
    }
    if (IsFinalDrainStatus(status) && !o.dry_run) {
      PrintFinal(session, view);
    } else {
      PrintPlan(session, view);
    }
  }
  if (o.wait && !o.dry_run && !IsFinalDrainStatus(status)) {
    final_body = WaitForDrain(session, id.get<std::string>(), o.poll_seconds);
    if (!session.json) PrintFinal(session, ViewOf(final_body));
  }
  if (session.json) PrintJson(session, final_body);
  session.exit_code = ExitCodeFor(ClassifyDrain(ViewOf(final_body)));
}

void DrainList(Session& session) {
  const json body = GetJson(session, kDrainsPath);
  if (session.json) return PrintJson(session, body);
  Table table({"ID", "Host", "Mode", "Status", "Moved", "Failed", "Created At", "Finished At"});
  table.SetAlign(4, Align::kRight);
  table.SetAlign(5, Align::kRight);
  for (const auto& d : body.at("drains")) {
    const json& p = d.value("progress", json::object());
    table.AddRow({Field(d, "id"), Field(d, "host"), Field(d, "mode"), Field(d, "status"),
                  fmt::format("{}/{}", Field(p, "moved"), Field(p, "total")), Field(p, "failed"),
                  Field(d, "created_at"), Field(d, "finished_at")});
  }
  PrintTable(session, table);
}

void DrainShow(Session& session, const std::string& id) {
  const json body = GetJson(session, DrainPath(id));
  if (session.json) return PrintJson(session, body);
  const json& view = ViewOf(body);
  PrintTable(session, DrainPropertiesTable(view));
  PrintTable(session, DrainReportTable(view));
  session.out << DrainVerdictText(view);
}

void DrainAction(Session& session, const std::string& id, const std::string& action) {
  const json body =
      ExpectOk(session.client.Post(DrainPath(id) + "/action", json{{action, nullptr}})).body;
  if (session.json) return PrintJson(session, body);
  session.out << fmt::format("Request to {} drain {} has been accepted; it is {}.\n", action, id,
                             ViewOf(body).value("status", "?"));
}

constexpr const char* kExitCodesHelp =
    "Exit codes (for cron jobs and systemd units):\n"
    "  0  done; a dry run where everything fits; a drain accepted (without --wait)\n"
    "  1  the API refused the request or could not be reached (ERROR on stderr)\n"
    "  2  the command line was wrong\n"
    "  3  nothing fits: the plan can move none of the host's servers (dry run or not)\n"
    "  4  the drain failed or was cancelled\n"
    "  5  partial: some servers stay on the host (the plan leaves them, or they failed)\n"
    "--wait exits with the drain's final outcome; without it, a drain still running exits 0\n"
    "(3 if nothing fits). A re-run with the same --idempotency-key attaches to the drain that\n"
    "key started and exits with its outcome so far.";

void AddStartOptions(CLI::App* drain, const std::shared_ptr<DrainOptions>& o) {
  drain->add_option("host", o->host, "Host to empty");
  CLI::Option* dry_run =
      drain->add_flag("--dry-run", o->dry_run, "Show the plan and its verdict; change nothing");
  drain->add_flag("--wait", o->wait, "Show progress until the drain ends, then the report")
      ->excludes(dry_run);
  drain->add_option("--mode", o->mode, "live|cold|auto (server default: auto)")
      ->check(CLI::IsMember({"live", "cold", "auto"}));
  drain->add_option("--max-parallel", o->max_parallel, "Servers moved at once, 1-64 (default 2)")
      ->check(CLI::Range(1, 64));
  drain->add_option("--target", o->targets,
                    "Allowed destination (repeatable; default: any other host)");
  drain->add_option("--deadline", o->deadline,
                    "When the drain must end, RFC 3339, e.g. 2026-12-06T02:00:00Z");
  drain->add_option("--idempotency-key", o->idempotency_key,
                    "A re-run with the same key attaches to the drain it started");
  drain->add_option("--poll-interval", o->poll_seconds, "Seconds between polls with --wait")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  drain->footer(kExitCodesHelp);
}

}  // namespace

void RegisterHostCommands(CLI::App& app, Action* slot) {
  CLI::App* noun = AddResource(app, "host", "Hypervisor hosts: planned drains");
  auto o = std::make_shared<DrainOptions>();
  CLI::App* drain = noun->add_subcommand(
      "drain", "Move every server off a host, or list, show, pause, resume or cancel drains");
  AddStartOptions(drain, o);
  drain->require_subcommand(0, 1);

  OnRun(drain->add_subcommand("list", "List drains, newest first"), slot,
        [](Session& s) { DrainList(s); });
  auto id = std::make_shared<std::string>();
  CLI::App* show = drain->add_subcommand("show", "Show a drain: progress and every server");
  show->add_option("id", *id, "Drain id")->required();
  OnRun(show, slot, [id](Session& s) { DrainShow(s, *id); });
  for (const auto& [verb, help] :
       {std::pair{"pause", "Pause a running drain"}, std::pair{"resume", "Resume a paused drain"},
        std::pair{"cancel", "Cancel a drain"}}) {
    CLI::App* sub = drain->add_subcommand(verb, help);
    sub->add_option("id", *id, "Drain id")->required();
    OnRun(sub, slot, [id, action = std::string(verb)](Session& s) { DrainAction(s, *id, action); });
  }
  // Subcommands' callbacks run before their parent's: `drain show` has set the slot already.
  drain->callback([drain, slot, o] {
    if (!drain->get_subcommands().empty()) return;
    if (o->host.empty()) throw CLI::RequiredError("host");
    *slot = [o](Session& s) { StartDrain(s, *o); };
  });
}

}  // namespace ferry::client
