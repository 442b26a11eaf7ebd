// ferryctl server migrate (without --live) [--host H] [--wait], server resize SERVER FLAVOR
// [--wait], server resize confirm|revert SERVER: Nova's migrate, resize, confirmResize and
// revertResize actions (migration-anchors.md §1.3, §1.4). --wait draws the move's progress from
// its /os-migrations record (admin; a member sees the server's status only) until it waits for
// confirm (VERIFY_RESIZE) or ends.
#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <thread>

#include "api/client/commands/commands.hpp"
#include "api/client/commands/migration_progress.hpp"

namespace ferry::client {
namespace {

using nlohmann::json;

struct ResizeOptions {
  std::string server;
  std::string flavor;
  bool wait = false;
  // 1 s, as `server migrate --live --wait`: agents report a copy's progress about as often.
  double poll_seconds = 1.0;
};

std::string ServerPath(const std::string& id) { return "/v2.1/servers/" + UrlEncode(id); }

// The server's newest move of this type from /os-migrations, or null; nullopt when the caller
// may not list migrations (a member: 403), so that --wait stops asking.
std::optional<json> NewestMove(Session& session, const std::string& server,
                               const std::string& type) {
  const QueryParams query = {{"instance_uuid", server}, {"migration_type", type}};
  const Response r = session.client.Get("/v2.1/os-migrations" + QueryString(query));
  if (r.status == 403) return std::nullopt;
  const json body = ExpectOk(r).body;
  json newest;
  for (const auto& m : body.value("migrations", json::array())) {
    if (newest.is_null() || m.value("id", 0) > newest.value("id", 0)) newest = m;
  }
  return newest;
}

// Redraws one line on a terminal; elsewhere a line when the status or phase changes.
class Progress {
 public:
  explicit Progress(Session& s) : s_(s) {}
  void Show(const json& m) {
    const std::string line = ProgressLine(m);
    if (s_.tty) {
      s_.out << '\r' << line << "\x1b[K" << std::flush;
      drawn_ = true;
      return;
    }
    const std::string state = Field(m, "status") + "/" + Field(m, "phase");
    if (state == last_) return;
    s_.out << line << "\n";
    last_ = state;
  }
  void Finish() {
    if (drawn_) s_.out << "\n";
    drawn_ = false;
  }

