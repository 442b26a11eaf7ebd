#include "agent/drivers/libvirt/libvirt_driver.hpp"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <sys/statvfs.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <pugixml.hpp>
#include <sstream>
#include <thread>

#include "common/errors.hpp"
#include "common/log.hpp"

namespace ferry::agent::libvirt {
namespace {

constexpr int64_t kKiB = 1024;
constexpr int64_t kMiB = 1024 * 1024;
constexpr int64_t kGiB = kMiB * 1024;
// How long Abort waits for the migrate call to return after virDomainAbortJob, so it can tell
// "cancelled" from "completed anyway" (libvirt cannot abort a job already switching over).
constexpr auto kAbortWait = std::chrono::seconds(20);
// An abort that arrives before QEMU's job exists is retried this long (the job thread is
// between its own connect and virDomainMigrateToURI3).
constexpr auto kAbortRetry = std::chrono::seconds(5);

double EpochSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// libvirt prints every error to stderr by default; the driver reports them as ferry::Error.
void SilentErrorHandler(void*, virErrorPtr) {}

struct LibvirtInit {
  LibvirtInit() {
    virInitialize();
    virSetErrorFunc(nullptr, SilentErrorHandler);
  }
};

void EnsureInit() { static LibvirtInit init; }

int LastErrorCode() {
  virErrorPtr e = virGetLastError();
  return e ? e->code : VIR_ERR_OK;
}

std::string LastErrorMessage() {
  virErrorPtr e = virGetLastError();
  return e && e->message ? e->message : "unknown libvirt error";
}

// virErrorPtr -> ferry::Error: what we were doing, then libvirt's own message.
[[noreturn]] void ThrowLibvirt(const std::string& what) {
  int code = LastErrorCode();
  std::string message = "libvirt: " + what + ": " + LastErrorMessage();
  Errc errc = Errc::kInternal;
  switch (code) {
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_RPC:
    case VIR_ERR_AUTH_FAILED:
    case VIR_ERR_AUTH_UNAVAILABLE:
      errc = Errc::kUnavailable;
      break;
    case VIR_ERR_SYSTEM_ERROR: {
      virErrorPtr e = virGetLastError();
      if (e && (e->domain == VIR_FROM_RPC || e->domain == VIR_FROM_REMOTE))
        errc = Errc::kUnavailable;
      break;
    }
    case VIR_ERR_NO_DOMAIN:
      errc = Errc::kNotFound;
      break;
    case VIR_ERR_OPERATION_INVALID:
    case VIR_ERR_DOM_EXIST:
    case VIR_ERR_OPERATION_FAILED:
      errc = Errc::kConflict;
      break;
    case VIR_ERR_INVALID_ARG:
    case VIR_ERR_XML_ERROR:
      errc = Errc::kBadRequest;
      break;
    default:
      break;
  }
  throw Error(errc, message);
}

struct ConnCloser {
  void operator()(virConnectPtr c) const { virConnectClose(c); }
};
using ConnPtr = std::unique_ptr<virConnect, ConnCloser>;

struct DomainFreer {
  void operator()(virDomainPtr d) const { virDomainFree(d); }
};
using DomainPtr = std::unique_ptr<virDomain, DomainFreer>;

ConnPtr Connect(const std::string& uri) {
  EnsureInit();
  virConnectPtr c = virConnectOpen(uri.c_str());
  if (c == nullptr) {
    throw Error(Errc::kUnavailable,
                "libvirt: cannot connect to " + uri + ": " + LastErrorMessage());
  }
  return ConnPtr(c);
}

// nullptr when the hypervisor has no such domain; throws on any other failure.
DomainPtr LookupByUuid(virConnectPtr conn, const std::string& uuid) {
  virDomainPtr d = virDomainLookupByUUIDString(conn, uuid.c_str());
  if (d == nullptr) {
    if (LastErrorCode() == VIR_ERR_NO_DOMAIN) return nullptr;
    if (LastErrorCode() == VIR_ERR_INVALID_ARG) {
      throw Error(Errc::kBadRequest, "libvirt: not a uuid: '" + uuid + "'");
    }
    ThrowLibvirt("looking up domain " + uuid);
  }
  return DomainPtr(d);
}

wire::PowerState ToPowerState(int state) {
  switch (state) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
      return wire::PowerState::kRunning;
    case VIR_DOMAIN_PAUSED:
      return wire::PowerState::kPaused;
    case VIR_DOMAIN_SHUTDOWN:
    case VIR_DOMAIN_SHUTOFF:
      return wire::PowerState::kShutdown;
    case VIR_DOMAIN_CRASHED:
      return wire::PowerState::kCrashed;
    case VIR_DOMAIN_PMSUSPENDED:
      return wire::PowerState::kSuspended;
    default:
      return wire::PowerState::kNoState;
  }
}

struct DomState {
  int state = VIR_DOMAIN_NOSTATE;
  int reason = 0;
};

DomState GetState(virDomainPtr d, const std::string& what) {
  DomState s;
  if (virDomainGetState(d, &s.state, &s.reason, 0) < 0) ThrowLibvirt("state of " + what);
  return s;
}

wire::Domain Describe(virDomainPtr d) {
  wire::Domain out;
  char uuid[VIR_UUID_STRING_BUFLEN];
  if (virDomainGetUUIDString(d, uuid) < 0) ThrowLibvirt("domain uuid");
  out.uuid = uuid;
  const char* name = virDomainGetName(d);
  out.name = name ? name : "";
  virDomainInfo info;
  if (virDomainGetInfo(d, &info) < 0) ThrowLibvirt("info of domain " + out.uuid);
  out.vcpus = static_cast<int>(info.nrVirtCpu);
  out.memory_mb = static_cast<int64_t>(info.maxMem) / kKiB;
  out.power_state = ToPowerState(info.state);
  return out;
}

bool IsActive(virDomainPtr d, const std::string& what) {
  int r = virDomainIsActive(d);
  if (r < 0) ThrowLibvirt("is domain " + what + " active");
  return r == 1;
}

// Destroy (if running) and undefine; success when it is already gone.
void DestroyAndUndefine(virDomainPtr d, const std::string& uuid) {
  if (virDomainDestroy(d) < 0) {
    int code = LastErrorCode();
    if (code == VIR_ERR_NO_DOMAIN) return;
    if (code != VIR_ERR_OPERATION_INVALID) ThrowLibvirt("destroying domain " + uuid);
  }
  unsigned flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                   VIR_DOMAIN_UNDEFINE_NVRAM;
  if (virDomainUndefineFlags(d, flags) < 0) {
    int code = LastErrorCode();
    // Transient domains vanish on destroy; "not persistent" is the same outcome.
    if (code == VIR_ERR_NO_DOMAIN || code == VIR_ERR_OPERATION_INVALID) return;
    ThrowLibvirt("undefining domain " + uuid);
  }
}

std::string DomainXml(const LibvirtConfig& c, const wire::Domain& d) {
  pugi::xml_document doc;
  auto dom = doc.append_child("domain");
  dom.append_attribute("type") = c.domain_type.c_str();
  dom.append_child("name").text() = d.name.c_str();
  dom.append_child("uuid").text() = d.uuid.c_str();
  auto mem = dom.append_child("memory");
  mem.append_attribute("unit") = "MiB";
  mem.text() = static_cast<long long>(d.memory_mb);
  dom.append_child("vcpu").text() = d.vcpus;
  auto os = dom.append_child("os");
  auto type = os.append_child("type");
  type.append_attribute("arch") = "x86_64";
  type.append_attribute("machine") = "pc";
  type.text() = "hvm";
  os.append_child("kernel").text() = c.guest_kernel.c_str();
  if (!c.guest_cmdline.empty()) os.append_child("cmdline").text() = c.guest_cmdline.c_str();
  dom.append_child("clock").append_attribute("offset") = "utc";
  dom.append_child("on_poweroff").text() = "destroy";
  dom.append_child("on_reboot").text() = "restart";
  dom.append_child("on_crash").text() = "destroy";
  auto dev = dom.append_child("devices");
  auto usb = dev.append_child("controller");
  usb.append_attribute("type") = "usb";
  usb.append_attribute("model") = "none";
  auto serial = dev.append_child("serial");
  serial.append_attribute("type") = "file";
  auto src = serial.append_child("source");
  src.append_attribute("path") = (c.serial_dir + "/" + d.name + ".log").c_str();
  src.append_attribute("append") = "on";
  serial.append_child("target").append_attribute("port") = 0;
  dev.append_child("memballoon").append_attribute("model") = "none";
  std::ostringstream out;
  doc.save(out, "  ");
  return out.str();
}

std::string FormatMigrationUri(const std::string& address) {
  if (address.find(':') != std::string::npos && address.front() != '[') {
    return "tcp://[" + address + "]";
  }
  return "tcp://" + address;
}

std::string PeerUri(const std::string& tmpl, const std::string& host) {
  std::string out = tmpl;
  const std::string key = "{host}";
  if (auto pos = out.find(key); pos != std::string::npos) out.replace(pos, key.size(), host);
  return out;
}

class TypedParams {
 public:
  ~TypedParams() { virTypedParamsFree(params_, n_); }
  void String(const char* key, const std::string& value) {
    if (virTypedParamsAddString(&params_, &n_, &max_, key, value.c_str()) < 0) {
      ThrowLibvirt(std::string("migration parameter ") + key);
    }
  }
  void ULLong(const char* key, unsigned long long value) {
    if (virTypedParamsAddULLong(&params_, &n_, &max_, key, value) < 0) {
      ThrowLibvirt(std::string("migration parameter ") + key);
    }
  }
  virTypedParameterPtr params() { return params_; }
  int size() const { return n_; }

