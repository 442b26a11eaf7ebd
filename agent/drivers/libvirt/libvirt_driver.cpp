// Construction and teardown. The driver's work is in libvirt_inventory.cpp,
// libvirt_migration_source.cpp, libvirt_migration_monitor.cpp and
// libvirt_migration_destination.cpp.
#include "agent/drivers/libvirt/libvirt_driver.hpp"

#include "agent/drivers/libvirt/libvirt_driver_impl.hpp"
#include "agent/drivers/libvirt/libvirt_storage.hpp"
#include "common/errors.hpp"
#include "common/log.hpp"

namespace ferry::agent::libvirt {

LibvirtDriver::LibvirtDriver(LibvirtConfig config) : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  if (impl_->config.images_pool_path.empty())
    impl_->config.images_pool_path = impl_->config.images_dir;
  impl_->jobs = std::make_unique<JobRegistry>(
      impl_->config.state_dir.empty() ? "" : impl_->config.state_dir + "/libvirt-migrations",
      *impl_, DefaultClock());
  impl_->incoming = std::make_unique<IncomingRecords>(impl_->config.state_dir);
  impl_->Conn();
  StartDiskTransfers();
  // The pool is what disk-backed guests and block migration need; a host without libvirt's
  // storage driver still runs diskless guests, so only warn.
  try {
    impl_->ImagesPool();
  } catch (const Error& e) {
    spdlog::warn("libvirt: no images pool on {}: {} (guests with disks cannot be created here)",
                 impl_->config.images_pool_path, e.what());
  }
  impl_->jobs->Recover();
  // Copies cut by the previous agent's end, resumed only now that the registry holds their
  // records (a copy that ended at once would otherwise end a job the registry did not know).
  std::vector<JobRecord> resumed;
  {
    std::lock_guard lock(impl_->mu);
    resumed.swap(impl_->cold_to_resume);
  }
  for (const auto& job : resumed) impl_->LaunchColdCopy(job);
}

void LibvirtDriver::StartDiskTransfers() {
  auto& impl = *impl_;
  const auto& c = impl.config;
  const std::string& address =
      c.disk_transfer_address.empty() ? c.migration_address : c.disk_transfer_address;
  if (!c.tls.configured()) {
    impl.disk_transfer_problem = "no TLS identity (--tls-ca, --tls-cert, --tls-key)";
  } else if (address.empty()) {
    impl.disk_transfer_problem = "no --migration-address to receive on";
  }
  if (!impl.disk_transfer_problem.empty()) {
    spdlog::warn("libvirt: cold migrations' local disks neither leave nor reach this host: {}",
                 impl.disk_transfer_problem);
    return;
  }
  // A certificate that expired or a port taken must not stop the agent: every other operation
  // of this host goes on, and cold moves of local disks are refused with the reason.
  try {
    impl.tls = std::make_unique<transfer::TlsContext>(c.tls);
    impl.disk_store =
        std::make_unique<VolumeDiskStore>(c, *impl.incoming, [&impl] { return impl.ImagesPool(); });
    impl.receiver = std::make_unique<transfer::DiskReceiver>(
        *impl.tls, *impl.disk_store, c.state_dir, address, c.disk_transfer_port);
    spdlog::info("libvirt: receiving cold migrations' disks on {}", impl.receiver->Uri());
  } catch (const Error& e) {
    impl.receiver.reset();
    impl.disk_store.reset();
    impl.tls.reset();
    impl.disk_transfer_problem = e.what();
    spdlog::error("libvirt: cold migrations' local disks neither leave nor reach this host: {}",
                  e.what());
  }
}

PoolPtr LibvirtDriver::Impl::ImagesPool() {
  PoolPtr pool = EnsureImagesPool(Conn(), config);
  pool_seen = true;
  return pool;
}

LibvirtDriver::~LibvirtDriver() {
  impl_->stopping = true;
  impl_->cv.notify_all();  // a cold copy waiting to retry its link stops waiting
  {
    std::lock_guard lock(impl_->watch_mu);
    for (auto& w : impl_->watchers) w.thread.join();
  }
  std::vector<std::shared_ptr<Copy>> all;
  {
    std::lock_guard lock(impl_->mu);
    for (auto& [id, copy] : impl_->copies) all.push_back(copy);
  }
  for (auto& copy : all) {
    if (copy->thread.joinable()) copy->thread.join();
  }
}

}  // namespace ferry::agent::libvirt
