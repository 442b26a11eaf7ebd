#pragma once
// DiskSource, DiskSink and DiskStore over plain files, for drivers with direct access to their
// disk files and for tests. Sparse-aware: holes are found with SEEK_DATA/SEEK_HOLE and are left
// unwritten on the destination, so a thin disk stays thin.
#include <string>

#include "agent/disk_transfer/disk_io.hpp"
#include "agent/disk_transfer/disk_receiver.hpp"

namespace ferry::agent::transfer {

class FileDiskSource final : public DiskSource {
 public:
  // [offset, offset + length) of the file (length -1: to its end); throws Error(kNotFound) when
  // unreadable.
  explicit FileDiskSource(const std::string& path, int64_t offset = 0, int64_t length = -1);
  ~FileDiskSource() override;
  FileDiskSource(const FileDiskSource&) = delete;
  FileDiskSource& operator=(const FileDiskSource&) = delete;
  Piece Next(char* buf, size_t cap) override;

 private:
  std::string path_;
  int fd_;
  int64_t size_;  // where the range ends (the file at open: a powered-off disk does not grow)
  int64_t pos_;
  bool seek_data_ = true;  // false where the file system has no SEEK_DATA: all data then
};

class FileDiskSink final : public DiskSink {
 public:
  FileDiskSink(const std::string& path, int64_t offset);  // the file must exist
  ~FileDiskSink() override;
  FileDiskSink(const FileDiskSink&) = delete;
  FileDiskSink& operator=(const FileDiskSink&) = delete;
  void Write(const char* data, size_t n) override;
  void Skip(int64_t length) override { pos_ += length; }
  void Flush() override;

 private:
  std::string path_;
  int fd_;
  int64_t pos_;
};

// A move's disks as <dir>/<migration uuid>-<target>.img.
class FileDiskStore final : public DiskStore {
 public:
  explicit FileDiskStore(std::string dir);
  std::string PathOf(const std::string& migration_uuid, const std::string& target) const;

  // A new file is created sparse at `bytes`; an existing one of that length is kept; one of
  // another length is kConflict (it is some other transfer's, or a disk that changed).
  void Allocate(const std::string& migration_uuid, const std::string& target,
                int64_t bytes) override;
  std::unique_ptr<DiskSink> OpenSink(const std::string& migration_uuid, const std::string& target,
                                     int64_t offset) override;
  std::unique_ptr<DiskSource> OpenReceived(const std::string& migration_uuid,
                                           const std::string& target, int64_t offset,
                                           int64_t length) override;

 private:
  std::string dir_;
};

}  // namespace ferry::agent::transfer
