#include "agent/drivers/libvirt/libvirt_storage.hpp"

#include <pugixml.hpp>
#include <sstream>

#include "common/errors.hpp"
#include "common/log.hpp"

namespace ferry::agent::libvirt {
namespace {

std::string Save(const pugi::xml_document& doc) {
  std::ostringstream out;
  doc.save(out, "  ");
  return out.str();
}

std::string PoolXml(const LibvirtConfig& c) {
  pugi::xml_document doc;
  auto pool = doc.append_child("pool");
  pool.append_attribute("type") = "dir";
  pool.append_child("name").text() = c.images_pool_name.c_str();
  pool.append_child("target").append_child("path").text() = c.images_pool_path.c_str();
  return Save(doc);
}

std::string VolumeXml(const std::string& name, int64_t capacity, const std::string& format) {
  pugi::xml_document doc;
  auto vol = doc.append_child("volume");
  vol.append_child("name").text() = name.c_str();
  auto cap = vol.append_child("capacity");
  cap.append_attribute("unit") = "bytes";
  cap.text() = static_cast<long long>(capacity);
  auto alloc = vol.append_child("allocation");  // 0: sparse, nothing written up front
  alloc.append_attribute("unit") = "bytes";
  alloc.text() = 0;
  vol.append_child("target").append_child("format").append_attribute("type") = format.c_str();
  return Save(doc);
}

std::string VolPath(virStorageVolPtr vol) {
  CString path(virStorageVolGetPath(vol));
  if (!path) ThrowLibvirt("path of a storage volume");
  return path.get();
}

}  // namespace

PoolPtr EnsureImagesPool(virConnectPtr conn, const LibvirtConfig& c) {
  PoolPtr pool(virStoragePoolLookupByTargetPath(conn, c.images_pool_path.c_str()));
  if (!pool) {
    std::string xml = PoolXml(c);
    pool.reset(virStoragePoolDefineXML(conn, xml.c_str(), 0));
    // Another agent thread (or an operator) may have defined it meanwhile.
    if (!pool)
      pool.reset(Timed("virStoragePoolLookupByName", [&] {
        return virStoragePoolLookupByName(conn, c.images_pool_name.c_str());
      }));
    if (!pool)
      ThrowLibvirt("defining storage pool " + c.images_pool_name + " on " + c.images_pool_path);
    if (virStoragePoolBuild(pool.get(), 0) < 0) {  // mkdir -p; fine when it exists
      spdlog::debug("libvirt: building pool on {}: {}", c.images_pool_path, LastErrorMessage());
    }
    virStoragePoolSetAutostart(pool.get(), 1);
    spdlog::info("libvirt: defined storage pool {} on {}", c.images_pool_name, c.images_pool_path);
  }
  if (virStoragePoolIsActive(pool.get()) != 1 && virStoragePoolCreate(pool.get(), 0) < 0 &&
      virStoragePoolIsActive(pool.get()) != 1) {
    ThrowLibvirt("starting storage pool on " + c.images_pool_path);
  }
  return pool;
}

void RefreshPool(virStoragePoolPtr pool) {
  if (virStoragePoolRefresh(pool, 0) < 0) {
    spdlog::debug("libvirt: pool refresh: {}", LastErrorMessage());
  }
}

std::string EnsureVolume(virStoragePoolPtr pool, const std::string& name, int64_t capacity_bytes,
                         const std::string& format, bool* created) {
  if (created != nullptr) *created = false;
  RefreshPool(pool);
  VolPtr vol(virStorageVolLookupByName(pool, name.c_str()));
  if (!vol) {
    std::string xml = VolumeXml(name, capacity_bytes, format);
    vol.reset(Timed("virStorageVolCreateXML",
                    [&] { return virStorageVolCreateXML(pool, xml.c_str(), 0); }));
    const bool made_here = vol != nullptr;
    if (!vol && LastErrorCode() == VIR_ERR_STORAGE_VOL_EXIST) {  // someone else's, just now
      vol.reset(virStorageVolLookupByName(pool, name.c_str()));
    }
    if (!vol) ThrowLibvirt("creating volume " + name);
    if (created != nullptr) *created = made_here;
    return VolPath(vol.get());
  }
  virStorageVolInfo info;
  if (virStorageVolGetInfo(vol.get(), &info) < 0) ThrowLibvirt("size of volume " + name);
  if (static_cast<int64_t>(info.capacity) < capacity_bytes) {
    throw Error(Errc::kConflict, "libvirt: volume " + name + " exists with " +
                                     std::to_string(info.capacity) + " bytes, " +
                                     std::to_string(capacity_bytes) + " wanted");
  }
  return VolPath(vol.get());
}

bool DeleteVolumeAt(virStoragePoolPtr pool, const std::string& path) {
  RefreshPool(pool);
  VolPtr vol(virStorageVolLookupByName(pool, BaseName(path).c_str()));
  if (!vol || VolPath(vol.get()) != path) return false;
  if (Timed("virStorageVolDelete", [&] { return virStorageVolDelete(vol.get(), 0); }) < 0) {
    if (LastErrorCode() == VIR_ERR_NO_STORAGE_VOL) return false;
    ThrowLibvirt("deleting volume " + path);
  }
  return true;
}

namespace {

std::vector<VolPtr> ListVolumes(virStoragePoolPtr pool) {
  RefreshPool(pool);
  virStorageVolPtr* vols = nullptr;
  int n = virStoragePoolListAllVolumes(pool, &vols, 0);
  if (n < 0) ThrowLibvirt("listing volumes");
  std::vector<VolPtr> owned;
  for (int i = 0; i < n; ++i) owned.emplace_back(vols[i]);
  free(vols);  // NOLINT: libvirt allocates with malloc
  return owned;
}

}  // namespace

std::vector<std::string> VolumePaths(virStoragePoolPtr pool) {
  std::vector<std::string> out;
  for (auto& vol : ListVolumes(pool)) out.push_back(VolPath(vol.get()));
  return out;
}

std::vector<std::string> DeleteVolumesNamed(virStoragePoolPtr pool, const std::string& prefix) {
  std::vector<std::string> deleted;
  for (auto& vol : ListVolumes(pool)) {
    const char* name = virStorageVolGetName(vol.get());
    if (name == nullptr || std::string(name).rfind(prefix, 0) != 0) continue;
    std::string path = VolPath(vol.get());
    if (Timed("virStorageVolDelete", [&] { return virStorageVolDelete(vol.get(), 0); }) < 0 &&
        LastErrorCode() != VIR_ERR_NO_STORAGE_VOL) {
      ThrowLibvirt("deleting volume " + path);
    }
    deleted.push_back(path);
  }
  return deleted;
}

std::string FerryVolumePrefix(const std::string& domain_uuid) {
  return "ferry-" + domain_uuid + "-";
}
std::string RootVolumeName(const std::string& domain_uuid) {
  return FerryVolumePrefix(domain_uuid) + "vda.qcow2";
}

std::string DirName(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return "";
  return slash == 0 ? "/" : path.substr(0, slash);
}
std::string BaseName(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace ferry::agent::libvirt
