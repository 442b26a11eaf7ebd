#pragma once
// The literal start of a route pattern ("/v2\\.1/servers/([^/]+)" -> "/v2.1/servers/"): a path
// that does not start with it cannot match, and comparing it is far cheaper than running the
// regex (every request used to run every route's regex up to its own).
#include <string>

namespace ferry::controller::api {

// "" when the pattern has no certain literal start (an alternation, or a regex operator first).
std::string RoutePrefix(const std::string& pattern);

}  // namespace ferry::controller::api

namespace ferry::controller::api {

// A route pattern as a metric label, bounded by the routes there are: escapes undone, each
// group "{id}", quantifiers dropped ("/v2\\.1/servers/([^/]+)/action" ->
// "/v2.1/servers/{id}/action", "/image/?" -> "/image/").
std::string RouteLabel(const std::string& pattern);

}  // namespace ferry::controller::api
