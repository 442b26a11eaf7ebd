#pragma once
// Small wrappers over the libvirt C API shared by the driver's files: initialisation, errors
// (virErrorPtr -> ferry::Error with a clear message), owning handles, connections, typed
// parameters. Only agent/drivers/libvirt includes this (it includes libvirt).
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "common/metrics/metrics.hpp"

namespace ferry::agent::libvirt {

// ferry_agent_libvirt_call_duration_seconds' series of one libvirt function (its name: a fixed
// set of literals, one per call site below).
metrics::Histogram& CallLatency(const char* call);

// Runs one libvirt API call and observes how long it took (failures included):
//   if (Timed("virDomainCreate", [&] { return virDomainCreate(d); }) < 0) ...
template <typename F>
auto Timed(const char* call, F&& f) {
  metrics::ScopedTimer timer(CallLatency(call));
  return f();
}

constexpr int64_t kKiB = 1024;
constexpr int64_t kMiB = 1024 * 1024;
constexpr int64_t kGiB = kMiB * 1024;

double EpochSeconds();

int LastErrorCode();
std::string LastErrorMessage();
// virErrorPtr -> ferry::Error: what we were doing, then libvirt's own message; the Errc follows
// the error code (unreachable daemon -> kUnavailable, no domain -> kNotFound, ...).
[[noreturn]] void ThrowLibvirt(const std::string& what);

struct ConnCloser {
  void operator()(virConnectPtr c) const { virConnectClose(c); }
};
using ConnPtr = std::unique_ptr<virConnect, ConnCloser>;

struct DomainFreer {
  void operator()(virDomainPtr d) const { virDomainFree(d); }
};
using DomainPtr = std::unique_ptr<virDomain, DomainFreer>;

struct PoolFreer {
  void operator()(virStoragePoolPtr p) const { virStoragePoolFree(p); }
};
using PoolPtr = std::unique_ptr<virStoragePool, PoolFreer>;

struct VolFreer {
  void operator()(virStorageVolPtr v) const { virStorageVolFree(v); }
};
using VolPtr = std::unique_ptr<virStorageVol, VolFreer>;

// libvirt allocates strings with malloc; this owns one.
struct MallocFreer {
  void operator()(char* p) const { free(p); }  // NOLINT
};
using CString = std::unique_ptr<char, MallocFreer>;

ConnPtr Connect(const std::string& uri);

// nullptr when the hypervisor has no such domain; throws on any other failure.
DomainPtr LookupByUuid(virConnectPtr conn, const std::string& uuid);
// Every domain the hypervisor has, running or not, ours or foreign.
std::vector<DomainPtr> AllDomains(virConnectPtr conn);

struct DomState {
  int state = VIR_DOMAIN_NOSTATE;
  int reason = 0;
};
DomState GetState(virDomainPtr d, const std::string& what);
bool IsActive(virDomainPtr d, const std::string& what);
// Paused because post-copy moved its execution away (during post-copy, or after it failed):
// this copy is stale and can never run again on its own.
bool PausedByPostcopy(virDomainPtr d);
// The domain's live XML (the running definition, with the paths as libvirtd sees them).
std::string XmlDesc(virDomainPtr d, const std::string& what);

// Destroy (if running) and undefine; success when it is already gone.
void DestroyAndUndefine(virDomainPtr d, const std::string& uuid);

// "tcp://ADDR" (IPv6 in brackets): VIR_MIGRATE_PARAM_URI towards the inbound address.
std::string FormatMigrationUri(const std::string& address);
// The template with "{host}" replaced by host.
std::string PeerUri(const std::string& tmpl, const std::string& host);

class TypedParams {
 public:
  TypedParams() = default;
  TypedParams(const TypedParams&) = delete;
  TypedParams& operator=(const TypedParams&) = delete;
  ~TypedParams() { virTypedParamsFree(params_, n_); }
  void String(const char* key, const std::string& value);
  void ULLong(const char* key, unsigned long long value);
  virTypedParameterPtr params() { return params_; }
  int size() const { return n_; }

 private:
  virTypedParameterPtr params_ = nullptr;
  int n_ = 0;
  int max_ = 0;
};

// 0 when the key is absent.
int64_t ParamULL(virTypedParameterPtr params, int n, const char* key);

}  // namespace ferry::agent::libvirt
