#include "agent/drivers/sim/sim_incoming_migration.hpp"

#include <spdlog/spdlog.h>

namespace ferry::agent::sim {
namespace {

using nlohmann::json;

// 100 ms: how long accept/receive block before checking for shutdown; bounds Stop() latency.
constexpr int kPollMs = 100;

}  // namespace

IncomingMigration::IncomingMigration(std::string migration_uuid, const std::string& address,
                                     IncomingHooks hooks)
    : migration_uuid_(std::move(migration_uuid)), hooks_(std::move(hooks)), listener_(address) {
  thread_ = std::thread([this] { Run(); });
  spdlog::info("ferry-sim: waiting for incoming migration migration={} uri={}", migration_uuid_,
               Uri());
}

IncomingMigration::~IncomingMigration() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void IncomingMigration::Run() {
  while (!stop_) {
    auto conn = listener_.Accept(kPollMs);
    if (!conn) continue;
    try {
      Serve(*conn);
    } catch (const std::exception& e) {
      if (arrived_ && pages_pending_) {
        spdlog::warn("ferry-sim: post-copy link lost migration={} error=\"{}\"", migration_uuid_,
                     e.what());
        pages_pending_ = false;
        hooks_.on_postcopy_broken();
      }
      if (arrived_) continue;  // the source hangs up once the guest is here: the normal end
      // The source is gone or spoke nonsense: its job fails on its side; keep listening so a
      // rollback (or a retried start) finds this side as prepare left it.
      spdlog::warn("ferry-sim: incoming migration link ended migration={} error=\"{}\"",
                   migration_uuid_, e.what());
    }
  }
}

void IncomingMigration::Serve(LinkConnection& conn) {
  while (!stop_) {
    auto frame = conn.Receive(kPollMs);
    if (!frame) continue;
    std::string type = frame->value("type", "");
    try {
      if (type == "start") {
        if (frame->value("migration_uuid", "") != migration_uuid_) {
          conn.Send(json{{"type", "refuse"},
                         {"error", "this listener is for migration " + migration_uuid_}});
          return;
        }
        hooks_.on_start(*frame);
        conn.Send(json{{"type", "ack"}});
      } else if (type == "postcopy" || type == "switchover") {
        hooks_.on_arrived();
        arrived_ = true;
        pages_pending_ = type == "postcopy";
        spdlog::info("ferry-sim: guest arrived migration={} via={}", migration_uuid_, type);
        conn.Send(json{{"type", "ack"}});
      } else if (type == "cancel") {
        spdlog::info("ferry-sim: source cancelled incoming migration migration={} reason=\"{}\"",
                     migration_uuid_, frame->value("reason", ""));
        return;
      }
      // "round" frames carry progress only.
    } catch (const std::exception& e) {
      conn.Send(json{{"type", "refuse"}, {"error", e.what()}});
    }
  }
}

}  // namespace ferry::agent::sim
