#include "agent/evacuation_commands.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include "common/errors.hpp"
#include "common/uuid.hpp"

namespace ferry::agent {
namespace {

// The flavor bounds of cold migration's spec (commands.cpp), for the same reasons: 4096 vCPUs
// (QEMU's largest machine type), 64 TiB of RAM and 1 PiB of disk (beyond any server sold).
constexpr int kMaxVcpus = 4096;
constexpr int64_t kMaxMemoryMb = int64_t{64} * 1024 * 1024;
constexpr int64_t kMaxDiskGb = int64_t{1024} * 1024;
// 64 disks: what the disk transfer takes per guest (agent/README.md), far above a flavor and
// its volumes; each is checked below, so the list is also what bounds the work.
constexpr size_t kMaxDisks = 64;
// 255: a host name (RFC 1035) and Nova's server name; 1 KiB for an image reference (a uuid or
// a glance URL).
constexpr size_t kMaxNameChars = 255;
constexpr size_t kMaxImageRefChars = 1024;
// 4096: Linux's PATH_MAX, the longest path a driver could open.
constexpr size_t kMaxPathChars = 4096;
// 32: a guest device name ("vda", "nvme0n1"); a format ("qcow2", "raw", "vmdk") is shorter.
constexpr size_t kMaxDiskTargetChars = 32;
constexpr size_t kMaxFormatChars = 32;

void Require(bool ok, const std::string& kind, const std::string& what) {
  if (!ok) throw Error(Errc::kBadRequest, kind + ": " + what);
}

// No byte below 0x20 and no DEL: these strings reach logs, libvirt XML and file names.
bool Printable(const std::string& s) {
  return std::none_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

bool Bounded(const std::string& s, size_t max_chars, bool may_be_empty) {
  return (may_be_empty || !s.empty()) && s.size() <= max_chars && Printable(s);
}

bool IsDiskTarget(const std::string& t) {
  return !t.empty() && t.size() <= kMaxDiskTargetChars &&
         std::all_of(t.begin(), t.end(),
                     [](unsigned char c) { return std::islower(c) != 0 || std::isdigit(c) != 0; });
}

void CheckDisks(const std::string& kind, const std::vector<wire::Disk>& disks) {
  Require(disks.size() <= kMaxDisks, kind, "domain.disks: at most 64");
  std::set<std::string> targets;
  for (const auto& disk : disks) {
    Require(IsDiskTarget(disk.target), kind,
            "domain.disks[].target must be 1-32 lowercase letters or digits");
    Require(targets.insert(disk.target).second, kind,
            "domain.disks[].target '" + disk.target + "' is listed twice");
    Require(Bounded(disk.path, kMaxPathChars, false), kind,
            "domain.disks[].path must be 1-4096 printable characters");
    Require(disk.kind == "local" || disk.kind == "shared" || disk.kind == "volume", kind,
            "domain.disks[].kind must be local, shared or volume");
    Require(Bounded(disk.format, kMaxFormatChars, true), kind,
            "domain.disks[].format must be at most 32 printable characters");
    Require(Bounded(disk.datastore, kMaxPathChars, true), kind,
            "domain.disks[].datastore must be at most 4096 printable characters");
    Require(disk.capacity_bytes >= 0 && disk.capacity_bytes / (int64_t{1} << 30) <= kMaxDiskGb,
            kind, "domain.disks[].capacity_bytes must be in [0, 1 PiB]");
  }
}

using EvacuationFn = std::function<CommandOutput(CommandContext&, const wire::EvacuationSpec&)>;

CommandFn WithEvacuationSpec(std::string kind, EvacuationFn fn) {
  return [kind = std::move(kind), fn = std::move(fn)](CommandContext& ctx,
                                                      const nlohmann::json& args) {
    return fn(ctx, DecodeEvacuationSpec(kind, args));
  };
}

}  // namespace

wire::EvacuationSpec DecodeEvacuationSpec(const std::string& kind, const nlohmann::json& args) {
  Require(args.is_object(), kind, "args must be an EvacuationSpec object");
  auto spec = args.get<wire::EvacuationSpec>();  // json::exception -> 400 at the server
  const wire::Domain& d = spec.domain;
  Require(IsUuid(spec.migration_uuid), kind, "migration_uuid must be a uuid");
  Require(IsUuid(d.uuid), kind, "domain.uuid must be a uuid");
  Require(Bounded(d.name, kMaxNameChars, true), kind,
          "domain.name must be at most 255 printable characters");
  Require(d.vcpus >= 1 && d.vcpus <= kMaxVcpus, kind, "domain.vcpus must be in [1, 4096]");
  Require(d.memory_mb >= 1 && d.memory_mb <= kMaxMemoryMb, kind,
          "domain.memory_mb must be in [1, 64 TiB]");
  Require(d.disk_gb >= 0 && d.disk_gb <= kMaxDiskGb, kind, "domain.disk_gb must be in [0, 1 PiB]");
  CheckDisks(kind, d.disks);
  // The hosts only name the move in logs (the wire contract leaves them optional).
  Require(Bounded(spec.source_host, kMaxNameChars, true), kind,
          "source_host must be at most 255 printable characters");
  Require(Bounded(spec.dest_host, kMaxNameChars, true), kind,
          "dest_host must be at most 255 printable characters");
  Require(spec.source_host.empty() || spec.source_host != spec.dest_host, kind,
          "source_host and dest_host must differ: a guest is never evacuated onto its own host");
  Require(Bounded(spec.image_ref, kMaxImageRefChars, true), kind,
          "image_ref must be at most 1024 printable characters");
  return spec;
}

void AddEvacuationRows(std::map<std::string, CommandFn>& table) {
  using Spec = wire::EvacuationSpec;
  table.emplace(
      "rebuild_evacuated_domain",
      WithEvacuationSpec("rebuild_evacuated_domain", [](CommandContext& ctx, const Spec& spec) {
        return CommandOutput{ctx.driver.RebuildEvacuatedDomain(spec), nullptr};
      }));
  table.emplace("revert_evacuation_destination",
                WithEvacuationSpec("revert_evacuation_destination",
                                   [](CommandContext& ctx, const Spec& spec) {
                                     ctx.driver.RevertEvacuationDestination(spec);
                                     return CommandOutput{};
                                   }));
  table.emplace(
      "clean_up_evacuated_source",
      WithEvacuationSpec("clean_up_evacuated_source", [](CommandContext& ctx, const Spec& spec) {
        ctx.driver.CleanUpEvacuatedSource(spec);
        return CommandOutput{};
      }));
}

}  // namespace ferry::agent
