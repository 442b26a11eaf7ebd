#include "api/wire/evacuation_messages.hpp"

namespace ferry::wire {

using nlohmann::json;

void to_json(json& j, const EvacuationSpec& s) {
  j = json{{"migration_uuid", s.migration_uuid},
           {"domain", s.domain},
           {"source_host", s.source_host},
           {"dest_host", s.dest_host},
           {"rebuild_from_image", s.rebuild_from_image},
           {"image_ref", s.image_ref},
           {"power_on", s.power_on},
           {"delete_local_disks", s.delete_local_disks}};
}

void from_json(const json& j, EvacuationSpec& s) {
  const EvacuationSpec d;
  j.at("migration_uuid").get_to(s.migration_uuid);
  j.at("domain").get_to(s.domain);
  s.source_host = j.value("source_host", d.source_host);
  s.dest_host = j.value("dest_host", d.dest_host);
  s.rebuild_from_image = j.value("rebuild_from_image", d.rebuild_from_image);
  s.image_ref = j.value("image_ref", d.image_ref);
  s.power_on = j.value("power_on", d.power_on);
  s.delete_local_disks = j.value("delete_local_disks", d.delete_local_disks);
}

}  // namespace ferry::wire
