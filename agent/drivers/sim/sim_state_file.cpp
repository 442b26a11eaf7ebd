#include "agent/drivers/sim/sim_state_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/errors.hpp"

namespace ferry::agent::sim {
namespace {

constexpr int kFormatVersion = 1;  // bump with a loader for the old form when the shape changes
constexpr const char* kStateFileName = "domains.json";
constexpr const char* kLockFileName = "lock";

[[noreturn]] void ThrowErrno(const std::string& what, const std::string& path) {
  throw Error(Errc::kInternal, what + " " + path + ": " + std::strerror(errno));
}

void WriteAll(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ThrowErrno("write", path);
    done += static_cast<size_t>(n);
  }
}

void FsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) ThrowErrno("open", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) ThrowErrno("fsync", dir);
}

nlohmann::json ToJson(const SimDomain& d) {
  nlohmann::json j = d.domain;
  j["dirty_rate_bytes_per_s"] = d.dirty_rate_bytes_per_s;
  if (!d.migration_uuid.empty()) j["migration_uuid"] = d.migration_uuid;
  if (d.incoming) j["incoming"] = true;
  if (d.postcopy_failed) j["postcopy_failed"] = true;
  if (d.content_generation != 0) j["content_generation"] = d.content_generation;
  if (!d.last_shutdown.empty()) j["last_shutdown"] = d.last_shutdown;
  return j;
}

nlohmann::json ToJson(const SimColdReceive& r) {
  nlohmann::json disks = nlohmann::json::array();
  for (const auto& d : r.disks) {
    disks.push_back({{"target", d.target}, {"bytes", d.bytes}, {"received", d.received}});
  }
  return {{"migration_uuid", r.migration_uuid},
          {"domain_uuid", r.domain_uuid},
          {"token_sha256", r.token_sha256},
          {"shared_storage", r.shared_storage},
          {"reserved_gb", r.reserved_gb},
          {"port", r.port},
          {"disks", disks},
          {"generation", r.generation},
          {"claimed_digest", r.claimed_digest},
          {"complete", r.complete}};
}

SimColdReceive ReceiveFromJson(const nlohmann::json& j) {
  SimColdReceive r;
  j.at("migration_uuid").get_to(r.migration_uuid);
  j.at("domain_uuid").get_to(r.domain_uuid);
  j.at("token_sha256").get_to(r.token_sha256);
  r.shared_storage = j.value("shared_storage", false);
  r.reserved_gb = j.value("reserved_gb", int64_t{0});
  r.port = j.value("port", 0);
  for (const auto& d : j.at("disks")) {
    r.disks.push_back({d.at("target").get<std::string>(), d.at("bytes").get<int64_t>(),
                       d.at("received").get<int64_t>()});
  }
  r.generation = j.value("generation", int64_t{-1});
  r.claimed_digest = j.value("claimed_digest", "");
  r.complete = j.value("complete", false);
  return r;
}

SimDomain FromJson(const nlohmann::json& j) {
  SimDomain d;
  d.domain = j.get<wire::Domain>();
  d.dirty_rate_bytes_per_s = j.value("dirty_rate_bytes_per_s", int64_t{0});
  d.migration_uuid = j.value("migration_uuid", "");
  d.incoming = j.value("incoming", false);
  d.postcopy_failed = j.value("postcopy_failed", false);
  d.content_generation = j.value("content_generation", int64_t{0});
  d.last_shutdown = j.value("last_shutdown", "");
  return d;
}

}  // namespace

SimStateFile::SimStateFile(std::string state_dir) : dir_(std::move(state_dir)) {
  if (dir_.empty()) throw Error(Errc::kBadRequest, "sim driver needs a state directory");
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw Error(Errc::kInternal, "create state dir " + dir_ + ": " + ec.message());
  std::string lock_path = dir_ + "/" + kLockFileName;
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) ThrowErrno("open", lock_path);
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd_);
    throw Error(Errc::kConflict,
                "state dir " + dir_ + " is in use by another ferry-agent (lock " + lock_path + ")");
  }
}

SimStateFile::~SimStateFile() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // closing releases the flock
}

std::string SimStateFile::Path() const { return dir_ + "/" + kStateFileName; }

bool SimStateFile::Exists() const { return std::filesystem::exists(Path()); }

SimState SimStateFile::Load() const {
  std::ifstream in(Path());
  if (!in) ThrowErrno("open", Path());
  SimState state;
  try {
    auto j = nlohmann::json::parse(in);
    int format = j.at("format").get<int>();
    if (format != kFormatVersion) {
      throw Error(Errc::kInternal, Path() + ": unsupported format " + std::to_string(format));
    }
    for (const auto& d : j.at("domains")) state.domains.push_back(FromJson(d));
    if (j.contains("cold_receives")) {
      for (const auto& r : j.at("cold_receives")) {
        state.cold_receives.push_back(ReceiveFromJson(r));
      }
    }
    // Written between live migration and the shared job registry (agent/jobs), which keeps
    // them now; read so they can be moved there.
    if (j.contains("live_migration_jobs")) j.at("live_migration_jobs").get_to(state.jobs);
  } catch (const nlohmann::json::exception& e) {
    throw Error(Errc::kInternal, Path() + " is corrupt: " + e.what());
  }
  return state;
}

void SimStateFile::Save(const SimState& state) const {
  nlohmann::json j;
  j["format"] = kFormatVersion;
  // Anyone opening this file must not mistake it for a real hypervisor's records.
  j["note"] = "ferry-sim simulated hypervisor state; no real guests";
  j["domains"] = nlohmann::json::array();
  for (const auto& d : state.domains) j["domains"].push_back(ToJson(d));
  if (!state.cold_receives.empty()) {
    j["cold_receives"] = nlohmann::json::array();
    for (const auto& r : state.cold_receives) j["cold_receives"].push_back(ToJson(r));
  }
  std::string data = j.dump(2) + "\n";

  std::string tmp = Path() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) ThrowErrno("open", tmp);
  try {
    WriteAll(fd, data, tmp);
    if (::fsync(fd) != 0) ThrowErrno("fsync", tmp);
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0) ThrowErrno("close", tmp);
  if (::rename(tmp.c_str(), Path().c_str()) != 0) ThrowErrno("rename", tmp);
  FsyncDir(dir_);
}

}  // namespace ferry::agent::sim
