#include "agent/disk_transfer/file_disk_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "agent/disk_transfer/transfer_protocol.hpp"
#include "common/errors.hpp"
#include "common/uuid.hpp"

namespace ferry::agent::transfer {
namespace {

[[noreturn]] void Fail(Errc code, const std::string& what, const std::string& path) {
  throw Error(code, what + " " + path + ": " + std::strerror(errno));
}

}  // namespace

FileDiskSource::FileDiskSource(const std::string& path, int64_t offset, int64_t length)
    : path_(path), fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)), pos_(offset) {
  if (fd_ < 0) Fail(Errc::kNotFound, "cannot open", path_);
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    ::close(fd_);
    Fail(Errc::kUnavailable, "cannot stat", path_);
  }
  size_ = length < 0 ? st.st_size : std::min<int64_t>(st.st_size, offset + length);
}

FileDiskSource::~FileDiskSource() { ::close(fd_); }

Piece FileDiskSource::Next(char* buf, size_t cap) {
  if (pos_ >= size_ || cap == 0) return {Piece::Kind::kEnd, 0};
  int64_t data_end = size_;
  if (seek_data_) {
    const off_t data = ::lseek(fd_, pos_, SEEK_DATA);
    if (data < 0 && errno == ENXIO) {  // no data after pos_: the rest is a hole
      const int64_t hole = size_ - pos_;
      pos_ = size_;
      return {Piece::Kind::kHole, hole};
    }
    if (data < 0 && errno == EINVAL) {
      seek_data_ = false;
    } else if (data < 0) {
      Fail(Errc::kUnavailable, "cannot seek", path_);
    } else if (data > pos_) {
      const int64_t hole = std::min<int64_t>(data, size_) - pos_;
      pos_ += hole;
      return {Piece::Kind::kHole, hole};
    } else {
      const off_t hole = ::lseek(fd_, pos_, SEEK_HOLE);
      if (hole > pos_) data_end = std::min<int64_t>(hole, size_);
    }
  }
  const size_t want =
      static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(cap), data_end - pos_));
  size_t got = 0;
  while (got < want) {
    const ssize_t n = ::pread(fd_, buf + got, want - got, pos_ + static_cast<int64_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) Fail(Errc::kUnavailable, "cannot read", path_);
    if (n == 0) break;  // shorter than at open: the sender reports the disk changed
    got += static_cast<size_t>(n);
  }
  if (got == 0) {
    pos_ = size_;
    return {Piece::Kind::kEnd, 0};
  }
  pos_ += static_cast<int64_t>(got);
  return {Piece::Kind::kData, static_cast<int64_t>(got)};
}

FileDiskSink::FileDiskSink(const std::string& path, int64_t offset)
    : path_(path), fd_(::open(path.c_str(), O_WRONLY | O_CLOEXEC)), pos_(offset) {
  if (fd_ < 0) Fail(Errc::kNotFound, "cannot open", path_);
}

FileDiskSink::~FileDiskSink() { ::close(fd_); }

void FileDiskSink::Write(const char* data, size_t n) {
  while (n > 0) {
    const ssize_t put = ::pwrite(fd_, data, n, pos_);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) Fail(Errc::kUnavailable, "cannot write", path_);
    data += put;
    n -= static_cast<size_t>(put);
    pos_ += put;
  }
}

void FileDiskSink::Flush() {
  if (::fdatasync(fd_) != 0) Fail(Errc::kUnavailable, "cannot sync", path_);
}

FileDiskStore::FileDiskStore(std::string dir) : dir_(std::move(dir)) {}

std::string FileDiskStore::PathOf(const std::string& migration_uuid,
                                  const std::string& target) const {
  // Both become a file name: only a uuid and a device name may.
  if (!IsUuid(migration_uuid) || !IsDiskTarget(target)) {
    throw Error(Errc::kBadRequest,
                "not a migration uuid and disk target: '" + migration_uuid + "', '" + target + "'");
  }
  return dir_ + "/" + migration_uuid + "-" + target + ".img";
}

void FileDiskStore::Allocate(const std::string& migration_uuid, const std::string& target,
                             int64_t bytes) {
  const std::string path = PathOf(migration_uuid, target);
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (st.st_size == bytes) return;  // a resumed transfer: what it holds stays
    throw Error(Errc::kConflict, "disk " + target + " exists here with " +
                                     std::to_string(st.st_size) + " bytes, not " +
                                     std::to_string(bytes));
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) Fail(Errc::kUnavailable, "cannot create", path);
  if (::ftruncate(fd, bytes) != 0 || ::fsync(fd) != 0) {
    const int saved = errno;
    ::close(fd);
    ::unlink(path.c_str());
    errno = saved;
    Fail(Errc::kUnavailable, "cannot size", path);
  }
  ::close(fd);
}

std::unique_ptr<DiskSink> FileDiskStore::OpenSink(const std::string& migration_uuid,
                                                  const std::string& target, int64_t offset) {
  return std::make_unique<FileDiskSink>(PathOf(migration_uuid, target), offset);
}

std::unique_ptr<DiskSource> FileDiskStore::OpenReceived(const std::string& migration_uuid,
                                                        const std::string& target, int64_t offset,
                                                        int64_t length) {
  return std::make_unique<FileDiskSource>(PathOf(migration_uuid, target), offset, length);
}

}  // namespace ferry::agent::transfer
