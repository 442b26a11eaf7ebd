#include "agent/jobs/job_record.hpp"

#include <stdexcept>

namespace ferry::agent {

void to_json(nlohmann::json& j, const JobRecord& r) {
  j = nlohmann::json{{"kind", r.kind},
                     {"spec", r.spec},
                     {"last", r.last},
                     {"abort_requested", r.abort_requested},
                     {"forcing", r.forcing},
                     {"post_copy", r.post_copy},
                     {"reported", r.reported},
                     {"ended_at", r.ended_at},
                     {"driver_facts", r.driver_facts}};
  if (r.cold) j["cold"] = *r.cold;
}

void from_json(const nlohmann::json& j, JobRecord& r) {
  r.kind = j.value("kind", std::string(kJobKindLive));
  if (r.kind != kJobKindLive && r.kind != kJobKindColdCopy) {
    throw std::runtime_error("unknown job kind '" + r.kind + "'");
  }
  r.cold.reset();
  if (j.contains("cold")) r.cold = j.at("cold").get<wire::ColdMigrationSpec>();
  // A tombstone (an abort before any start) is of the default kind, without a cold spec.
  if (r.cold.has_value() != r.IsColdCopy()) {
    throw std::runtime_error("a cold-copy record must carry its cold spec, and only it");
  }
  j.at("spec").get_to(r.spec);
  j.at("last").get_to(r.last);
  r.abort_requested = j.value("abort_requested", false);
  r.forcing = j.value("forcing", false);
  r.post_copy = j.value("post_copy", false);
  r.ended_at = j.value("ended_at", 0.0);
  if (j.contains("driver_facts")) {
    r.driver_facts = j.at("driver_facts");
    if (!r.driver_facts.is_object()) throw std::runtime_error("driver_facts is not an object");
    r.reported = j.value("reported", false);
    return;
  }
  // Written by the libvirt driver's own store before the shared registry: its facts were
  // top-level, "final_read" meant reported, and an ended job's time was its last sample.
  r.reported = j.value("final_read", false);
  r.driver_facts = nlohmann::json::object();
  if (j.contains("copied_disks")) r.driver_facts["copied_disks"] = j.at("copied_disks");
  // absent: unknown, so "gone from the source" cannot count as completed
  r.driver_facts["source_persistent"] = j.value("source_persistent", false);
  if (r.Ended() && r.ended_at == 0) r.ended_at = r.last.sampled_at;
}

}  // namespace ferry::agent
