#pragma once
// One prepared incoming live migration on a destination sim: a TCP listener on the host's
// migration address and a thread that serves the source's frames. The guest becomes this
// host's ("arrives") at switch-over or at the start of post-copy; the hook must persist that
// before the source is told, because the source forgets the guest once it hears "ack".
#include <atomic>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "agent/drivers/sim/sim_migration_link.hpp"

namespace ferry::agent::sim {

struct IncomingHooks {
  // The source announced itself; throw to refuse (the message goes back to the source).
  std::function<void(const nlohmann::json& start)> on_start;
  // The guest runs here now. Throw to refuse (the source then keeps it).
  std::function<void()> on_arrived;
  // The link broke during post-copy, before the source sent its last pages: the guest here
  // cannot go on (QEMU pauses it), and the source's copy cannot either.
  std::function<void()> on_postcopy_broken;
};

class IncomingMigration {
 public:
  // Opens the listener (throws ferry::Error(kUnavailable)) and starts serving.
  IncomingMigration(std::string migration_uuid, const std::string& address, IncomingHooks hooks);
  ~IncomingMigration();  // closes the listener and joins
  IncomingMigration(const IncomingMigration&) = delete;
  IncomingMigration& operator=(const IncomingMigration&) = delete;

  std::string Uri() const { return listener_.Uri(); }

 private:
  void Run();
  void Serve(LinkConnection& conn);

  const std::string migration_uuid_;
  const IncomingHooks hooks_;
  LinkListener listener_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> arrived_{false};
  // Arrived by post-copy and the source has not yet said the last page is here.
  std::atomic<bool> pages_pending_{false};
  std::thread thread_;
};

}  // namespace ferry::agent::sim
