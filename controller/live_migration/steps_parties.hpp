#pragma once
// What the live-migration steps (steps*.cpp) load before they act: the server and the two hosts
// a migration names, read in one transaction.
#include <optional>
#include <string>

#include "controller/store/database.hpp"
#include "controller/store/hosts_store.hpp"
#include "controller/store/live_migrations_store.hpp"
#include "controller/store/servers_store.hpp"

namespace ferry::controller::live_migration {

struct Parties {
  std::optional<store::Server> server;
  std::optional<store::Host> source;
  std::optional<store::Host> dest;
};

inline Parties Load(store::Database& db, const store::LiveMigration& m) {
  Parties p;
  db.Transact([&](store::Tx& tx) {
    p.server = store::FindServer(tx, m.instance_uuid);
    p.source = store::FindHostNamed(tx, m.source_compute);
    p.dest = store::FindHostNamed(tx, m.dest_compute);
  });
  return p;
}

}  // namespace ferry::controller::live_migration
