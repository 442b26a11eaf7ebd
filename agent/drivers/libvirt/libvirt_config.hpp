#pragma once
// What the libvirt driver needs to know about its host. Plain data: no libvirt header here, so
// agent/options.hpp can build one without seeing libvirt.
#include <string>

#include "agent/disk_transfer/tls_context.hpp"

namespace ferry::agent::libvirt {

struct LibvirtConfig {
  std::string uri = "qemu:///system";  // this host's libvirtd
  // The destination libvirtd as the SOURCE libvirtd reaches it (peer-to-peer migration);
  // "{host}" is replaced by LiveMigrationSpec.dest_host (the destination's host name).
  std::string peer_uri_template = "qemu+tcp://{host}/system";
  std::string migration_address;  // inbound migration address: prepare returns tcp://<it>
  // A directory every host mounts at this path (as libvirtd sees it): reported as a "shared"
  // datastore; disks in it are "shared", disks in <shared_dir>/volumes/ are "volume"s (never
  // copied by block migration).
  std::string shared_dir;
  // libvirt's conventional image directory (created by Debian's libvirt-daemon-system, not by
  // libvirt-daemon): the agent checks at start that it exists (--libvirt-images-dir).
  std::string images_dir = "/var/lib/libvirt/images";  // as the AGENT sees it: local_gb
  // Root disks of created guests are volumes of a libvirt "dir" pool on this directory, as
  // LIBVIRTD sees it (it may run in another mount namespace than the agent). A pool covering
  // the path is what lets libvirt pre-create missing disks on a block-migration destination.
  // An existing pool on the path is used whatever its name; else one named images_pool_name
  // is defined (autostart) when the driver starts. Empty: images_dir (libvirtd and the agent
  // share a mount namespace, as on a real host).
  std::string images_pool_path;
  std::string images_pool_name = "ferry-images";
  // Where the driver keeps migration job outcomes across agent restarts (--state-dir);
  // empty: in memory only.
  std::string state_dir;
  // Guests boot a kernel directly: <os><kernel>, serial console to <serial_dir>/<name>.log; a
  // root disk (disk_gb > 0) is attached for migration to handle. Paths as libvirtd sees them.
  std::string guest_kernel;
  std::string guest_cmdline;
  std::string serial_dir = "/var/log/libvirt/serial";
  std::string domain_type = "qemu";  // "qemu" (TCG) or "kvm"
  // Cold migration's disk transfers (agent/disk_transfer): this host's certificate under the
  // deployment CA, and where disks arrive: disk_transfer_address (empty: migration_address, the
  // network meant for bulk migration data) and port (0: any, for tests). Without a TLS identity
  // this host neither sends nor receives local disks (shared storage still moves).
  transfer::TlsFiles tls;
  std::string disk_transfer_address;
  int disk_transfer_port = 16520;
};

}  // namespace ferry::agent::libvirt
