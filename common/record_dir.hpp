#pragma once
// A directory of small records, one file per migration, named <uuid>.json and written with
// WriteFileDurably (the agent's journals: outgoing jobs, incoming disk transfers). Reading them
// back treats every file as untrusted: only a uuid-named regular file within `max_bytes` is
// read, one its reader refuses is set aside as <file>.corrupt (kept for an operator, never read
// again), and the temporary file of a write a crash interrupted is removed (the record it was
// replacing is intact).
#include <cstdint>
#include <functional>
#include <string>

namespace ferry {

// Calls `accept(uuid, text)` for each record; it returns "" to keep the record, else why it is
// refused (an exception counts as a refusal with its message). Returns how many were set aside;
// `set_aside(path, why, aside)` is told of each.
int ReadRecords(
    const std::string& dir, std::uintmax_t max_bytes,
    const std::function<std::string(const std::string& uuid, const std::string& text)>& accept,
    const std::function<void(const std::string& path, const std::string& why,
                             const std::string& aside)>& set_aside);

// Removes <dir>/<uuid>.json; a name that is not a uuid is never a path. False with *error when
// a file there could not be removed.
bool RemoveRecord(const std::string& dir, const std::string& uuid, std::string* error);

}  // namespace ferry
