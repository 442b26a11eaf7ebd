#pragma once
// What a cold migration writes into domain definitions (libvirt <metadata>, kept with the
// persistent definition), so that a later step — after any crash — acts only on what this move
// made or changed:
//  - on the destination, the migration that defined the guest there (revert removes only a
//    guest carrying its own migration's mark, never one that was there before); an evacuation
//    marks the guest it rebuilds the same way (libvirt_evacuation.cpp);
//  - on the source, that the guest was autostarted before the move (power-off turns autostart
//    off so a libvirtd or host restart cannot start a second copy during the move; revert
//    turns it back on).
#include <string>

#include "agent/drivers/libvirt/libvirt_util.hpp"

namespace ferry::agent::libvirt {

// The <metadata> child DomainXml writes for a guest a cold migration defines.
std::string DefinedByMetadataXml(const std::string& migration_uuid);
// The migration that defined `d` here ("" when none did).
std::string DefinedBy(virDomainPtr d);

// Source: autostart off, remembered in the definition (a repeat keeps the first answer).
void SuspendAutostart(virDomainPtr d, const std::string& what);
// Source: autostart back on when SuspendAutostart turned it off.
void RestoreAutostart(virDomainPtr d, const std::string& what);

}  // namespace ferry::agent::libvirt