 private:
  virTypedParameterPtr params_ = nullptr;
  int n_ = 0;
  int max_ = 0;
};

int64_t ParamULL(virTypedParameterPtr params, int n, const char* key) {
  unsigned long long v = 0;
  if (virTypedParamsGetULLong(params, n, key, &v) == 1) return static_cast<int64_t>(v);
  return 0;
}

}  // namespace

// One outgoing live migration, from the source's point of view.
struct Job {
  wire::LiveMigrationSpec spec;
  wire::LiveMigrationJob last;  // the latest sample; the outcome once ended
  bool ended = false;
  bool abort_requested = false;
  bool forcing = false;
  bool post_copy = false;   // started with VIR_MIGRATE_POSTCOPY
  bool final_read = false;  // the ended state was returned by LiveMigrationJobStats
  std::thread thread;
};

struct LibvirtDriver::Impl {
  LibvirtConfig config;
  std::mutex conn_mu;
  ConnPtr conn;  // control connection; reopened when it dies
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::shared_ptr<Job>> jobs;  // by migration uuid

  virConnectPtr Conn() {
    std::lock_guard lock(conn_mu);
    if (!conn || virConnectIsAlive(conn.get()) != 1) conn = Connect(config.uri);
    return conn.get();
  }

  void RunMigration(const std::shared_ptr<Job>& job);
  void EndJob(const std::shared_ptr<Job>& job, const std::string& state, const std::string& error);
  std::optional<wire::LiveMigrationJob> Sample(const std::shared_ptr<Job>& job);
};