 private:
  Session& s_;
  bool drawn_ = false;
  std::string last_;
};

// Polls until the server waits for confirm (VERIFY_RESIZE, or the move already confirmed by
// the resize_confirm_window) or the move ended otherwise (exit 1 with its status and error).
void WaitForColdMove(Session& session, const std::string& id, const std::string& type,
                     double poll_seconds) {
  const auto poll = std::chrono::duration<double>(poll_seconds);
  Progress progress(session);
  bool can_list = true;
  json move;
  json server;
  while (true) {
    if (can_list) {
      auto m = NewestMove(session, id, type);
      can_list = m.has_value();
      if (m && !m->is_null()) {
        move = *m;
        progress.Show(move);
      }
    }
    server = GetJson(session, ServerPath(id))["server"];
    const std::string status = Field(server, "status");
    const bool busy = !server.value("OS-EXT-STS:task_state", json()).is_null();
    if (status == "VERIFY_RESIZE" || (!busy && status != "RESIZE")) break;
    std::this_thread::sleep_for(poll);
  }
  progress.Finish();
  const std::string host = Field(server, "OS-EXT-SRV-ATTR:host");
  const std::string status = Field(server, "status");
  const std::string move_status = move.is_null() ? "" : Field(move, "status");
  if (status == "VERIFY_RESIZE") {
    session.out << fmt::format(
        "Server {} is on {}{}, waiting for confirm: ferryctl server resize confirm|revert {}\n", id,
        host.empty() ? "its new host" : host,
        move.is_null() ? "" : " (migration " + Field(move, "id") + ")", id);
    return;
  }
  if (move_status == "confirmed") {
    session.out << fmt::format("Migration {} confirmed: server {} is on {}.\n", Field(move, "id"),
                               id, host);
    return;
  }
  const std::string why = move.is_null() ? "" : Field(move, "error");
  throw Error(
      Errc::kConflict,
      fmt::format("{} of server {} ended {}{}; the server is {}{}", type, id,
                  move_status.empty() ? "without finishing" : move_status,
                  why.empty() ? "" : " (" + why + ")", status, host.empty() ? "" : " on " + host));
}

void Resize(Session& session, const ResizeOptions& o) {
  const std::string id = ResolveServerId(session, o.server);
  const json body = {{"resize", {{"flavorRef", ResolveFlavorId(session, o.flavor)}}}};
  ExpectOk(session.client.Post(ServerPath(id) + "/action", body));
  if (o.wait) return WaitForColdMove(session, id, "resize", o.poll_seconds);
  if (!session.json) {
    session.out << fmt::format("Request to resize server {} has been accepted.\n", id);
  }
}

void Finish(Session& session, const std::string& server, const char* action, const char* verb) {
  const std::string id = ResolveServerId(session, server);
  ExpectOk(session.client.Post(ServerPath(id) + "/action", json{{action, nullptr}}));
  if (!session.json) {
    session.out << fmt::format("Request to {} the resize of server {} has been accepted.\n", verb,
                               id);
  }
}

}  // namespace

void ColdMigrate(Session& session, const std::string& server, const std::string& host, bool wait,
                 double poll_seconds) {
  json migrate = nullptr;
  if (!host.empty()) {
    // Nova reads a host only from 2.56 and silently ignores it before: refuse rather than move
    // the server somewhere the operator did not ask for.
    if (!session.version.AtLeast(56)) {
      throw CLI::ValidationError("--host", "a cold migration names its host from 2.56");
    }
    migrate = {{"host", host}};
  }
  const std::string id = ResolveServerId(session, server);
  ExpectOk(session.client.Post(ServerPath(id) + "/action", json{{"migrate", migrate}}));
  if (wait) return WaitForColdMove(session, id, "migration", poll_seconds);
  if (!session.json) {
    session.out << fmt::format("Request to migrate server {} has been accepted.\n", id);
  }
}

void RegisterServerResizeCommands(CLI::App& server_noun, Action* slot) {
  auto o = std::make_shared<ResizeOptions>();
  CLI::App* resize = server_noun.add_subcommand(
      "resize", "Resize a server to another flavor, or confirm or revert a resize");
  resize->add_option("server", o->server, "UUID or name");
  resize->add_option("flavor", o->flavor, "Flavor id or name");
  resize->add_flag("--wait", o->wait, "Show progress until the resize waits for confirm");
  resize->add_option("--poll-interval", o->poll_seconds, "Seconds between polls with --wait")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  resize->require_subcommand(0, 1);
  auto target = std::make_shared<std::string>();
  for (auto [name, action, verb] : {std::tuple{"confirm", "confirmResize", "confirm"},
                                    std::tuple{"revert", "revertResize", "revert"}}) {
    CLI::App* sub = resize->add_subcommand(
        name, std::string(name == std::string("confirm") ? "Confirm" : "Revert") +
                  " a resize or cold migration waiting in VERIFY_RESIZE");
    sub->add_option("server", *target, "UUID or name")->required();
    OnRun(sub, slot,
          [target, action = action, verb = verb](Session& s) { Finish(s, *target, action, verb); });
  }
  // Subcommands' callbacks run before their parent's: `resize confirm` has set the slot already.
  resize->callback([resize, slot, o] {
    if (!resize->get_subcommands().empty()) return;
    if (o->server.empty()) throw CLI::RequiredError("server");
    if (o->flavor.empty()) throw CLI::RequiredError("flavor");
    *slot = [o](Session& s) { Resize(s, *o); };
  });
}

}  // namespace ferry::client
