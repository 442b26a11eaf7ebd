// ferry's HTTP server decodes request targets exactly as cpp-httplib 0.11.4 did, so routes see
// the same paths and query values as before: each case is compared with httplib's own decoder.
#include <gtest/gtest.h>
#include <httplib.h>

#include "common/http/url.hpp"

namespace ferry::http {
namespace {

const char* kTargets[] = {
    "/v2.1/servers",
    "/v2.1/servers/%FF",
    "/v2.1/servers/a%2Fb",
    "/v2.1/servers/%u00e9t%u00E9",
    "/v2.1/servers/%uD800x",
    "/v2.1/servers/%zz%2",
    "/v2.1/servers/%",
    "/v2.1/servers/a+b",
    "/v2.1/servers?name=a+b&limit=10",
    "/v2.1/servers?name=%5Eweb.*&name=%5Eweb.*&name=x",
    "/v2.1/servers?a=1=2&=b&c&&d= spaced &e=%u0041",
    "/v2.1/servers? trimmed =1",
    "/v2.1/os-migrations?changes-since=2026-01-01T00:00:00%2B00:00&status=running",
    "?only-query",
    " /padded ",
};

TEST(HttpUrl, PathsAndQueriesDecodeAsHttplibDid) {
  for (const char* target : kTargets) {
    std::string path;
    QueryParams query;
    ASSERT_TRUE(SplitTarget(target, path, query)) << target;
    // httplib's parse_request_line: split on '?' (blank-trimmed, empty parts skipped), the
    // first part is the decoded path, the second the query.
    std::vector<std::string> parts;
    httplib::detail::split(target, target + std::strlen(target), '?',
                           [&](const char* b, const char* e) { parts.emplace_back(b, e); });
    ASSERT_FALSE(parts.empty()) << target;
    EXPECT_EQ(path, httplib::detail::decode_url(parts[0], false)) << target;
    httplib::Params expected;
    if (parts.size() > 1) httplib::detail::parse_query_text(parts[1], expected);
    EXPECT_EQ(query, QueryParams(expected.begin(), expected.end())) << target;
  }
}

TEST(HttpUrl, PlusIsASpaceOnlyInQueries) {
  EXPECT_EQ(DecodeUrl("a+b", false), "a+b");
  EXPECT_EQ(DecodeUrl("a+b", true), "a b");
  EXPECT_EQ(DecodeUrl("a+b", true), httplib::detail::decode_url("a+b", true));
}

TEST(HttpUrl, MoreThanOneQuestionMarkIsRefused) {
  std::string path;
  QueryParams query;
  EXPECT_FALSE(SplitTarget("/a?b=1?c=2", path, query));
}

}  // namespace
}  // namespace ferry::http