LibvirtDriver::LibvirtDriver(LibvirtConfig config) : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  impl_->Conn();
}

LibvirtDriver::~LibvirtDriver() {
  std::vector<std::shared_ptr<Job>> all;
  {
    std::lock_guard lock(impl_->mu);
    for (auto& [id, job] : impl_->jobs) all.push_back(job);
  }
  for (auto& job : all) {
    if (job->thread.joinable()) job->thread.join();
  }
}

DriverInfo LibvirtDriver::Info() {
  virConnectPtr c = impl_->Conn();
  DriverInfo info;
  info.hypervisor_type = "QEMU";
  unsigned long version = 0;  // libvirt's encoding is Nova's: major*1e6 + minor*1e3 + micro
  if (virConnectGetVersion(c, &version) < 0) ThrowLibvirt("hypervisor version");
  info.hypervisor_version = static_cast<int64_t>(version);
  virNodeInfo node;
  if (virNodeGetInfo(c, &node) < 0) ThrowLibvirt("node info");
  info.vcpus = static_cast<int>(node.cpus);
  info.memory_mb = static_cast<int64_t>(node.memory) / kKiB;

  char* caps = virConnectGetCapabilities(c);
  if (caps == nullptr) ThrowLibvirt("capabilities");
  pugi::xml_document doc;
  auto parsed = doc.load_string(caps);
  free(caps);  // NOLINT: libvirt allocates with malloc
  if (!parsed) throw Error(Errc::kInternal, "libvirt: unparsable capabilities XML");
  auto cpu = doc.child("capabilities").child("host").child("cpu");
  info.cpu.arch = cpu.child_value("arch");
  info.cpu.vendor = cpu.child_value("vendor");
  info.cpu.model = cpu.child_value("model");
  for (auto f : cpu.children("feature"))
    info.cpu.features.emplace_back(f.attribute("name").value());

  struct statvfs fs {};
  if (statvfs(impl_->config.images_dir.c_str(), &fs) == 0) {
    info.local_gb = static_cast<int64_t>(fs.f_blocks) * static_cast<int64_t>(fs.f_frsize) / kGiB;
  } else {
    spdlog::warn("libvirt: cannot statvfs images dir {}", impl_->config.images_dir);
  }
  if (!impl_->config.shared_dir.empty()) {
    struct statvfs sfs {};
    if (statvfs(impl_->config.shared_dir.c_str(), &sfs) != 0) {
      throw Error(Errc::kInternal,
                  "libvirt: cannot statvfs shared dir " + impl_->config.shared_dir);
    }
    int64_t block = static_cast<int64_t>(sfs.f_frsize);
    info.datastores.push_back(wire::Datastore{impl_->config.shared_dir, "shared",
                                              static_cast<int64_t>(sfs.f_blocks) * block / kGiB,
                                              static_cast<int64_t>(sfs.f_bavail) * block / kGiB});
  }
  return info;
}

