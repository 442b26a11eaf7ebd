#pragma once
// One small file replaced atomically and durably, for the agent's records in --state-dir (job
// outcomes, what a prepare created, lease epochs): write a temporary file, check every write and
// the close, fsync it, rename it over the record, fsync the directory. A failure at any step
// (ENOSPC, EIO) leaves the previous record as it was and removes the temporary file.
#include <string>

namespace ferry {

// True when `content` is durably at `path`; false with *error saying which step failed.
bool WriteFileDurably(const std::string& path, const std::string& content, std::string* error);

}  // namespace ferry
