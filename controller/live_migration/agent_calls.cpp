#include "controller/live_migration/agent_calls.hpp"

#include "controller/live_migration/policy.hpp"

namespace ferry::controller::live_migration {

CallResult Call(const Context& ctx, const store::LiveMigration& m, const store::Host& host,
                const std::string& kind, const std::string& step,
                const wire::LiveMigrationSpec& spec) {
  const moves::Sender sender{ctx.db, ctx.agents, ctx.engine.owner,
                             ctx.options.test_pause_before_send};
  auto r = moves::Call(sender, {"live migration", m.uuid, m.lease_epoch, m.attempt}, host, kind,
                       step, spec);
  // A command id reused with other arguments ends the step as a refusal, as it always has for
  // live migration.
  if (r.outcome == CallResult::Outcome::kReused) r.outcome = CallResult::Outcome::kRefused;
  return r;
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
