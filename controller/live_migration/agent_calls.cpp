#include "controller/live_migration/agent_calls.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <atomic>

#include "common/errors.hpp"
#include "controller/agent_client/agent_answer.hpp"
#include "controller/live_migration/policy.hpp"
#include "controller/store/moves_store.hpp"

namespace ferry::controller::live_migration {

namespace {

void RecheckLease(const Context& ctx, const store::LiveMigration& m, const std::string& kind) {
  bool held = false;
  ctx.db.Transact([&](store::Tx& tx) {
    held = store::LeaseStillHeld(tx, m.uuid, ctx.engine.owner, m.lease_epoch);
  });
  if (!held) {
    throw NotOurs("live migration " + m.uuid + ": lease epoch " + std::to_string(m.lease_epoch) +
                  " no longer held by " + ctx.engine.owner + "; " + kind + " not sent");
  }
}

// Test hook (tests/integration/live_migration_fencing_test): the whole process stops itself
// like a stalled controller, right before the command goes out ("<kind>": after the lease
// check) or right before that check ("check:<kind>"). Once per process: the test continues
// it once, and what it then sends again (retries) goes out.
void PauseForTest(const Context& ctx, const std::string& point) {
  static std::atomic<bool> paused{false};
  if (ctx.options.test_pause_before_send != point || paused.exchange(true)) return;
  spdlog::warn("FERRY_TEST_PAUSE_BEFORE_SEND={}: stopping this controller (SIGSTOP)", point);
  spdlog::default_logger()->flush();
  ::raise(SIGSTOP);
  spdlog::warn("FERRY_TEST_PAUSE_BEFORE_SEND={}: continued", point);
}

}  // namespace

CallResult Call(const Context& ctx, const store::LiveMigration& m, const store::Host& host,
                const std::string& kind, const std::string& step,
                const wire::LiveMigrationSpec& spec) {
  wire::Command command{agent_client::AgentClient::CommandId(spec.migration_uuid, step, m.attempt),
                        kind, spec, wire::LeaseFence{m.uuid, m.lease_epoch}};
  PauseForTest(ctx, "check:" + kind);
  RecheckLease(ctx, m, kind);
  PauseForTest(ctx, kind);
  try {
    auto result = ctx.agents.Send(host.agent_url, command);
    if (result.status == "done") return {CallResult::Outcome::kDone, "", result};
    return {CallResult::Outcome::kRefused,
            result.error.empty() ? "agent refused " + kind : result.error, result};
  } catch (const agent_client::AgentError& e) {
    if (e.answer() == agent_client::AgentAnswer::kFenced) {
      throw NotOurs("live migration " + m.uuid + ": " + host.name + " refused " + kind + ": " +
                    e.what());
    }
    // Refused, unauthorized or a conflict: the agent will answer the same next time, so the
    // step ends on it (its message becomes the migration's error). The rest may pass.
    if (!e.Retryable()) return {CallResult::Outcome::kRefused, e.what(), {}};
    return {CallResult::Outcome::kUnreachable, e.what(), {}};
  } catch (const Error& e) {
    return {CallResult::Outcome::kUnreachable, e.what(), {}};
  }
}

wire::LiveMigrationSpec BuildSpec(const store::LiveMigration& m, const store::Server& server,
                                  const store::Host& dest, const store::Host* source) {
  // An unreadable policy (the retry budget's business: Kind::Step refuses such a record) must
  // not stop a rollback or a clean-up, which send the spec too: those run with the defaults.
  Policy policy;
  try {
    policy = m.policy.get<Policy>();
  } catch (const std::exception&) {
  }
  wire::LiveMigrationSpec spec;
  spec.migration_uuid = m.uuid;
  spec.domain.uuid = server.uuid;
  spec.domain.name = server.name;
  spec.domain.vcpus = server.vcpus;
  spec.domain.memory_mb = server.memory_mb;
  spec.domain.disk_gb = server.storage_kind == "volume" ? 0 : server.root_gb;
  spec.domain.power_state = static_cast<wire::PowerState>(server.power_state);
  spec.source_host = m.source_compute.value_or("");
  spec.dest_host = dest.name;
  spec.dest_migration_address =
      dest.migration_address.empty() ? dest.host_ip : dest.migration_address;
  spec.incoming_uri = m.incoming_uri.value_or("");
  spec.block_migration = m.copies_disk.value_or(false);
  spec.bandwidth_mibps = policy.bandwidth_mibps;
  spec.max_downtime_ms = policy.max_downtime_ms;
  spec.downtime_steps = policy.downtime_steps;
  spec.downtime_delay_s = policy.downtime_delay_s;
  spec.permit_post_copy = policy.permit_post_copy;
  spec.permit_auto_converge = policy.permit_auto_converge;
  spec.monitor_interval_s = policy.monitor_interval_s;
  if (source != nullptr && source->cpu_info.is_object()) {
    try {
      spec.source_cpu = source->cpu_info.get<wire::CpuInfo>();
    } catch (const nlohmann::json::exception&) {
      spec.source_cpu = {};  // unreadable: unknown, the destination skips the comparison
    }
  }
  return spec;
}

}  // namespace ferry::controller::live_migration
