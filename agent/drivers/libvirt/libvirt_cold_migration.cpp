// Cold migration and resize through libvirt: not implemented yet. Every step refuses with
// kConflict, so a controller never believes a guest was powered off, copied or defined when
// nothing happened. The real steps replace these one by one.
#include "agent/drivers/libvirt/libvirt_driver.hpp"
#include "agent/drivers/libvirt/libvirt_driver_impl.hpp"
#include "common/errors.hpp"

namespace ferry::agent::libvirt {

void RefuseColdMigration() {
  throw Error(Errc::kConflict, "cold migration is not implemented by the libvirt driver yet");
}

std::string LibvirtDriver::PrepareColdMigrationDestination(const wire::ColdMigrationSpec&) {
  RefuseColdMigration();
}
void LibvirtDriver::PowerOffForColdMigration(const wire::ColdMigrationSpec&) {
  RefuseColdMigration();
}
void LibvirtDriver::StartColdMigrationCopy(const wire::ColdMigrationSpec&) {
  RefuseColdMigration();
}
void LibvirtDriver::AbortColdMigrationCopy(const std::string&) { RefuseColdMigration(); }
wire::Domain LibvirtDriver::FinishColdMigrationDestination(const wire::ColdMigrationSpec&) {
  RefuseColdMigration();
}
void LibvirtDriver::ConfirmColdMigrationSource(const wire::ColdMigrationSpec&) {
  RefuseColdMigration();
}
void LibvirtDriver::RevertColdMigrationDestination(const wire::ColdMigrationSpec&) {
  RefuseColdMigration();
}
wire::Domain LibvirtDriver::RevertColdMigrationSource(const wire::ColdMigrationSpec&) {
  RefuseColdMigration();
}

}  // namespace ferry::agent::libvirt
