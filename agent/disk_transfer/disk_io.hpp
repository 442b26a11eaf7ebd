#pragma once
// The two ends a disk transfer reads from and writes to, implemented by a driver over its
// hypervisor's storage (libvirt: volume download/upload streams, which also work when libvirtd
// sees another filesystem than the agent) or over plain files (file_disk_io.hpp). Both are
// sequential from the offset they were opened at. Errors are thrown as ferry::Error.
#include <cstddef>
#include <cstdint>

namespace ferry::agent::transfer {

// What DiskSource::Next produced.
struct Piece {
  enum class Kind { kData, kHole, kEnd };
  Kind kind = Kind::kEnd;
  int64_t length = 0;  // kData: bytes placed in the buffer; kHole: bytes that read as zeros
};

class DiskSource {
 public:
  virtual ~DiskSource() = default;
  // The next piece: data (at most `cap` bytes into `buf`), a hole (a run of zeros the storage
  // does not hold: sent as its length only) or the end of the disk.
  virtual Piece Next(char* buf, size_t cap) = 0;
};

class DiskSink {
 public:
  virtual ~DiskSink() = default;
  virtual void Write(const char* data, size_t n) = 0;
  // `length` bytes of zeros: the sink leaves them unwritten (its storage starts zeroed).
  virtual void Skip(int64_t length) = 0;
  // Everything written so far is in the storage: a DiskSource opened afterwards reads it, and
  // an agent killed afterwards does not lose it (a host losing power may: the digest the
  // destination checks before anything is defined catches that). Called before the receiver
  // records how far a disk got, and at the end.
  virtual void Flush() = 0;
};

}  // namespace ferry::agent::transfer
