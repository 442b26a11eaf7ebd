#include "common/record_dir.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/uuid.hpp"

namespace ferry {

namespace fs = std::filesystem;

int ReadRecords(const std::string& dir, std::uintmax_t max_bytes,
                const std::function<std::string(const std::string&, const std::string&)>& accept,
                const std::function<void(const std::string&, const std::string&,
                                         const std::string&)>& set_aside) {
  int aside_count = 0;
  std::error_code ec;
  if (dir.empty() || !fs::is_directory(dir, ec)) return 0;
  fs::directory_iterator it(dir, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const fs::path path = it->path();
    if (path.extension() == ".tmp") {  // a write a crash interrupted: its record is intact
      std::error_code rm_ec;
      fs::remove(path, rm_ec);
      continue;
    }
    if (path.extension() != ".json") continue;
    const std::string uuid = path.stem().string();
    std::string why;
    try {
      std::error_code size_ec;
      if (!IsUuid(uuid)) {
        why = "the file name is not a migration uuid";
      } else if (!it->is_regular_file(size_ec) || it->file_size(size_ec) > max_bytes || size_ec) {
        why = "not a regular file of at most " + std::to_string(max_bytes >> 10) + " KiB";
      } else {
        std::ifstream in(path);
        std::stringstream text;
        text << in.rdbuf();
        why = accept(uuid, text.str());
        if (why.empty()) continue;
      }
    } catch (const std::exception& e) {
      why = e.what();
    }
    ++aside_count;
    const std::string aside = path.string() + ".corrupt";
    std::error_code mv_ec;
    fs::rename(path, aside, mv_ec);
    set_aside(path.string(), why, aside);
  }
  return aside_count;
}

bool RemoveRecord(const std::string& dir, const std::string& uuid, std::string* error) {
  if (dir.empty() || !IsUuid(uuid)) return true;
  std::error_code ec;
  fs::remove(dir + "/" + uuid + ".json", ec);
  if (ec && error != nullptr) *error = ec.message();
  return !ec;
}

}  // namespace ferry
