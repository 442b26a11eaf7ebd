// RestClient against a real HTTP server on 127.0.0.1: what it sends, what it hands back, and
// how it reports failures.
#include <gtest/gtest.h>

#include <memory>

#include "api/client/rest_client.hpp"
#include "tests/unit/ferryctl_recording_server.hpp"

namespace ferry::client {
namespace {

using nlohmann::json;
using testing::RecordingServer;

ClientOptions Options(const std::string& url) {
  ClientOptions options;
  options.url = url;
  options.token = "secret-token";
  return options;
}

TEST(FerryctlRestClient, SendsTokenAndBothMicroversionHeaders) {
  RecordingServer server;
  server.On("GET", "/v2.1/os-services", 200, json{{"services", json::array()}});
  RestClient client(Options(server.Url()));
  client.Get("/v2.1/os-services");
  const auto requests = server.Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].Header("X-Auth-Token"), "secret-token");
  EXPECT_EQ(requests[0].Header("OpenStack-API-Version"), "compute 2.92");
  EXPECT_EQ(requests[0].Header("X-OpenStack-Nova-API-Version"), "2.92");
  EXPECT_EQ(requests[0].Header("Accept"), "application/json");
  // ferryctl's tables and progress bar read ferry's fields, which the server adds only then.
  EXPECT_EQ(requests[0].Header("X-Ferry-Extensions"), "true");
}

TEST(FerryctlRestClient, MicroversionOptionChangesBothHeadersAndNoTokenSendsNone) {
  RecordingServer server;
  ClientOptions options = Options(server.Url());
  options.microversion = "2.53";
  options.token.clear();
  RestClient client(options);
  client.Get("/v2.1");
  const auto request = server.Requests().at(0);
  EXPECT_EQ(request.Header("OpenStack-API-Version"), "compute 2.53");
  EXPECT_EQ(request.Header("X-OpenStack-Nova-API-Version"), "2.53");
  EXPECT_FALSE(request.headers.count("X-Auth-Token"));
}

TEST(FerryctlRestClient, ReturnsStatusParsedBodyAndHeadersForEveryVerb) {
  RecordingServer server;
  server.On("POST", "/v2.1/os-aggregates", 200, json{{"aggregate", {{"id", 7}}}});
  server.On("PUT", "/v2.1/os-services/abc", 200, json{{"service", {{"status", "enabled"}}}});
  server.On("DELETE", "/v2.1/servers/x", 204, nullptr);
  RestClient client(Options(server.Url()));

  const Response post = client.Post("/v2.1/os-aggregates", json{{"aggregate", {{"name", "a"}}}});
  EXPECT_EQ(post.status, 200);
  EXPECT_EQ(post.body["aggregate"]["id"], 7);
  EXPECT_EQ(post.Header("content-type"), "application/json");
  const Response put = client.Put("/v2.1/os-services/abc", json{{"status", "enabled"}});
  EXPECT_EQ(put.body["service"]["status"], "enabled");
  const Response del = client.Delete("/v2.1/servers/x");
  EXPECT_EQ(del.status, 204);
  EXPECT_TRUE(del.body.is_null());

  const auto requests = server.Requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].Json(), (json{{"aggregate", {{"name", "a"}}}}));
  EXPECT_EQ(requests[0].Header("Content-Type"), "application/json");
  EXPECT_EQ(requests[1].method, "PUT");
  EXPECT_EQ(requests[2].method, "DELETE");
}

TEST(FerryctlRestClient, NovaErrorBodyBecomesApiErrorWithFaultNameStatusAndMessage) {
  RecordingServer server;
  server.On(
      "GET", "/v2.1/servers/nope", 404,
      json{{"itemNotFound", {{"code", 404}, {"message", "Instance nope could not be found."}}}});
  RestClient client(Options(server.Url()));
  const Response response = client.Get("/v2.1/servers/nope");
  EXPECT_EQ(response.status, 404);  // a non-2xx answer is data, not an exception
  try {
    ExpectOk(response);
    FAIL() << "ExpectOk accepted a 404";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.FaultName(), "itemNotFound");
    EXPECT_EQ(e.HttpStatus(), 404);
    EXPECT_STREQ(e.what(), "Instance nope could not be found.");
    EXPECT_EQ(e.code(), Errc::kNotFound);
  }
}

TEST(FerryctlRestClient, NonNovaErrorBodyGetsNovaFaultNameForTheStatusAndRawText) {
  Response response;
  response.status = 502;
  response.text = "<html>Bad Gateway</html>\n";
  ApiError e = ApiErrorFrom(response);
  EXPECT_EQ(e.FaultName(), "computeFault");
  EXPECT_STREQ(e.what(), "<html>Bad Gateway</html> ");
  response.status = 409;
  response.text.clear();
  e = ApiErrorFrom(response);
  EXPECT_EQ(e.FaultName(), "conflictingRequest");
  EXPECT_STREQ(e.what(), "HTTP 409 with no error body");
}

TEST(FerryctlRestClient, RefusedConnectionThrowsErrorNamingTheUrl) {
  std::string url;
  {
    RecordingServer closed;  // a port that was just free and is now closed again
    url = closed.Url();
  }
  RestClient client(Options(url));
  try {
    client.Get("/v2.1/os-hypervisors/detail");
    FAIL() << "no exception";
  } catch (const ApiError&) {
    FAIL() << "a transport failure must not look like an API answer";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kUnavailable);
    EXPECT_NE(std::string(e.what()).find(url + "/v2.1/os-hypervisors/detail"), std::string::npos)
        << e.what();
  }
}

TEST(FerryctlRestClient, AcceptsEndpointWithV21SuffixAndKeepsAProxyPrefix) {
  RecordingServer server;
  RestClient with_suffix(Options(server.Url() + "/v2.1/"));
  EXPECT_EQ(with_suffix.BaseUrl(), server.Url());
  with_suffix.Get("/v2.1/flavors");
  RestClient behind_proxy(Options(server.Url() + "/compute"));
  EXPECT_EQ(behind_proxy.BaseUrl(), server.Url() + "/compute");
  behind_proxy.Get("/v2.1/flavors");
  const auto requests = server.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].path, "/v2.1/flavors");
  EXPECT_EQ(requests[1].path, "/compute/v2.1/flavors");
  // Next-page links carry the server's idea of the host; only the path after the prefix counts.
  EXPECT_EQ(behind_proxy.RelativePath("http://internal:8774/compute/v2.1/servers?marker=a"),
            "/v2.1/servers?marker=a");
}

TEST(FerryctlRestClient, RejectsUrlsItCannotServe) {
  for (const char* bad : {"https://ctl:8774", "ctl:8774", "http://", "http://ctl:0",
                          "http://ctl:99999", "http://user@ctl", "http://ctl/?x=1"}) {
    EXPECT_THROW(RestClient{Options(bad)}, Error) << bad;
  }
  EXPECT_NO_THROW(RestClient{Options("http://[::1]:8774")});
  EXPECT_NO_THROW(RestClient{Options("http://ctl")});
}

TEST(FerryctlRestClient, QueryStringPercentEncodesKeysAndValues) {
  EXPECT_EQ(QueryString({}), "");
  EXPECT_EQ(QueryString({{"host", "h1"}, {"binary", "nova-compute"}}),
            "?host=h1&binary=nova-compute");
  EXPECT_EQ(QueryString({{"name", "web 01&x=y/é"}}), "?name=web%2001%26x%3Dy%2F%C3%A9");
}

}  // namespace
}  // namespace ferry::client