std::vector<wire::Domain> LibvirtDriver::ListDomains() {
  virConnectPtr c = impl_->Conn();
  virDomainPtr* doms = nullptr;
  int n = virConnectListAllDomains(c, &doms, 0);
  if (n < 0) ThrowLibvirt("listing domains");
  std::vector<DomainPtr> owned;
  for (int i = 0; i < n; ++i) owned.emplace_back(doms[i]);
  free(doms);  // NOLINT: libvirt allocates with malloc
  std::vector<wire::Domain> out;
  for (auto& d : owned) {
    // A domain can vanish between list and describe (a migration ending): skip only that.
    try {
      out.push_back(Describe(d.get()));
    } catch (const Error& e) {
      if (e.code() != Errc::kNotFound) throw;
    }
  }
  return out;
}

wire::Domain LibvirtDriver::CreateDomain(const wire::Domain& domain) {
  const auto& cfg = impl_->config;
  if (domain.uuid.empty() || domain.name.empty() || domain.vcpus <= 0 || domain.memory_mb <= 0) {
    throw Error(Errc::kBadRequest, "libvirt: a domain needs uuid, name, vcpus > 0, memory_mb > 0");
  }
  if (domain.disk_gb > 0) {
    throw Error(Errc::kBadRequest,
                "libvirt: domains with a disk are not supported yet (disk_gb must be 0)");
  }
  if (cfg.guest_kernel.empty()) {
    throw Error(Errc::kBadRequest,
                "libvirt: no guest image: start the agent with --libvirt-guest-kernel");
  }
  virConnectPtr c = impl_->Conn();
  DomainPtr d = LookupByUuid(c, domain.uuid);
  if (!d) {
    virDomainPtr by_name = virDomainLookupByName(c, domain.name.c_str());
    if (by_name != nullptr) {
      virDomainFree(by_name);
      throw Error(Errc::kConflict,
                  "libvirt: a domain named '" + domain.name + "' already exists with another uuid");
    }
    std::string xml = DomainXml(cfg, domain);
    virDomainPtr defined = virDomainDefineXML(c, xml.c_str());
    if (defined == nullptr) ThrowLibvirt("defining domain " + domain.uuid);
    d.reset(defined);
  }
  wire::Domain have = Describe(d.get());
  if (have.name != domain.name || have.vcpus != domain.vcpus ||
      have.memory_mb != domain.memory_mb) {
    throw Error(Errc::kConflict, "libvirt: domain " + domain.uuid + " exists as " + have.name +
                                     " (" + std::to_string(have.vcpus) + " vCPUs, " +
                                     std::to_string(have.memory_mb) + " MB), not as requested");
  }
  if (!IsActive(d.get(), domain.uuid)) {
    // A concurrent create may have started it first: "already running" is success.
    if (virDomainCreate(d.get()) < 0 && !IsActive(d.get(), domain.uuid)) {
      ThrowLibvirt("starting domain " + domain.uuid);
    }
  }
  return Describe(d.get());
}

