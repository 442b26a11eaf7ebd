#pragma once
// What the libvirt driver needs to know about its host. Plain data: no libvirt header here, so
// agent/options.hpp can build one without seeing libvirt.
#include <string>

namespace ferry::agent::libvirt {

struct LibvirtConfig {
  std::string uri = "qemu:///system";  // this host's libvirtd
  // The destination libvirtd as the SOURCE libvirtd reaches it (peer-to-peer migration);
  // "{host}" is replaced by LiveMigrationSpec.dest_host (the destination's host name).
  std::string peer_uri_template = "qemu+tcp://{host}/system";
  std::string migration_address;  // inbound migration address: prepare returns tcp://<it>
  std::string shared_dir;         // reported as a "shared" datastore when set
  std::string images_dir = "/var/lib/libvirt/images";  // local_gb is its filesystem's size
  // Guests boot a kernel directly (no disk image support yet): <os><kernel>, serial console to
  // <serial_dir>/<name>.log. Both paths as the libvirtd sees them.
  std::string guest_kernel;
  std::string guest_cmdline;
  std::string serial_dir = "/var/log/libvirt/serial";
  std::string domain_type = "qemu";  // "qemu" (TCG) or "kvm"
};

}  // namespace ferry::agent::libvirt
