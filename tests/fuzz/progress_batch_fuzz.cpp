// POST /agent/v1/migration-progress: the SAX parser that reads the batch straight from its text
// (api/wire/progress_batch_parser.hpp), as the endpoint calls it. Findings: a sanitizer
// report, an exception other than ferry::Error(400), and a difference from the tree decoder:
// its header promises the same acceptance as from_json(MigrationProgressBatch), so wherever
// both accept, they must agree on every field.
#include <cstdint>
#include <string>

#include "api/wire/progress_batch_parser.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using ferry::fuzz::Finding;
using nlohmann::json;
namespace wire = ferry::wire;

std::optional<wire::MigrationProgressBatch> ByTree(std::string_view text) {
  try {
    return json::parse(text).get<wire::MigrationProgressBatch>();
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = ferry::fuzz::AsText(data, size);
  std::optional<wire::MigrationProgressBatch> by_sax;
  try {
    by_sax = wire::ParseMigrationProgressBatch(text);
  } catch (const ferry::Error& e) {
    if (e.code() != ferry::Errc::kBadRequest) Finding(std::string("not a 400: ") + e.what());
    ferry::fuzz::ExpectClientError(e);
  } catch (const std::exception& e) {
    Finding(std::string("unexpected exception: ") + e.what());
  }
  if (!by_sax) return 0;
  const auto by_tree = ByTree(text);
  if (by_tree && json(*by_tree) != json(*by_sax)) {
    Finding("the SAX parser and from_json disagree: " + json(*by_sax).dump() + " vs " +
            json(*by_tree).dump());
  }
  return 0;
}