void LibvirtDriver::DeleteDomain(const std::string& uuid) {
  DomainPtr d = LookupByUuid(impl_->Conn(), uuid);
  if (!d) return;
  DestroyAndUndefine(d.get(), uuid);
}

// ---- live migration: destination ------------------------------------------------------------

void LibvirtDriver::CheckLiveMigrationDestination(const wire::LiveMigrationSpec& spec) {
  virConnectPtr c = impl_->Conn();
  if (LookupByUuid(c, spec.domain.uuid)) {
    throw Error(Errc::kConflict,
                "libvirt: domain " + spec.domain.uuid + " already exists on this host");
  }
  virNodeInfo node;
  if (virNodeGetInfo(c, &node) < 0) ThrowLibvirt("node info");
  if (spec.domain.vcpus > static_cast<int>(node.cpus)) {
    throw Error(Errc::kConflict, "libvirt: guest has " + std::to_string(spec.domain.vcpus) +
                                     " vCPUs, this host " + std::to_string(node.cpus));
  }
  unsigned long long free_bytes = virNodeGetFreeMemory(c);
  if (free_bytes == 0) ThrowLibvirt("free memory");
  if (static_cast<unsigned long long>(spec.domain.memory_mb) * kMiB > free_bytes) {
    throw Error(Errc::kConflict, "libvirt: guest needs " + std::to_string(spec.domain.memory_mb) +
                                     " MB, this host has " + std::to_string(free_bytes / kMiB) +
                                     " MB free");
  }
  // CPU: guests are defined without a host-model/passthrough <cpu>, i.e. QEMU's default named
  // model, which every x86_64 QEMU host runs; a virConnectCompareCPU against the source is only
  // needed once guests get host-model CPUs.
  if (impl_->config.migration_address.empty()) {
    throw Error(Errc::kConflict, "libvirt: this host has no --migration-address");
  }
}

std::string LibvirtDriver::PrepareLiveMigrationDestination(const wire::LiveMigrationSpec& spec) {
  // libvirt creates the incoming (paused) domain itself when the source's libvirtd calls in
  // (peer-to-peer); there is no disk to pre-create while guests have none (CreateDomain).
  (void)spec;
  if (impl_->config.migration_address.empty()) {
    throw Error(Errc::kConflict, "libvirt: this host has no --migration-address");
  }
  return FormatMigrationUri(impl_->config.migration_address);
}

wire::Domain LibvirtDriver::FinishLiveMigrationDestination(const wire::LiveMigrationSpec& spec) {
  DomainPtr d = LookupByUuid(impl_->Conn(), spec.domain.uuid);
  if (!d) {
    throw Error(Errc::kConflict,
                "libvirt: domain " + spec.domain.uuid + " has not arrived on this host");
  }
  DomState s = GetState(d.get(), spec.domain.uuid);
  if ((s.state == VIR_DOMAIN_PAUSED && s.reason == VIR_DOMAIN_PAUSED_MIGRATION) ||
      virDomainIsPersistent(d.get()) != 1) {
    throw Error(Errc::kConflict,
                "libvirt: domain " + spec.domain.uuid + " is still arriving (incoming migration)");
  }
  if (s.state == VIR_DOMAIN_PAUSED) {
    if (virDomainResume(d.get()) < 0) ThrowLibvirt("resuming domain " + spec.domain.uuid);
  }
  return Describe(d.get());
}

void LibvirtDriver::RollbackLiveMigrationDestination(const wire::LiveMigrationSpec& spec) {
  DomainPtr d = LookupByUuid(impl_->Conn(), spec.domain.uuid);
  if (!d) return;  // libvirt removes a failed incoming domain itself
  DomState s = GetState(d.get(), spec.domain.uuid);
  bool incoming = s.state == VIR_DOMAIN_PAUSED && s.reason == VIR_DOMAIN_PAUSED_MIGRATION;
  if (!incoming && s.state != VIR_DOMAIN_SHUTOFF) {
    throw Error(Errc::kConflict,
                "libvirt: domain " + spec.domain.uuid + " has switched over and runs on this host");
  }
  DestroyAndUndefine(d.get(), spec.domain.uuid);
}

