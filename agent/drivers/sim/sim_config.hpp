#pragma once
// Configuration of the sim driver: a modelled hypervisor for demos, scale and integration tests.
// Nothing here runs a guest; every figure is a model input.
#include <cstdint>
#include <string>
#include <vector>

#include "api/wire/messages.hpp"

namespace ferry::agent::sim {

// Defaults model a mid-size two-socket compute node, the kind a private cloud racks by the dozen.
inline constexpr int kDefaultVcpus = 32;                // 2 sockets x 8 cores x 2 threads
inline constexpr int64_t kDefaultMemoryMb = 131072;     // 128 GiB: 4 GiB per hardware thread
inline constexpr int64_t kDefaultDiskGb = 2000;         // one 2 TB local NVMe for ephemeral disks
inline constexpr int64_t kDefaultBandwidthMbps = 1250;  // MB/s: a 10 GbE link (10e9 bit/s / 8)
inline constexpr int64_t kDefaultDirtyRateMbps = 0;     // MB/s: an idle guest; tests raise it
inline constexpr int64_t kBytesPerMb = 1000 * 1000;     // link speeds are decimal (10 GbE)

// Named failure modes of the modelled hypervisor, chosen by tests (--sim-scenario NAME[:uuid]).
// Without a domain uuid a scenario applies to every domain. agent/README.md describes each.
inline constexpr const char* kScenarioPrecheckFails = "precheck-fails";
inline constexpr const char* kScenarioPrepareFails = "prepare-fails";
inline constexpr const char* kScenarioStall = "stall";
inline constexpr const char* kScenarioSwitchoverFails = "switchover-fails";
inline constexpr const char* kScenarioAgentDiesMidCopy = "agent-dies-mid-copy";
inline constexpr const char* kScenarioPostcopyFails = "postcopy-fails";
inline constexpr const char* kScenarioFinishFails = "finish-fails";
// The destination refuses to finish and the switched-over guest stays paused there (a resume
// that failed): only the destination holds it, and it does not run.
inline constexpr const char* kScenarioFinishFailsPaused = "finish-fails-paused";
inline constexpr const char* kScenarioLostSwitchover = "lost-switchover";
inline constexpr const char* kScenarioStartRefused = "start-refused";
// create_domain takes SimConfig::create_slow_ms before the domain exists (a slow image copy).
inline constexpr const char* kScenarioCreateSlow = "create-slow";
// Cold migration and resize. cold-shutdown-hangs (source): the guest ignores the graceful
// shutdown, which times out after the spec's shutdown_timeout_s; then it is destroyed.
// cold-copy-breaks (source): the copy link drops at half the bytes; the job fails.
// cold-checksum-mismatch (destination): what arrived does not verify; finish refuses.
// cold-define-fails (destination): defining the guest fails; finish refuses, nothing defined.
inline constexpr const char* kScenarioColdShutdownHangs = "cold-shutdown-hangs";
inline constexpr const char* kScenarioColdCopyBreaks = "cold-copy-breaks";
inline constexpr const char* kScenarioColdChecksumMismatch = "cold-checksum-mismatch";
inline constexpr const char* kScenarioColdDefineFails = "cold-define-fails";
// Evacuation. rebuild-fails (destination): rebuild_evacuated_domain is refused (kConflict) and
// nothing is defined, as on a host that cannot reach the guest's storage.
inline constexpr const char* kScenarioRebuildFails = "rebuild-fails";
// 40 s: longer than the controller's default 30 s agent command timeout, the case of review M4.
inline constexpr int kDefaultCreateSlowMs = 40000;

struct SimScenario {
  std::string name;
  std::string domain_uuid;  // lowercase; empty = every domain
};

struct SimConfig {
  std::string state_dir;  // holds domains.json; created when missing
  int vcpus = kDefaultVcpus;
  int64_t memory_mb = kDefaultMemoryMb;
  int64_t disk_gb = kDefaultDiskGb;
  // Migration link bandwidth and the memory dirty rate given to each new domain. Stored now,
  // consumed by the pre-copy model of the live-migration issues.
  int64_t link_bandwidth_bytes_per_s = kDefaultBandwidthMbps * kBytesPerMb;
  int64_t dirty_rate_bytes_per_s = kDefaultDirtyRateMbps * kBytesPerMb;
  // Domains ferry did not create ("foreign"), made only when the state dir is new: they stand
  // for guests an operator started by hand, which the controller must report, not adopt.
  std::vector<wire::Domain> foreign_domains;
  // Where this host accepts incoming migrations (the agent's --migration-address).
  std::string migration_address = "127.0.0.1";
  std::vector<SimScenario> scenarios;
  int create_slow_ms = kDefaultCreateSlowMs;  // scenario create-slow

  bool HasScenario(const std::string& name, const std::string& domain_uuid) const;
};

// Parses a --sim-scenario value "NAME[:domain-uuid]". Throws ferry::Error(kBadRequest) for an
// unknown name or a bad uuid, listing the known names.
SimScenario ParseSimScenario(const std::string& spec);

// Parses a --sim-domain value "name:vcpus:memory_mb:disk_gb[:uuid][:local|shared|volume]" (uuid
// random when absent; the last part reports one root disk "vda" of that kind).
// Throws ferry::Error(kBadRequest) naming the bad part.
wire::Domain ParseSimDomainSpec(const std::string& spec);

}  // namespace ferry::agent::sim
