#pragma once
// The destination's end of one sim cold migration's disk copy: a listener on the host's
// migration address and a thread that serves one source at a time over the sim link (framed
// JSON, sim_migration_link.hpp). The source says hello with the transfer token and the disks it
// sends; the destination answers how many bytes of each it already has (so an interrupted copy
// resumes there), takes chunks in order, and at the end the digest the source computed.
//
// Frames from the source:  {"type": "cold-hello", "migration_uuid", "token", "disks":
//                            [{"target", "bytes"}]}
//                          {"type": "chunk", "disk", "offset", "length", "generation"}
//                          {"type": "done", "digest"}       {"type": "cancel", "reason"}
// Answers:                 {"type": "cold-offsets", "received": {target: bytes}} to hello,
//                          {"type": "ack"} to done, {"type": "refuse", "error"} to anything
//                          refused (the connection is then closed).
// Every field is checked before use: a peer that is not the source is just a socket.
#include <atomic>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "agent/drivers/sim/sim_cold_disks.hpp"
#include "agent/drivers/sim/sim_migration_link.hpp"

namespace ferry::agent::sim {

// The driver's side: each throws ferry::Error to refuse (its message goes to the source).
struct ColdReceiveHooks {
  // Checks the token and the disks; returns the bytes of each disk already here.
  std::function<std::vector<int64_t>(const std::string& token, const std::vector<ColdDisk>& disks)>
      on_hello;
  // A chunk of `disk` at `offset`; persisted before the next frame is read.
  std::function<void(const std::string& disk, int64_t offset, int64_t length, int64_t generation)>
      on_chunk;
  // The source sent everything and says its content has this digest.
  std::function<void(const std::string& digest)> on_done;
};

class ColdReceiver {
 public:
  // Listens on address:port (0: any) and starts serving. Throws ferry::Error(kUnavailable).
  ColdReceiver(std::string migration_uuid, const std::string& address, int port,
               ColdReceiveHooks hooks);
  ~ColdReceiver();  // closes the listener and joins
  ColdReceiver(const ColdReceiver&) = delete;
  ColdReceiver& operator=(const ColdReceiver&) = delete;

  std::string Uri() const { return listener_.Uri(); }
  int Port() const { return listener_.Port(); }

 private:
  void Run();
  void Serve(LinkConnection& conn);
  void ServeFrame(LinkConnection& conn, const nlohmann::json& frame, bool& greeted);

  const std::string migration_uuid_;
  const ColdReceiveHooks hooks_;
  LinkListener listener_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace ferry::agent::sim
