#include "agent/drivers/libvirt/libvirt_volume_streams.hpp"

#include <chrono>
#include <thread>

#include "agent/drivers/libvirt/libvirt_storage.hpp"
#include "common/errors.hpp"
#include "common/log.hpp"

namespace ferry::agent::libvirt {
namespace {

struct StreamFreer {
  void operator()(virStreamPtr s) const { virStreamFree(s); }
};
using StreamPtr = std::unique_ptr<virStream, StreamFreer>;

// libvirt refuses to start a stream on a volume while another stream of it is being set up
// ("volume ... is still in use": a moment, counted only around the setup). The destination
// reads back what it flushed while it writes on: the two may meet; try again briefly.
template <typename Start>
bool StartStream(Start start) {
  for (int attempt = 0;; ++attempt) {
    if (start() == 0) return true;
    if (LastErrorCode() != VIR_ERR_OPERATION_INVALID || attempt >= 100) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

VolPtr VolumeAtPath(virConnectPtr conn, const std::string& path) {
  VolPtr vol(virStorageVolLookupByPath(conn, path.c_str()));
  if (!vol) ThrowLibvirt("the storage volume at " + path + " (a disk outside libvirt's pools)");
  return vol;
}

// Sequential sparse read of a volume, on a connection of its own (a stream holds it busy).
class VolumeSource final : public transfer::DiskSource {
 public:
  VolumeSource(const std::string& uri, const std::string& path, int64_t offset, int64_t length)
      : path_(path), conn_(Connect(uri)), vol_(VolumeAtPath(conn_.get(), path)) {
    stream_.reset(virStreamNew(conn_.get(), 0));
    if (!stream_) ThrowLibvirt("a stream to read " + path);
    if (!StartStream([&] {
          return Timed("virStorageVolDownload", [&] {
            return virStorageVolDownload(
                vol_.get(), stream_.get(), static_cast<unsigned long long>(offset),
                static_cast<unsigned long long>(length), VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM);
          });
        })) {
      ThrowLibvirt("reading volume " + path);
    }
  }
  ~VolumeSource() override {
    if (!finished_) virStreamAbort(stream_.get());
  }

  transfer::Piece Next(char* buf, size_t cap) override {
    using K = transfer::Piece::Kind;
    if (finished_) return {K::kEnd, 0};
    const int got = virStreamRecvFlags(stream_.get(), buf, cap, VIR_STREAM_RECV_STOP_AT_HOLE);
    if (got > 0) return {K::kData, got};
    if (got == 0) {
      finished_ = true;
      if (virStreamFinish(stream_.get()) < 0) ThrowLibvirt("finishing the read of " + path_);
      return {K::kEnd, 0};
    }
    if (got == -3) {
      long long hole = 0;
      if (virStreamRecvHole(stream_.get(), &hole, 0) < 0) ThrowLibvirt("a hole of " + path_);
      return {K::kHole, hole};
    }
    ThrowLibvirt("reading volume " + path_);
  }

 private:
  const std::string path_;
  ConnPtr conn_;
  VolPtr vol_;
  StreamPtr stream_;
  bool finished_ = false;
};

// Sequential sparse write into a volume from an offset. Each Flush finishes the current upload
// (libvirt has written what it got) and the next write starts another at the offset reached.
class VolumeSink final : public transfer::DiskSink {
 public:
  VolumeSink(const std::string& uri, const std::string& path, int64_t offset)
      : path_(path), offset_(offset), conn_(Connect(uri)), vol_(VolumeAtPath(conn_.get(), path)) {}
  ~VolumeSink() override {
    if (stream_) virStreamAbort(stream_.get());
  }

  void Write(const char* data, size_t n) override {
    Begin();
    while (n > 0) {
      const int sent = virStreamSend(stream_.get(), data, n);
      if (sent <= 0) Fail("writing");
      data += sent;
      n -= static_cast<size_t>(sent);
      offset_ += sent;
    }
  }
  void Skip(int64_t length) override {
    Begin();
    if (virStreamSendHole(stream_.get(), length, 0) < 0) Fail("a hole of");
    offset_ += length;
  }
  void Flush() override {
    if (!stream_) return;
    const int rc = virStreamFinish(stream_.get());
    stream_.reset();
    if (rc < 0) ThrowLibvirt("finishing the write of " + path_);
  }

 private:
  void Begin() {
    if (stream_) return;
    stream_.reset(virStreamNew(conn_.get(), 0));
    if (!stream_) ThrowLibvirt("a stream to write " + path_);
    if (!StartStream([&] {
          return Timed("virStorageVolUpload", [&] {
            return virStorageVolUpload(vol_.get(), stream_.get(),
                                       static_cast<unsigned long long>(offset_), 0,
                                       VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM);
          });
        })) {
      stream_.reset();
      ThrowLibvirt("writing volume " + path_ + " at " + std::to_string(offset_));
    }
  }
  [[noreturn]] void Fail(const std::string& what) {
    virStreamAbort(stream_.get());
    stream_.reset();
    ThrowLibvirt(what + " volume " + path_);
  }

  const std::string path_;
  int64_t offset_;
  ConnPtr conn_;
  VolPtr vol_;
  StreamPtr stream_;
};

// Nothing to read.
class EmptySource final : public transfer::DiskSource {
 public:
  transfer::Piece Next(char*, size_t) override { return {transfer::Piece::Kind::kEnd, 0}; }
};

}  // namespace

int64_t VolumePhysicalBytes(virStorageVolPtr vol, const std::string& what) {
  virStorageVolInfo info{};
  // With GET_PHYSICAL, `allocation` is the file's length (what a download yields).
  if (virStorageVolGetInfoFlags(vol, &info, VIR_STORAGE_VOL_GET_PHYSICAL) < 0) {
    ThrowLibvirt("the size of " + what);
  }
  return static_cast<int64_t>(info.allocation);
}

std::unique_ptr<transfer::DiskSource> OpenVolumeSource(const std::string& uri,
                                                       const std::string& path, int64_t offset,
                                                       int64_t length) {
  return std::make_unique<VolumeSource>(uri, path, offset, length);
}

std::string ColdVolumeName(const std::string& domain_uuid, const std::string& target) {
  return FerryVolumePrefix(domain_uuid) + target + ".disk";
}

std::string VolumeDiskStore::VolumeNameOf(const std::string& migration_uuid,
                                          const std::string& target) {
  auto record = incoming_.Load(migration_uuid);
  if (!record || record->cold_domain.empty()) {
    throw Error(Errc::kConflict, "cold migration " + migration_uuid + " is not prepared here");
  }
  // The receiver checked the target's form (a short device name) before any storage is asked.
  return ColdVolumeName(record->cold_domain, target);
}

void VolumeDiskStore::Allocate(const std::string& migration_uuid, const std::string& target,
                               int64_t bytes) {
  const std::string name = VolumeNameOf(migration_uuid, target);
  PoolPtr pool = images_pool_();
  RefreshPool(pool.get());
  VolPtr existing(virStorageVolLookupByName(pool.get(), name.c_str()));
  virStoragePoolInfo info{};
  // The source says how long the disk is: taken only when this host has the room (also what
  // bounds the digest check's read-back).
  if (!existing && virStoragePoolGetInfo(pool.get(), &info) == 0 &&
      static_cast<int64_t>(info.available) < bytes) {
    throw Error(Errc::kConflict, "disk " + target + " needs " + std::to_string(bytes >> 20) +
                                     " MiB; the images pool has " +
                                     std::to_string(info.available >> 20) + " MiB free");
  }
  // Raw and sparse, exactly the source's length: the bytes that arrive are the image file as it
  // is on the source (qcow2 or raw), written over it unchanged.
  bool created = false;
  const std::string path = EnsureVolume(pool.get(), name, bytes, "raw", &created);
  if (created)
    spdlog::info("libvirt: migration {}: receiving {} into {}", migration_uuid, target, path);
}

// No pool refresh: the volume was made through libvirt (Allocate), so the pool knows it, and a
// refresh probes every image of the pool (these run at every checkpoint).
std::string VolumeDiskStore::PathOf(const std::string& migration_uuid, const std::string& target) {
  const std::string name = VolumeNameOf(migration_uuid, target);
  PoolPtr pool = images_pool_();
  VolPtr vol(virStorageVolLookupByName(pool.get(), name.c_str()));
  if (!vol) ThrowLibvirt("volume " + name);
  CString path(virStorageVolGetPath(vol.get()));
  if (!path) ThrowLibvirt("path of volume " + name);
  return path.get();
}

std::unique_ptr<transfer::DiskSink> VolumeDiskStore::OpenSink(const std::string& migration_uuid,
                                                              const std::string& target,
                                                              int64_t offset) {
  return std::make_unique<VolumeSink>(config_.uri, PathOf(migration_uuid, target), offset);
}

std::unique_ptr<transfer::DiskSource> VolumeDiskStore::OpenReceived(
    const std::string& migration_uuid, const std::string& target, int64_t offset, int64_t length) {
  if (length == 0) return std::make_unique<EmptySource>();  // 0 would mean "to the end"
  return OpenVolumeSource(config_.uri, PathOf(migration_uuid, target), offset, length);
}

}  // namespace ferry::agent::libvirt
