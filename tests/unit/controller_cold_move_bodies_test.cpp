// The bodies of migrate and resize as Nova's schemas judge them, per microversion, with Nova's
// exact 400 texts; and the request each valid body becomes.
#include <gtest/gtest.h>

#include "common/errors.hpp"
#include "controller/api/request_bodies.hpp"

namespace ferry::controller::api {
namespace {

using nlohmann::json;

Request With(json body, int minor, Role role = Role::kAdmin) {
  Request r;
  r.body = std::move(body);
  r.mv = Microversion{2, minor};
  r.principal = Principal{role, "alice"};
  r.principal.user_id = "u-1";
  r.principal.project_id = "p-1";
  r.request_id = "req-1";
  return r;
}

const std::string kServer = "11111111-2222-4333-8444-555555555555";

// The message of the 400 fn throws; fails the test otherwise.
template <typename Fn>
std::string BadRequest(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kBadRequest) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error thrown";
  return "";
}

std::string MigrateError(json body, int minor = 56) {
  return BadRequest([&] { ParseMigrate(With(std::move(body), minor), kServer); });
}
std::string ResizeError(json body, int minor = 1) {
  return BadRequest([&] { ParseResize(With(std::move(body), minor), kServer); });
}

TEST(MigrateBody, NullAndEmptyObjectMeanTheSchedulerPicks) {
  for (int minor : {1, 55, 56, 92}) {
    auto r = ParseMigrate(With({{"migrate", nullptr}}, minor), kServer);
    EXPECT_FALSE(r.host) << minor;
    EXPECT_FALSE(r.flavor_ref) << minor;
    EXPECT_EQ(ParseMigrate(With({{"migrate", json::object()}}, minor), kServer).host, std::nullopt);
  }
  EXPECT_FALSE(ParseMigrate(With({{"migrate", {{"host", nullptr}}}}, 56), kServer).host);
}

TEST(MigrateBody, HostIsTakenFrom256) {
  auto r = ParseMigrate(With({{"migrate", {{"host", "sim-2"}}}}, 56), kServer);
  EXPECT_EQ(r.host, "sim-2");
  EXPECT_EQ(ParseMigrate(With({{"migrate", {{"host", "a_b.c-1"}}}}, 92), kServer).host, "a_b.c-1");
}

// Nova validates migrate only from 2.56; before, the value is never read.
TEST(MigrateBody, Before256AnythingIsAcceptedAndTheHostIgnored) {
  EXPECT_FALSE(ParseMigrate(With({{"migrate", {{"host", "sim-2"}}}}, 55), kServer).host);
  EXPECT_FALSE(ParseMigrate(With({{"migrate", 7}}, 1), kServer).host);
  EXPECT_FALSE(ParseMigrate(With({{"migrate", {{"bogus", true}}}}, 30), kServer).host);
}

TEST(MigrateBody, From256NovasSchemaErrors) {
  EXPECT_EQ(MigrateError({{"migrate", 7}}),
            "Invalid input for field/attribute migrate. Value: 7. 7 is not of type 'object', "
            "'null'");
  EXPECT_EQ(MigrateError({{"migrate", {{"host", 1}}}}),
            "Invalid input for field/attribute host. Value: 1. 1 is not of type 'string', 'null'");
  EXPECT_EQ(MigrateError({{"migrate", {{"host", ""}}}}),
            "Invalid input for field/attribute host. Value: . '' is too short");
  EXPECT_EQ(MigrateError({{"migrate", {{"host", "a b"}}}}),
            "Invalid input for field/attribute host. Value: a b. 'a b' does not match "
            "'^[a-zA-Z0-9-._]*$'");
  EXPECT_EQ(MigrateError({{"migrate", {{"host", std::string(256, 'h')}}}}),
            "Invalid input for field/attribute host. Value: " + std::string(256, 'h') + ". '" +
                std::string(256, 'h') + "' is too long");
  EXPECT_EQ(MigrateError({{"migrate", {{"hots", "sim-2"}}}}),
            "Invalid input for field/attribute migrate. Value: {'hots': 'sim-2'}. Additional "
            "properties are not allowed ('hots' was unexpected)");
}

TEST(MigrateBody, CarriesTheCallerAndTheRequest) {
  Request req = With({{"migrate", nullptr}}, 60, Role::kMember);
  req.idempotency_key = "k-1";
  auto r = ParseMigrate(req, kServer);
  EXPECT_EQ(r.server_uuid, kServer);
  EXPECT_FALSE(r.admin);
  EXPECT_EQ(r.user_id, "u-1");
  EXPECT_EQ(r.project_id, "p-1");
  EXPECT_EQ(r.request_id, "req-1");
  EXPECT_EQ(r.idempotency_key, "k-1");
  EXPECT_TRUE(ParseMigrate(With({{"migrate", nullptr}}, 60), kServer).admin);
}

TEST(ResizeBody, FlavorRefMayBeAStringOrAnInteger) {
  auto r = ParseResize(With({{"resize", {{"flavorRef", "2"}}}}, 1), kServer);
  EXPECT_EQ(r.flavor_ref, "2");
  EXPECT_FALSE(r.disk_config);
  EXPECT_FALSE(r.host);
  // Nova's str(flavorRef): an integer is its decimal text.
  EXPECT_EQ(ParseResize(With({{"resize", {{"flavorRef", 12345}}}}, 92), kServer).flavor_ref,
            "12345");
  // No link is resolved: Nova looks the string up as a flavor id as it stands.
  EXPECT_EQ(
      ParseResize(With({{"resize", {{"flavorRef", "http://x/flavors/2"}}}}, 1), kServer).flavor_ref,
      "http://x/flavors/2");
}

TEST(ResizeBody, DiskConfigIsAutoOrManual) {
  for (const char* v : {"AUTO", "MANUAL"}) {
    auto r =
        ParseResize(With({{"resize", {{"flavorRef", "2"}, {"OS-DCF:diskConfig", v}}}}, 1), kServer);
    EXPECT_EQ(r.disk_config, v);
  }
  EXPECT_EQ(ResizeError({{"resize", {{"flavorRef", "2"}, {"OS-DCF:diskConfig", "auto"}}}}),
            "Invalid input for field/attribute OS-DCF:diskConfig. Value: auto. 'auto' is not one "
            "of ['AUTO', 'MANUAL']");
  EXPECT_EQ(ResizeError({{"resize", {{"flavorRef", "2"}, {"OS-DCF:diskConfig", 1}}}}),
            "Invalid input for field/attribute OS-DCF:diskConfig. Value: 1. 1 is not of type "
            "'string'");
}

TEST(ResizeBody, NovasSchemaErrors) {
  EXPECT_EQ(ResizeError({{"resize", nullptr}}),
            "Invalid input for field/attribute resize. Value: None. None is not of type 'object'");
  EXPECT_EQ(ResizeError({{"resize", json::object()}}),
            "Invalid input for field/attribute resize. Value: {}. 'flavorRef' is a required "
            "property");
  EXPECT_EQ(ResizeError({{"resize", {{"flavorRef", ""}}}}),
            "Invalid input for field/attribute flavorRef. Value: . '' is too short");
  EXPECT_EQ(ResizeError({{"resize", {{"flavorRef", true}}}}),
            "Invalid input for field/attribute flavorRef. Value: True. True is not of type "
            "'string', 'integer'");
  EXPECT_EQ(ResizeError({{"resize", {{"flavorRef", 1.5}}}}),
            "Invalid input for field/attribute flavorRef. Value: 1.5. 1.5 is not of type "
            "'string', 'integer'");
  EXPECT_EQ(ResizeError({{"resize", {{"flavorRef", "2"}, {"host", "sim-2"}}}}),
            "Invalid input for field/attribute resize. Value: {'flavorRef': '2', 'host': "
            "'sim-2'}. Additional properties are not allowed ('host' was unexpected)");
}

// jsonschema reports a property's own error before a missing required one.
TEST(ResizeBody, PropertyErrorsComeBeforeRequired) {
  EXPECT_EQ(ResizeError({{"resize", {{"OS-DCF:diskConfig", "x"}}}}),
            "Invalid input for field/attribute OS-DCF:diskConfig. Value: x. 'x' is not one of "
            "['AUTO', 'MANUAL']");
}

}  // namespace
}  // namespace ferry::controller::api
