#pragma once
// Shared by the disk transfer tests (agent/disk_transfer): certificates made by deploy/tls/ferry-ca
// once per test binary, temporary directories, sparse files, and a receiver/sender pair on
// loopback over plain files.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "agent/disk_transfer/disk_receiver.hpp"
#include "agent/disk_transfer/disk_sender.hpp"
#include "agent/disk_transfer/file_disk_io.hpp"
#include "agent/disk_transfer/tls_context.hpp"
#include "common/uuid.hpp"

namespace ferry::agent::transfer::testing {

namespace fs = std::filesystem;

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "ferry-transfer-")
      : path_(fs::temp_directory_path() / (prefix + NewUuid().substr(0, 8))) {
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string path() const { return path_.string(); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

inline void Run(const std::string& command) {
  ASSERT_EQ(std::system((command + " >/dev/null").c_str()), 0) << command;
}

// Two CAs: the deployment's ("ca": src-host, dst-host, other-host) and a stranger's ("foreign":
// src-host, dst-host), made once per binary.
class Certs {
 public:
  static const Certs& Get() {
    static const Certs certs;
    return certs;
  }
  TlsFiles Host(const std::string& name) const { return Files("ca", name); }
  TlsFiles ForeignHost(const std::string& name) const { return Files("foreign", name); }
  std::string dir() const { return dir_.path(); }

 private:
  Certs() {
    const std::string tool = std::string(FERRY_SOURCE_DIR) + "/deploy/tls/ferry-ca";
    Run(tool + " init " + dir_ / "ca");
    Run(tool + " host " + dir_ / "ca" + " src-host dst-host other-host");
    Run(tool + " init " + dir_ / "foreign");
    Run(tool + " host " + dir_ / "foreign" + " src-host dst-host");
  }
  TlsFiles Files(const std::string& ca, const std::string& name) const {
    const std::string d = dir_ / ca;
    return {d + "/ca.crt", d + "/hosts/" + name + ".crt", d + "/hosts/" + name + ".key"};
  }
  TempDir dir_{"ferry-certs-"};
};

// Deterministic, incompressible-looking bytes (xorshift), never all zero.
inline std::string Pattern(size_t n, uint64_t seed) {
  std::string out(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (size_t i = 0; i < n; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    for (size_t j = 0; j < 8 && i + j < n; ++j) out[i + j] = static_cast<char>((x >> (8 * j)) | 1);
  }
  return out;
}

struct Extent {
  int64_t offset;
  size_t length;
};

// A file of `size` bytes holding data only in `extents` (the rest: holes).
inline void MakeSparseFile(const std::string& path, int64_t size,
                           const std::vector<Extent>& extents) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, size), 0);
  // 1 MiB of pattern per extent, each block stamped with its offset: quick to make, and a block
  // that lands in the wrong place still shows.
  uint64_t seed = 1;
  for (const Extent& e : extents) {
    std::string block = Pattern(std::min<size_t>(e.length, 1 << 20), seed++);
    for (size_t done = 0; done < e.length; done += block.size()) {
      const size_t n = std::min(block.size(), e.length - done);
      const int64_t at = e.offset + static_cast<int64_t>(done);
      std::memcpy(block.data(), &at, std::min<size_t>(n, sizeof at));
      ASSERT_EQ(::pwrite(fd, block.data(), n, at), static_cast<ssize_t>(n));
    }
  }
  ::close(fd);
}

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline int64_t AllocatedBytes(const std::string& path) {
  struct stat st {};
  ::stat(path.c_str(), &st);
  return static_cast<int64_t>(st.st_blocks) * 512;
}

inline int64_t FileSize(const std::string& path) {
  return static_cast<int64_t>(fs::file_size(path));
}

inline OutgoingDisk FileDisk(const std::string& target, const std::string& path) {
  return {target, FileSize(path), [path] { return std::make_unique<FileDiskSource>(path); }};
}

// A receiver for "dst-host" on loopback, over files in its own directory, and the request the
// source "src-host" sends to it.
class TransferTest : public ::testing::Test {
 protected:
  static constexpr const char* kToken = "aGVsbG8tdG9rZW4tMzItYnl0ZXMtYmFzZTY0dXJsLXh5eg";

  void StartReceiver(DiskStore& store, ReceiverLimits limits = {}, std::string state = "-") {
    receiver_.reset();
    receiver_ = std::make_unique<DiskReceiver>(
        *dst_tls_, store, state == "-" ? state_.path() : state, "127.0.0.1", 0, limits);
  }
  void StartReceiver(ReceiverLimits limits = {}) { StartReceiver(files_, limits); }

  void ExpectMove(const std::vector<std::string>& targets, const std::string& token = kToken) {
    receiver_->Expect(uuid_, token, "src-host", targets);
  }

  SendRequest Request(std::vector<OutgoingDisk> disks) const {
    SendRequest r;
    r.migration_uuid = uuid_;
    r.token = kToken;
    r.receive_uri = receiver_->Uri();
    r.peer_host = "dst-host";
    r.disks = std::move(disks);
    return r;
  }

  std::string Received(const std::string& target) const { return files_.PathOf(uuid_, target); }

  TempDir src_;
  TempDir dst_;
  TempDir state_;
  FileDiskStore files_{dst_.path()};
  std::unique_ptr<TlsContext> src_tls_ =
      std::make_unique<TlsContext>(Certs::Get().Host("src-host"));
  std::unique_ptr<TlsContext> dst_tls_ =
      std::make_unique<TlsContext>(Certs::Get().Host("dst-host"));
  std::string uuid_ = NewUuid();
  std::unique_ptr<DiskReceiver> receiver_;
};

}  // namespace ferry::agent::transfer::testing
