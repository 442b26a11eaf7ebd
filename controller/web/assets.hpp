#pragma once
// The dashboard's static files (controller/web/assets/), compiled in by embed_assets.cmake.
#include <string_view>
#include <vector>

namespace ferry::controller::web {

struct Asset {
  std::string_view name;  // file name under assets/
  std::string_view content_type;
  std::string_view body;
};

const std::vector<Asset>& EmbeddedAssets();

}  // namespace ferry::controller::web
