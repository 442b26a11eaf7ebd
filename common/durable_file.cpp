#include "common/durable_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ferry {
namespace {

std::string Failed(const std::string& step, const std::string& path) {
  return step + " " + path + ": " + std::strerror(errno);
}

bool WriteAll(int fd, const std::string& content) {
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    left -= static_cast<size_t>(n);
  }
  return true;
}

// The rename is durable only once the directory entry is on disk too.
bool SyncDirOf(const std::string& path) {
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

bool WriteFileDurably(const std::string& path, const std::string& content, std::string* error) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = Failed("creating", tmp);
    return false;
  }
  std::string failure;
  if (!WriteAll(fd, content)) {
    failure = Failed("writing", tmp);
  } else if (::fsync(fd) != 0) {
    failure = Failed("fsync of", tmp);
  }
  if (::close(fd) != 0 && failure.empty()) failure = Failed("closing", tmp);
  if (failure.empty() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    failure = Failed("renaming", tmp);
  }
  if (!failure.empty()) {
    ::unlink(tmp.c_str());  // the previous record stays as it was
    *error = failure;
    return false;
  }
  if (!SyncDirOf(path)) {
    *error = Failed("fsync of the directory of", path);
    return false;  // the new record is in place, but may not survive a power loss
  }
  return true;
}

}  // namespace ferry
