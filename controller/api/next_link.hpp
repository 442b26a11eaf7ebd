#pragma once
// The "next" link of a Nova list page: the same resource with limit and marker set and the
// request's other parameters (filters) kept, every part URL-encoded, as Nova builds it.
#include <cstdint>
#include <string>

#include "controller/api/api_server.hpp"

namespace ferry::controller::api {

std::string UrlEncode(const std::string& s);
std::string NextLink(const Request& req, int64_t limit, const std::string& marker);

}  // namespace ferry::controller::api