// ---- live migration: source -----------------------------------------------------------------

void LibvirtDriver::Impl::EndJob(const std::shared_ptr<Job>& job, const std::string& state,
                                 const std::string& error) {
  std::lock_guard lock(mu);
  job->ended = true;
  job->last.state = state;
  job->last.phase = "done";
  job->last.error = error;
  if (state == "completed") {
    job->last.memory_processed = std::max(job->last.memory_processed, job->last.memory_total);
    job->last.memory_remaining = 0;
    job->last.disk_remaining = 0;
  }
  job->last.sampled_at = EpochSeconds();
  cv.notify_all();
}

void LibvirtDriver::Impl::RunMigration(const std::shared_ptr<Job>& job) {
  const auto& spec = job->spec;
  try {
    ConnPtr own = Connect(config.uri);  // never the control connection (see the header)
    DomainPtr d = LookupByUuid(own.get(), spec.domain.uuid);
    if (!d)
      throw Error(Errc::kNotFound, "libvirt: no domain " + spec.domain.uuid + " on this host");
    TypedParams params;
    std::string uri = spec.incoming_uri.empty() ? FormatMigrationUri(spec.dest_migration_address)
                                                : spec.incoming_uri;
    params.String(VIR_MIGRATE_PARAM_URI, uri);
    if (spec.bandwidth_mibps > 0) {
      params.ULLong(VIR_MIGRATE_PARAM_BANDWIDTH,
                    static_cast<unsigned long long>(spec.bandwidth_mibps));
    }
    unsigned long flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST |
                          VIR_MIGRATE_UNDEFINE_SOURCE;
    if (spec.permit_auto_converge) flags |= VIR_MIGRATE_AUTO_CONVERGE;
    if (spec.permit_post_copy) flags |= VIR_MIGRATE_POSTCOPY;
    if (spec.block_migration) flags |= VIR_MIGRATE_NON_SHARED_DISK;
    // A shared directory that is not a network filesystem is not shared storage to libvirt.
    if (!config.shared_dir.empty() && !spec.block_migration) flags |= VIR_MIGRATE_UNSAFE;
    std::string dest = PeerUri(config.peer_uri_template, spec.dest_host);
    {
      std::lock_guard lock(mu);
      if (job->abort_requested) {
        job->ended = true;
        job->last.state = "cancelled";
        job->last.phase = "done";
        cv.notify_all();
        return;
      }
    }
    spdlog::info("libvirt: migrating {} to {} over {} (flags {:#x})", spec.domain.uuid, dest, uri,
                 flags);
    int rc = virDomainMigrateToURI3(d.get(), dest.c_str(), params.params(), params.size(),
                                    static_cast<unsigned int>(flags));
    if (rc == 0) {
      spdlog::info("libvirt: migration {} completed", spec.migration_uuid);
      EndJob(job, "completed", "");
      return;
    }
    int code = LastErrorCode();
    std::string message = LastErrorMessage();
    bool aborted;
    {
      std::lock_guard lock(mu);
      aborted = job->abort_requested;
    }
    if (code == VIR_ERR_OPERATION_ABORTED || aborted) {
      spdlog::info("libvirt: migration {} cancelled: {}", spec.migration_uuid, message);
      EndJob(job, "cancelled", "");
    } else {
      spdlog::warn("libvirt: migration {} failed: {}", spec.migration_uuid, message);
      EndJob(job, "failed", "libvirt: migration failed: " + message);
    }
  } catch (const std::exception& e) {
    spdlog::warn("libvirt: migration {} failed: {}", spec.migration_uuid, e.what());
    EndJob(job, "failed", e.what());
  }
}

