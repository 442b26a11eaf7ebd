#include "agent/drivers/libvirt/libvirt_util.hpp"

#include <chrono>

#include "common/errors.hpp"

namespace ferry::agent::libvirt {
namespace {

// libvirt prints every error to stderr by default; the driver reports them as ferry::Error.
void SilentErrorHandler(void*, virErrorPtr) {}

struct LibvirtInit {
  LibvirtInit() {
    virInitialize();
    virSetErrorFunc(nullptr, SilentErrorHandler);
  }
};

void EnsureInit() { static LibvirtInit init; }

Errc ErrcOf(virErrorPtr e) {
  switch (e ? e->code : VIR_ERR_OK) {
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_RPC:
    case VIR_ERR_AUTH_FAILED:
    case VIR_ERR_AUTH_UNAVAILABLE:
      return Errc::kUnavailable;
    case VIR_ERR_SYSTEM_ERROR:
      return e->domain == VIR_FROM_RPC || e->domain == VIR_FROM_REMOTE ? Errc::kUnavailable
                                                                       : Errc::kInternal;
    case VIR_ERR_NO_DOMAIN:
    case VIR_ERR_NO_STORAGE_VOL:
    case VIR_ERR_NO_STORAGE_POOL:
      return Errc::kNotFound;
    case VIR_ERR_OPERATION_INVALID:
    case VIR_ERR_DOM_EXIST:
    case VIR_ERR_OPERATION_FAILED:
    case VIR_ERR_CPU_INCOMPATIBLE:
      return Errc::kConflict;
    case VIR_ERR_INVALID_ARG:
    case VIR_ERR_XML_ERROR:
      return Errc::kBadRequest;
    default:
      return Errc::kInternal;
  }
}

}  // namespace

metrics::Histogram& CallLatency(const char* call) {
  // 1 ms to 1 h: most calls answer in milliseconds; virDomainMigrateToURI3 and the storage
  // streams last as long as the copy.
  static auto& h = metrics::DefaultRegistry().AddHistogram(
      "ferry_agent_libvirt_call_duration_seconds",
      "Seconds one libvirt API call took (failed calls included), by function. "
      "virDomainMigrateToURI3 lasts a whole live migration.",
      {"call"},
      {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800,
       3600});
  return h.With({call});
}

double EpochSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int LastErrorCode() {
  virErrorPtr e = virGetLastError();
  return e ? e->code : VIR_ERR_OK;
}

std::string LastErrorMessage() {
  virErrorPtr e = virGetLastError();
  return e && e->message ? e->message : "unknown libvirt error";
}

void ThrowLibvirt(const std::string& what) {
  throw Error(ErrcOf(virGetLastError()), "libvirt: " + what + ": " + LastErrorMessage());
}

ConnPtr Connect(const std::string& uri) {
  EnsureInit();
  virConnectPtr c = Timed("virConnectOpen", [&] { return virConnectOpen(uri.c_str()); });
  if (c == nullptr) {
    throw Error(Errc::kUnavailable,
                "libvirt: cannot connect to " + uri + ": " + LastErrorMessage());
  }
  return ConnPtr(c);
}

DomainPtr LookupByUuid(virConnectPtr conn, const std::string& uuid) {
  virDomainPtr d = Timed("virDomainLookupByUUIDString",
                         [&] { return virDomainLookupByUUIDString(conn, uuid.c_str()); });
  if (d == nullptr) {
    if (LastErrorCode() == VIR_ERR_NO_DOMAIN) return nullptr;
    if (LastErrorCode() == VIR_ERR_INVALID_ARG) {
      throw Error(Errc::kBadRequest, "libvirt: not a uuid: '" + uuid + "'");
    }
    ThrowLibvirt("looking up domain " + uuid);
  }
  return DomainPtr(d);
}

std::vector<DomainPtr> AllDomains(virConnectPtr conn) {
  virDomainPtr* doms = nullptr;
  int n =
      Timed("virConnectListAllDomains", [&] { return virConnectListAllDomains(conn, &doms, 0); });
  if (n < 0) ThrowLibvirt("listing domains");
  std::vector<DomainPtr> owned;
  for (int i = 0; i < n; ++i) owned.emplace_back(doms[i]);
  free(doms);  // NOLINT: libvirt allocates with malloc
  return owned;
}

DomState GetState(virDomainPtr d, const std::string& what) {
  DomState s;
  if (Timed("virDomainGetState", [&] { return virDomainGetState(d, &s.state, &s.reason, 0); }) < 0)
    ThrowLibvirt("state of " + what);
  return s;
}

bool IsActive(virDomainPtr d, const std::string& what) {
  int r = Timed("virDomainIsActive", [&] { return virDomainIsActive(d); });
  if (r < 0) ThrowLibvirt("is domain " + what + " active");
  return r == 1;
}

bool PausedByPostcopy(virDomainPtr d) {
  int state = 0;
  int reason = 0;
  if (Timed("virDomainGetState", [&] { return virDomainGetState(d, &state, &reason, 0); }) != 0)
    return false;
  return state == VIR_DOMAIN_PAUSED &&
         (reason == VIR_DOMAIN_PAUSED_POSTCOPY || reason == VIR_DOMAIN_PAUSED_POSTCOPY_FAILED);
}

std::string XmlDesc(virDomainPtr d, const std::string& what) {
  CString xml(Timed("virDomainGetXMLDesc", [&] { return virDomainGetXMLDesc(d, 0); }));
  if (!xml) ThrowLibvirt("XML of domain " + what);
  return xml.get();
}

void DestroyAndUndefine(virDomainPtr d, const std::string& uuid) {
  if (Timed("virDomainDestroy", [&] { return virDomainDestroy(d); }) < 0) {
    int code = LastErrorCode();
    if (code == VIR_ERR_NO_DOMAIN) return;
    if (code != VIR_ERR_OPERATION_INVALID) ThrowLibvirt("destroying domain " + uuid);
  }
  unsigned flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                   VIR_DOMAIN_UNDEFINE_NVRAM;
  if (Timed("virDomainUndefineFlags", [&] { return virDomainUndefineFlags(d, flags); }) < 0) {
    int code = LastErrorCode();
    // Transient domains vanish on destroy; "not persistent" is the same outcome.
    if (code == VIR_ERR_NO_DOMAIN || code == VIR_ERR_OPERATION_INVALID) return;
    ThrowLibvirt("undefining domain " + uuid);
  }
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

void TypedParams::String(const char* key, const std::string& value) {
  if (virTypedParamsAddString(&params_, &n_, &max_, key, value.c_str()) < 0) {
    ThrowLibvirt(std::string("migration parameter ") + key);
  }
}

void TypedParams::ULLong(const char* key, unsigned long long value) {
  if (virTypedParamsAddULLong(&params_, &n_, &max_, key, value) < 0) {
    ThrowLibvirt(std::string("migration parameter ") + key);
  }
}

int64_t ParamULL(virTypedParameterPtr params, int n, const char* key) {
  unsigned long long v = 0;
  if (virTypedParamsGetULLong(params, n, key, &v) == 1) return static_cast<int64_t>(v);
  return 0;
}

}  // namespace ferry::agent::libvirt
