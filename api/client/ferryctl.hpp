#pragma once
// ferryctl's entry point as a function, so tests run the real command line against a real
// HTTP server and read what it printed, without a subprocess or the process environment.
#include <optional>
#include <ostream>
#include <string>

#include "api/client/keystone_login.hpp"

namespace ferry::client {

// Exit codes: 0 success, 1 the API or the transport failed, 2 the command line was wrong.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
// `host drain` adds outcomes a cron job can act on. Partial is 5, not 2: 2 already means a wrong
// command line for every command, and a wrapper must tell "fix the crontab" from "some stayed".
inline constexpr int kExitDrainNothingFits = 3;  // the plan can move none of the host's servers
inline constexpr int kExitDrainFailed = 4;       // the drain failed or was cancelled
inline constexpr int kExitDrainPartial = 5;      // some servers stay (left by the plan, or failed)

// What ferryctl reads from the environment; --url and --token override it.
struct Env {
  std::optional<std::string> url;    // FERRY_URL, e.g. http://127.0.0.1:8774
  std::optional<std::string> token;  // FERRY_TOKEN, sent as X-Auth-Token
  bool stdout_is_tty = false;        // progress bars redraw in place only on a terminal
  // OS_* password auth (an openrc file): used when no token is given; its catalog's compute
  // endpoint is the URL when none is given either.
  std::optional<KeystoneCredentials> os = std::nullopt;
  static Env FromProcess();
};

int RunFerryctl(int argc, char** argv, std::ostream& out, std::ostream& err, const Env& env);

}  // namespace ferry::client
