#include "agent/drivers/libvirt/libvirt_cold_marks.hpp"

#include <pugixml.hpp>

#include "common/log.hpp"

namespace ferry::agent::libvirt {
namespace {

constexpr const char* kDefinedByUri = "urn:ferry:cold-migration:defined-by";
constexpr const char* kAutostartUri = "urn:ferry:cold-migration:autostart";

// The element stored under `uri` in d's persistent definition ("" when none).
std::string Metadata(virDomainPtr d, const char* uri) {
  CString xml(Timed("virDomainGetMetadata", [&] {
    return virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, uri, VIR_DOMAIN_AFFECT_CONFIG);
  }));
  return xml ? xml.get() : "";
}

}  // namespace

std::string DefinedByMetadataXml(const std::string& migration_uuid) {
  return std::string("<ferry:defined-by xmlns:ferry='") + kDefinedByUri + "' migration='" +
         migration_uuid + "'/>";
}

std::string DefinedBy(virDomainPtr d) {
  const std::string xml = Metadata(d, kDefinedByUri);
  if (xml.empty()) return "";
  pugi::xml_document doc;
  if (!doc.load_string(xml.c_str())) return "";
  return doc.first_child().attribute("migration").value();
}

void SuspendAutostart(virDomainPtr d, const std::string& what) {
  int on = 0;
  if (virDomainGetAutostart(d, &on) < 0) ThrowLibvirt("autostart of " + what);
  if (on == 0) return;
  // Remembered first: a crash in between leaves autostart on and the mark, which revert reads
  // the same way.
  if (Timed("virDomainSetMetadata", [&] {
        return virDomainSetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, "<autostart/>", "ferry",
                                    kAutostartUri, VIR_DOMAIN_AFFECT_CONFIG);
      }) < 0) {
    ThrowLibvirt("remembering the autostart of " + what);
  }
  if (virDomainSetAutostart(d, 0) < 0) ThrowLibvirt("turning autostart of " + what + " off");
}

void RestoreAutostart(virDomainPtr d, const std::string& what) {
  if (Metadata(d, kAutostartUri).empty()) return;
  if (virDomainSetAutostart(d, 1) < 0) ThrowLibvirt("turning autostart of " + what + " on");
  if (Timed("virDomainSetMetadata", [&] {
        return virDomainSetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, nullptr, nullptr, kAutostartUri,
                                    VIR_DOMAIN_AFFECT_CONFIG);
      }) < 0) {
    spdlog::warn("libvirt: {}: the autostart mark stays: {}", what, LastErrorMessage());
  }
}

}  // namespace ferry::agent::libvirt
