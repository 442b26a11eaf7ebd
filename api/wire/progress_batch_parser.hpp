#pragma once
// The progress batch straight from its JSON text into the wire structs, without building a JSON
// tree first. Agents post one every few seconds per host; with thousands of migrations these
// posts are most of what the controller parses, and building and freeing the tree cost more
// than the rest of the endpoint (profiled). Same acceptance as from_json(MigrationProgressBatch):
// unknown keys are ignored, "migration_uuid" and "state" are required in each report, a value
// of the wrong type is refused.
#include <string_view>

#include "api/wire/live_migration_messages.hpp"

namespace ferry::wire {

// Throws ferry::Error(kBadRequest) naming what is wrong.
MigrationProgressBatch ParseMigrationProgressBatch(std::string_view json_text);

}  // namespace ferry::wire
