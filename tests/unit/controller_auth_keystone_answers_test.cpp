// What KeystoneClient makes of Keystone's answers to GET /v3/auth/tokens, well formed or not.
// A real Keystone (keystone_auth_test) never sends a malformed one; a broken proxy or a
// misconfigured URL pointing at something else might. Whatever arrives, the outcome is a
// principal, "not valid" (nullopt), 401 or 503 — never an exception that would be a 500, never
// a token accepted on a partial answer, and never "Keystone is down" (503 for every caller)
// because of what one caller's token made it answer. The peer here is a loopback
// HTTP server speaking v3's shape: no real Keystone can be made to send these.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/errors.hpp"
#include "controller/auth/keystone_authenticator.hpp"
#include "controller/auth/keystone_client.hpp"

namespace ferry::controller::auth {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kLater = "2200-01-01T00:00:00.000000Z";

json Token(json fields) {
  json token = {{"expires_at", kLater},
                {"user", {{"id", "u-1"}, {"name", "alice"}}},
                {"project", {{"id", "p-1"}, {"name", "p1"}}},
                {"roles", {{{"id", "r-1"}, {"name", "member"}}}}};
  for (auto& [k, v] : fields.items()) {
    if (v.is_null()) {
      token.erase(k);
    } else {
      token[k] = v;
    }
  }
  return {{"token", token}};
}

// Keystone v3's token routes: the service login always works; validation answers `answer`.
class FakeKeystone {
 public:
  FakeKeystone() {
    server_.Post("/v3/auth/tokens", [](const httplib::Request&, httplib::Response& res) {
      res.status = 201;
      res.set_header("X-Subject-Token", "service-token");
      res.set_content(Token({}).dump(), "application/json");
    });
    server_.Get("/v3/auth/tokens", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(mu_);
      ++validations_;
      res.status = status_;
      if (chunked_bytes_ > 0) {  // a body without a length, chunk after chunk
        res.set_chunked_content_provider(
            "application/json", [n = chunked_bytes_](size_t offset, httplib::DataSink& sink) {
              const std::string chunk(64 * 1024, ' ');
              if (offset >= n) {
                sink.done();
              } else {
                sink.write(chunk.data(), chunk.size());
              }
              return true;
            });
        return;
      }
      res.set_content(body_, "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~FakeKeystone() {
    server_.stop();
    thread_.join();
  }
  void Answer(int status, std::string body) {
    std::lock_guard lock(mu_);
    status_ = status;
    body_ = std::move(body);
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v3"; }
  void AnswerChunked(size_t bytes) {
    std::lock_guard lock(mu_);
    status_ = 200;
    chunked_bytes_ = bytes;
  }
  int validations() {
    std::lock_guard lock(mu_);
    return validations_;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  int status_ = 200;
  std::string body_;
  int validations_ = 0;
  size_t chunked_bytes_ = 0;
};

class KeystoneAnswers : public ::testing::Test {
 protected:
  KeystoneAnswers() : client_(Options(keystone_.Url()), clock_) {}
  static KeystoneOptions Options(const std::string& url) {
    KeystoneOptions o;
    o.url = url;
    o.service_password = "pw";
    o.timeout = 2s;
    return o;
  }
  // Validate's outcome for one answer: "principal", "invalid" or "503".
  std::string Outcome(int status, const std::string& body) {
    keystone_.Answer(status, body);
    try {
      auto v = client_.Validate("caller-token");
      if (!v) return "invalid";
      last_ = v->principal;
      return "principal";
    } catch (const Error& e) {
      if (e.code() == Errc::kUnauthorized) return "401";
      EXPECT_EQ(e.code(), Errc::kUnavailable) << e.what();
      return dynamic_cast<const KeystoneDown*>(&e) ? "503 down" : "503";
    }
  }

  FakeKeystone keystone_;
  SystemClock clock_;
  KeystoneClient client_;
  Principal last_{Role::kNone, ""};
};

TEST_F(KeystoneAnswers, AWellFormedAnswerIsThePrincipal) {
  ASSERT_EQ(Outcome(200, Token({}).dump()), "principal");
  EXPECT_EQ(last_.role, Role::kMember);
  EXPECT_EQ(last_.name, "alice");
  EXPECT_EQ(last_.project_id, "p-1");
  EXPECT_EQ(last_.user_id, "u-1");
}

TEST_F(KeystoneAnswers, TokensWithoutAProjectOrAKnownRoleGetNoRole) {
  // Domain- and system-scoped tokens name no project: nothing can be theirs.
  ASSERT_EQ(Outcome(200, Token({{"project", nullptr}, {"domain", {{"id", "default"}}}}).dump()),
            "principal");
  EXPECT_EQ(last_.role, Role::kNone);
  ASSERT_EQ(Outcome(200, Token({{"roles", json::array()}}).dump()), "principal");
  EXPECT_EQ(last_.role, Role::kNone);
  ASSERT_EQ(Outcome(200, Token({{"roles", nullptr}}).dump()), "principal");
  EXPECT_EQ(last_.role, Role::kNone);
  ASSERT_EQ(Outcome(200, Token({{"roles", {{{"name", "service"}}}}}).dump()), "principal");
  EXPECT_EQ(last_.role, Role::kNone);
}

TEST_F(KeystoneAnswers, ExpiredOrUnknownTokensAreInvalid) {
  EXPECT_EQ(Outcome(200, Token({{"expires_at", "2001-01-01T00:00:00Z"}}).dump()), "invalid");
  EXPECT_EQ(Outcome(404, R"({"error": {"code": 404}})"), "invalid");
}

TEST_F(KeystoneAnswers, MalformedAnswersAre503NeverAcceptedNeverA500) {
  const std::vector<std::string> bodies = {
      "",
      "not json",
      "[]",
      "{}",
      R"({"token": null})",
      R"({"token": "x"})",
      Token({{"user", nullptr}}).dump(),
      Token({{"user", {{"name", "alice"}}}}).dump(),         // no user id
      Token({{"user", {{"id", 7}, {"name", "a"}}}}).dump(),  // id not a string
      Token({{"project", {{"name", "p1"}}}}).dump(),         // no project id
      Token({{"project", "p-1"}}).dump(),
      Token({{"roles", "admin"}}).dump(),
      Token({{"roles", {"admin"}}}).dump(),        // names, not role objects
      Token({{"roles", {{{"id", "r"}}}}}).dump(),  // a role without a name
      Token({{"roles", {{{"name", 1}}}}}).dump(),
      Token({{"expires_at", nullptr}}).dump(),
      Token({{"expires_at", "tomorrow"}}).dump(),
      Token({{"expires_at", 4102444800}}).dump(),
      std::string(100, '[') + std::string(100, ']'),  // nesting past the parser's bound
  };
  for (const auto& body : bodies) {
    EXPECT_EQ(Outcome(200, body), "503") << body;  // and not "503 down": Keystone answered
  }
}

TEST_F(KeystoneAnswers, AnAnswerPastTheSizeBoundIsNoAnswerWhateverItsFraming) {
  keystone_.AnswerChunked(4u << 20);  // 4 MiB, chunked: no Content-Length to check first
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(Outcome(200, ""), "503 down");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
}

TEST_F(KeystoneAnswers, OnlyKeystonesOwnFailuresSayItIsDown) {
  for (int status : {500, 502, 503}) {
    EXPECT_EQ(Outcome(status, Token({}).dump()), "503 down") << status;
  }
  EXPECT_EQ(Outcome(429, Token({}).dump()), "503") << "busy: this caller only";
  // A 4xx is about the caller's token (a proxy refusing an oversized header): 401 for that one.
  for (int status : {400, 403, 409, 413, 431}) {
    EXPECT_EQ(Outcome(status, Token({}).dump()), "401") << status;
  }
}

TEST_F(KeystoneAnswers, ATokenKeystoneWillNotJudgeLocksOutNobodyElse) {
  // A caller's odd token that Keystone (or a proxy before it) answers with 400 must not put
  // the controller into its "Keystone is down" 503 for everyone.
  KeystoneAuthenticator auth(Options(keystone_.Url()), TokenCacheOptions{}, clock_);
  keystone_.Answer(400, R"({"error": {"code": 400}})");
  try {
    auth.Authenticate("odd-token");
    ADD_FAILURE() << "a token Keystone refused to look at was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kUnauthorized);
  }
  keystone_.Answer(200, Token({}).dump());
  auto next = auth.Authenticate("an-honest-token");
  ASSERT_TRUE(next.has_value()) << "503 for everyone after one odd token";
  EXPECT_EQ(next->role, Role::kMember);
  // Keystone failing (5xx) does stop it asking for a moment: 503 at once for new tokens.
  keystone_.Answer(503, "");
  EXPECT_THROW(auth.Authenticate("token-2"), KeystoneDown);
  keystone_.Answer(200, Token({}).dump());
  try {
    auth.Authenticate("token-3");
    ADD_FAILURE() << "asked Keystone again at once";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kUnavailable);
  }
  EXPECT_TRUE(auth.Authenticate("an-honest-token").has_value()) << "cached tokens still work";
}

TEST_F(KeystoneAnswers, OverlongTokensAreRefusedWithoutAskingKeystone) {
  KeystoneAuthenticator auth(Options(keystone_.Url()), TokenCacheOptions{}, clock_);
  keystone_.Answer(200, Token({}).dump());  // Keystone would accept anything
  const std::string overlong(KeystoneAuthenticator::kMaxTokenBytes + 1, 'g');
  auto known = auth.Peek(overlong);
  ASSERT_TRUE(known.has_value()) << "judged before the body is read";
  EXPECT_FALSE(known->principal.has_value());
  EXPECT_FALSE(auth.Authenticate(overlong).has_value());
  EXPECT_EQ(keystone_.validations(), 0);
  EXPECT_TRUE(auth.Authenticate(std::string(200, 'g')).has_value());
  EXPECT_EQ(keystone_.validations(), 1);
}

}  // namespace
}  // namespace ferry::controller::auth