void LibvirtDriver::StartLiveMigration(const wire::LiveMigrationSpec& spec) {
  if (spec.migration_uuid.empty() || spec.domain.uuid.empty() || spec.dest_host.empty()) {
    throw Error(Errc::kBadRequest,
                "libvirt: a live migration needs migration_uuid, domain.uuid and dest_host");
  }
  if (spec.incoming_uri.empty() && spec.dest_migration_address.empty()) {
    throw Error(Errc::kBadRequest, "libvirt: no incoming_uri (prepare the destination first)");
  }
  if (!LookupByUuid(impl_->Conn(), spec.domain.uuid)) {
    throw Error(Errc::kConflict, "libvirt: domain " + spec.domain.uuid + " is not on this host");
  }
  std::lock_guard lock(impl_->mu);
  if (impl_->jobs.count(spec.migration_uuid)) return;  // running or ended (or aborted early)
  auto job = std::make_shared<Job>();
  job->spec = spec;
  job->post_copy = spec.permit_post_copy;
  job->last.migration_uuid = spec.migration_uuid;
  job->last.domain_uuid = spec.domain.uuid;
  job->last.state = "running";
  job->last.phase = "precopy";
  job->last.sampled_at = EpochSeconds();
  impl_->jobs[spec.migration_uuid] = job;
  job->thread = std::thread([impl = impl_.get(), job] { impl->RunMigration(job); });
}

// Reads QEMU's job through the control connection; the last sample when there is none (not
// started yet, or just ended).
std::optional<wire::LiveMigrationJob> LibvirtDriver::Impl::Sample(const std::shared_ptr<Job>& job) {
  std::string domain_uuid;
  {
    std::lock_guard lock(mu);
    if (job->ended) {
      job->final_read = true;
      return job->last;
    }
    domain_uuid = job->spec.domain.uuid;
  }
  DomainPtr d = LookupByUuid(Conn(), domain_uuid);
  int type = VIR_DOMAIN_JOB_NONE;
  virTypedParameterPtr params = nullptr;
  int n = 0;
  bool have = d && virDomainGetJobStats(d.get(), &type, &params, &n, 0) == 0;
  std::lock_guard lock(mu);
  if (have && type != VIR_DOMAIN_JOB_NONE && !job->ended) {
    auto& j = job->last;
    j.memory_total = ParamULL(params, n, VIR_DOMAIN_JOB_MEMORY_TOTAL);
    j.memory_processed = ParamULL(params, n, VIR_DOMAIN_JOB_MEMORY_PROCESSED);
    j.memory_remaining = ParamULL(params, n, VIR_DOMAIN_JOB_MEMORY_REMAINING);
    j.disk_total = ParamULL(params, n, VIR_DOMAIN_JOB_DISK_TOTAL);
    j.disk_processed = ParamULL(params, n, VIR_DOMAIN_JOB_DISK_PROCESSED);
    j.disk_remaining = ParamULL(params, n, VIR_DOMAIN_JOB_DISK_REMAINING);
    j.transfer_rate_bps = ParamULL(params, n, VIR_DOMAIN_JOB_MEMORY_BPS);
    int64_t page = ParamULL(params, n, VIR_DOMAIN_JOB_MEMORY_PAGE_SIZE);
    j.dirty_rate_bps =
        ParamULL(params, n, VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE) * (page > 0 ? page : 4096);
    j.iteration = static_cast<int>(ParamULL(params, n, VIR_DOMAIN_JOB_MEMORY_ITERATION));
    j.downtime_ms = ParamULL(params, n, VIR_DOMAIN_JOB_DOWNTIME);
    int throttle = 0;
    if (virTypedParamsGetInt(params, n, VIR_DOMAIN_JOB_AUTO_CONVERGE_THROTTLE, &throttle) == 1) {
      j.throttle_percent = throttle;
    }
    j.phase = job->forcing ? (job->post_copy ? "postcopy" : "paused") : "precopy";
    j.sampled_at = EpochSeconds();
  }
  if (params != nullptr) virTypedParamsFree(params, n);
  if (job->ended) job->final_read = true;
  return job->last;
}

std::optional<wire::LiveMigrationJob> LibvirtDriver::LiveMigrationJobStats(
    const std::string& migration_uuid) {
  std::shared_ptr<Job> job;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->jobs.find(migration_uuid);
    if (it == impl_->jobs.end()) return std::nullopt;
    job = it->second;
  }
  return impl_->Sample(job);
}

