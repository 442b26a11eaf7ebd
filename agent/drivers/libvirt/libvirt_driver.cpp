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
  // The pool is what disk-backed guests and block migration need; a host without libvirt's
  // storage driver still runs diskless guests, so only warn.
  try {
    impl_->ImagesPool();
  } catch (const Error& e) {
    spdlog::warn("libvirt: no images pool on {}: {} (guests with disks cannot be created here)",
                 impl_->config.images_pool_path, e.what());
  }
  impl_->jobs->Recover();
}

PoolPtr LibvirtDriver::Impl::ImagesPool() {
  PoolPtr pool = EnsureImagesPool(Conn(), config);
  pool_seen = true;
  return pool;
}

LibvirtDriver::~LibvirtDriver() {
  impl_->stopping = true;
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
