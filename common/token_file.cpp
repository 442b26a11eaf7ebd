#include "common/token_file.hpp"

#include <fstream>
#include <sstream>

#include "common/errors.hpp"

namespace ferry {

std::string ReadTokenFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(Errc::kBadRequest, "cannot read token file " + path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string token;
    if (!(fields >> token)) continue;  // blank (spaces, tabs, '\r')
    if (token.front() == '#') continue;
    return token;
  }
  throw Error(Errc::kBadRequest, "token file " + path + " holds no token");
}

}  // namespace ferry