std::vector<wire::LiveMigrationJob> LibvirtDriver::LiveMigrationJobsToReport() {
  std::vector<std::shared_ptr<Job>> pending;
  {
    std::lock_guard lock(impl_->mu);
    for (auto& [id, job] : impl_->jobs) {
      if (!job->ended || !job->final_read) pending.push_back(job);
    }
  }
  std::vector<wire::LiveMigrationJob> out;
  for (auto& job : pending) {
    if (auto j = impl_->Sample(job)) out.push_back(*j);
  }
  return out;
}

void LibvirtDriver::AbortLiveMigration(const std::string& migration_uuid) {
  std::shared_ptr<Job> job;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->jobs.find(migration_uuid);
    if (it == impl_->jobs.end()) {
      // Not started: recorded as cancelled, so a late start does nothing.
      auto j = std::make_shared<Job>();
      j->spec.migration_uuid = migration_uuid;
      j->last.migration_uuid = migration_uuid;
      j->last.state = "cancelled";
      j->last.phase = "done";
      j->ended = true;
      j->last.sampled_at = EpochSeconds();
      impl_->jobs[migration_uuid] = j;
      return;
    }
    job = it->second;
    if (job->ended) {
      if (job->last.state == "completed") {
        throw Error(Errc::kConflict, "libvirt: migration " + migration_uuid + " has completed");
      }
      return;
    }
    job->abort_requested = true;
  }
  auto retry_until = std::chrono::steady_clock::now() + kAbortRetry;
  for (;;) {
    {
      std::lock_guard lock(impl_->mu);
      if (job->ended) break;
    }
    DomainPtr d = LookupByUuid(impl_->Conn(), job->spec.domain.uuid);
    if (!d) break;  // moved already: the job thread reports how it ended
    if (virDomainAbortJob(d.get()) == 0) break;
    // "no job is active": QEMU's job has not begun yet (or just ended); try again shortly.
    if (LastErrorCode() != VIR_ERR_OPERATION_INVALID ||
        std::chrono::steady_clock::now() > retry_until) {
      ThrowLibvirt("aborting the migration job of " + job->spec.domain.uuid);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait_for(lock, kAbortWait, [&] { return job->ended; });
  if (job->ended && job->last.state == "completed") {
    throw Error(Errc::kConflict,
                "libvirt: migration " + migration_uuid + " completed before the abort");
  }
}

void LibvirtDriver::ForceCompleteLiveMigration(const std::string& migration_uuid,
                                               bool permit_post_copy) {
  std::shared_ptr<Job> job;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->jobs.find(migration_uuid);
    if (it == impl_->jobs.end()) {
      throw Error(Errc::kNotFound, "libvirt: no migration " + migration_uuid + " on this host");
    }
    job = it->second;
    if (job->ended) {
      if (job->last.state == "completed") return;
      throw Error(Errc::kConflict,
                  "libvirt: migration " + migration_uuid + " has " + job->last.state);
    }
    if (job->forcing) return;
  }
  DomainPtr d = LookupByUuid(impl_->Conn(), job->spec.domain.uuid);
  if (!d) return;  // switched over meanwhile
  bool post_copy = permit_post_copy && job->post_copy;
  if (post_copy) {
    if (virDomainMigrateStartPostCopy(d.get(), 0) < 0) ThrowLibvirt("starting post-copy");
  } else if (virDomainSuspend(d.get()) < 0) {
    ThrowLibvirt("pausing " + job->spec.domain.uuid + " so the copy converges");
  }
  std::lock_guard lock(impl_->mu);
  job->forcing = true;
  job->post_copy = post_copy;
}

void LibvirtDriver::CleanupLiveMigrationSource(const wire::LiveMigrationSpec& spec) {
  DomainPtr d = LookupByUuid(impl_->Conn(), spec.domain.uuid);
  if (!d) return;
  bool completed = false;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->jobs.find(spec.migration_uuid);
    completed =
        it != impl_->jobs.end() && it->second->ended && it->second->last.state == "completed";
  }
  if (!completed && IsActive(d.get(), spec.domain.uuid)) {
    throw Error(Errc::kConflict, "libvirt: domain " + spec.domain.uuid +
                                     " still runs here and its migration has not completed");
  }
  DestroyAndUndefine(d.get(), spec.domain.uuid);
}

}  // namespace ferry::agent::libvirt
