#include "agent/drivers/sim/sim_config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <sstream>

#include "common/errors.hpp"
#include "common/uuid.hpp"

namespace ferry::agent::sim {
namespace {

std::vector<std::string> SplitColons(const std::string& s) {
  std::vector<std::string> parts;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, ':')) parts.push_back(part);
  if (!s.empty() && s.back() == ':') parts.emplace_back();
  return parts;
}

int64_t ParseInRange(const std::string& spec, const std::string& field, const std::string& text,
                     int64_t min, int64_t max) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    throw Error(Errc::kBadRequest, "--sim-domain '" + spec + "': " + field + " '" + text +
                                       "' must be an integer in [" + std::to_string(min) + ", " +
                                       std::to_string(max) + "]");
  }
  return value;
}

}  // namespace

wire::Domain ParseSimDomainSpec(const std::string& spec) {
  auto parts = SplitColons(spec);
  // A last part local|shared|volume is where the root disk is (reported as its one disk).
  std::string storage;
  if (parts.size() >= 5 &&
      (parts.back() == "local" || parts.back() == "shared" || parts.back() == "volume")) {
    storage = parts.back();
    parts.pop_back();
  }
  if (parts.size() != 4 && parts.size() != 5) {
    throw Error(Errc::kBadRequest, "--sim-domain '" + spec +
                                       "': expected name:vcpus:memory_mb:disk_gb[:uuid][:local|"
                                       "shared|volume]");
  }
  if (parts[0].empty()) throw Error(Errc::kBadRequest, "--sim-domain '" + spec + "': empty name");
  wire::Domain d;
  d.name = parts[0];
  constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
  d.vcpus =
      static_cast<int>(ParseInRange(spec, "vcpus", parts[1], 1, std::numeric_limits<int>::max()));
  d.memory_mb = ParseInRange(spec, "memory_mb", parts[2], 1, kInt64Max);
  d.disk_gb = ParseInRange(spec, "disk_gb", parts[3], 0, kInt64Max);
  if (parts.size() == 5) {
    if (!IsUuid(parts[4])) {
      throw Error(Errc::kBadRequest,
                  "--sim-domain '" + spec + "': '" + parts[4] + "' is not a uuid");
    }
    d.uuid = parts[4];
  } else {
    d.uuid = NewUuid();
  }
  d.power_state = wire::PowerState::kRunning;  // a hand-started guest is running
  if (!storage.empty()) {
    // Paths only name the kind; the sim has no files.
    const std::string path = storage == "local"    ? "/var/lib/ferry-sim/" + d.name + ".img"
                             : storage == "shared" ? "/shared/" + d.name + ".img"
                                                   : "/shared/volumes/" + d.name + ".img";
    // No datastore named: sim hosts register none that is shared, so nothing ties the domain.
    d.disks.push_back({"vda", path, storage, d.disk_gb * 1024 * 1024 * 1024, "raw", ""});
  }
  return d;
}

bool SimConfig::HasScenario(const std::string& name, const std::string& domain_uuid) const {
  std::string uuid = domain_uuid;
  std::transform(uuid.begin(), uuid.end(), uuid.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::any_of(scenarios.begin(), scenarios.end(), [&](const SimScenario& s) {
    return s.name == name && (s.domain_uuid.empty() || s.domain_uuid == uuid);
  });
}

SimScenario ParseSimScenario(const std::string& spec) {
  static const std::vector<std::string> kKnown = {
      kScenarioPrecheckFails,   kScenarioPrepareFails,         kScenarioStall,
      kScenarioSwitchoverFails, kScenarioAgentDiesMidCopy,     kScenarioPostcopyFails,
      kScenarioFinishFails,     kScenarioFinishFailsPaused,    kScenarioLostSwitchover,
      kScenarioStartRefused,    kScenarioCreateSlow,           kScenarioColdShutdownHangs,
      kScenarioColdCopyBreaks,  kScenarioColdChecksumMismatch, kScenarioColdDefineFails,
      kScenarioRebuildFails};
  SimScenario s;
  auto colon = spec.find(':');
  s.name = spec.substr(0, colon);
  if (std::find(kKnown.begin(), kKnown.end(), s.name) == kKnown.end()) {
    std::string known;
    for (const auto& k : kKnown) known += (known.empty() ? "" : ", ") + k;
    throw Error(Errc::kBadRequest,
                "--sim-scenario '" + spec + "': unknown scenario; known: " + known);
  }
  if (colon != std::string::npos) {
    s.domain_uuid = spec.substr(colon + 1);
    if (!IsUuid(s.domain_uuid)) {
      throw Error(Errc::kBadRequest,
                  "--sim-scenario '" + spec + "': '" + s.domain_uuid + "' is not a uuid");
    }
    std::transform(s.domain_uuid.begin(), s.domain_uuid.end(), s.domain_uuid.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  }
  return s;
}

}  // namespace ferry::agent::sim
