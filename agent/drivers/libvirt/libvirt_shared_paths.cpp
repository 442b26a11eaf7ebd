#include "agent/drivers/libvirt/libvirt_shared_paths.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "common/errors.hpp"
#include "common/json_limits.hpp"

namespace ferry::agent::libvirt {
namespace {

std::string WithoutTrailingSlashes(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

// realpath(3): every symlink and "." / ".." resolved; "" and *why when it cannot be.
std::string RealPath(const std::string& path, std::string* why) {
  char* real = ::realpath(path.c_str(), nullptr);
  if (real == nullptr) {
    *why = std::strerror(errno);
    return "";
  }
  std::string out(real);
  std::free(real);  // NOLINT: realpath allocates with malloc
  return out;
}

[[noreturn]] void Refuse(const wire::Disk& disk, const std::string& why) {
  // The path is the network's: quoted bounded, never whole.
  throw Error(Errc::kConflict, "libvirt: disk " + disk.target + " (" + Utf8Prefix(disk.path, 256) +
                                   ") " + why +
                                   ": a disk is used only from this host's shared directory");
}

}  // namespace

bool LexicallyInside(const std::string& path, const std::string& dir) {
  if (dir.empty() || dir[0] != '/' || path.size() <= dir.size() + 1 ||
      path.compare(0, dir.size(), dir) != 0 || (dir != "/" && path[dir.size()] != '/')) {
    return false;
  }
  size_t start = dir == "/" ? 1 : dir.size() + 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    const std::string part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

std::string SharedDiskPath(const wire::Disk& disk, const std::string& shared_dir_in) {
  if (shared_dir_in.empty()) Refuse(disk, "cannot be reached: this host has no shared directory");
  const std::string shared_dir = WithoutTrailingSlashes(shared_dir_in);
  std::string dir;
  if (disk.kind == "shared") {
    dir = shared_dir;
  } else if (disk.kind == "volume") {
    dir = shared_dir + "/volumes";
  } else {
    Refuse(disk, "is of kind '" + disk.kind + "', which died with its host");
  }
  if (disk.path.size() >= PATH_MAX || !LexicallyInside(disk.path, dir)) {
    Refuse(disk, "is not inside " + dir);
  }
  std::string why;
  const std::string real_dir = RealPath(dir, &why);
  if (real_dir.empty()) Refuse(disk, "cannot be checked: " + dir + ": " + why);
  const std::string real = RealPath(disk.path, &why);
  if (real.empty()) Refuse(disk, "is not on this host: " + why);
  if (!LexicallyInside(real, real_dir)) {
    Refuse(disk, "resolves to " + Utf8Prefix(real, 256) + ", outside " + real_dir);
  }
  struct stat st {};
  if (::stat(real.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) Refuse(disk, "is not a file");
  return dir + real.substr(real_dir.size());
}

}  // namespace ferry::agent::libvirt
