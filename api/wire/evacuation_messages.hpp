#pragma once
// Evacuation (Nova's migration_type "evacuation"): the server's host is down or forced down (an
// admin's word that it is fenced), so its guest is rebuilt on another host; nothing is copied
// from the source, which cannot be asked. Every command is idempotent by Command.id and fenced by
// the sender's lease exactly as live migration's are (live_migration_messages.hpp).
//
// Controller -> agent, POST /v1/commands, Command.kind and Command.args = EvacuationSpec:
//   "rebuild_evacuated_domain"      (dest)   spec.domain defined here and marked with
//                                            spec.migration_uuid: its shared disks and volumes
//                                            as listed in spec.domain.disks (each must lie on
//                                            storage this host sees: refused otherwise), or,
//                                            with spec.rebuild_from_image, a fresh root disk
//                                            made as create_domain makes one; started if
//                                            spec.power_on. A repeat returns what the first
//                                            made. A guest with this uuid already here that is
//                                            not marked with this migration: failed (never
//                                            replaced). Result CommandResult.domain.
//   "revert_evacuation_destination" (dest)   what rebuild made is gone: only a guest marked with
//                                            this migration, and only a root disk rebuild made
//                                            (never a shared disk or a volume). Success when
//                                            nothing is left.
//   "clean_up_evacuated_source"     (source) the stale copy left on the host that came back:
//                                            destroyed and undefined; its local disks deleted
//                                            only when spec.delete_local_disks (never a shared
//                                            disk or a volume: the destination runs from them).
//                                            Success when already gone.
//
// Agent -> controller: RegisterResponse.fenced_domains and HeartbeatResponse.fenced_domains
// list the guests evacuated from this host (the evacuation record is the source's tombstone).
// The agent powers each off at once if it runs (destroy; its definition and disks kept, libvirt
// autostart off) before it reports anything else, and never starts one on its own.
#include <nlohmann/json.hpp>
#include <string>

#include "api/wire/messages.hpp"

namespace ferry::wire {

struct EvacuationSpec {
  std::string migration_uuid;
  // The guest as the controller knows it: uuid, name, the flavor's vcpus, memory_mb and disk_gb,
  // and (storage shared or volumes) the disks its host last reported. No local disks: they are
  // gone with the source.
  Domain domain;
  std::string source_host;
  std::string dest_host;
  // The server's disks were local to the source: a fresh root disk from its image.
  bool rebuild_from_image = false;
  std::string image_ref;  // the server's imageRef (shown in logs; drivers keep no image store)
  bool power_on = true;   // start it on the destination (false: Nova 2.95, or it was stopped)
  bool delete_local_disks = false;  // clean_up_evacuated_source: the source's local disks go
};

void to_json(nlohmann::json& j, const EvacuationSpec& s);
void from_json(const nlohmann::json& j, EvacuationSpec& s);

}  // namespace ferry::wire
