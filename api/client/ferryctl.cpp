#include "api/client/ferryctl.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>

#include "api/client/commands/commands.hpp"

namespace ferry::client {
namespace {

// 2.92: the microversion the ferry controller is built and tested against; --os-compute-api-
// version lowers it for older servers (commands switch to the pre-2.53/2.74 forms).
constexpr const char* kDefaultMicroversion = "2.92";

struct GlobalOptions {
  std::optional<std::string> url;
  std::optional<std::string> token;
  std::string microversion = kDefaultMicroversion;
  bool json = false;
};

std::optional<std::string> GetEnv(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

void AddGlobalOptions(CLI::App& app, GlobalOptions& g) {
  app.add_option("--url", g.url, "API endpoint, e.g. http://127.0.0.1:8774 (env FERRY_URL)");
  app.add_option("--token", g.token, "Auth token sent as X-Auth-Token (env FERRY_TOKEN)");
  app.add_option("--os-compute-api-version", g.microversion, "Compute microversion 2.NN|latest")
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            return ApiVersion::Parse(v) ? "" : "expected 2.NN or latest, got '" + v + "'";
          },
          "2.NN"))
      ->capture_default_str();
  app.add_flag("--json", g.json, "Print the API's JSON instead of a table");
}

// Runs the chosen action and turns every failure into one "ERROR ..." line and an exit code.
int RunAction(const Action& action, const GlobalOptions& g, const Env& env, std::ostream& out,
              std::ostream& err) {
  std::optional<std::string> url = g.url ? g.url : env.url;
  std::string token = g.token.value_or(env.token.value_or(""));
  if (token.empty() && env.os) {
    try {
      KeystoneLogin login = LoginToKeystone(*env.os);
      token = login.token;
      if (!url) url = login.compute_url;
    } catch (const Error& e) {
      err << "ERROR: " << e.what() << "\n";
      return kExitFailure;
    }
  }
  if (!url) {
    err << "ERROR: no API endpoint: set FERRY_URL or pass --url (or OS_* with a compute "
           "endpoint in Keystone's catalog)\n";
    return kExitUsage;
  }
  ClientOptions options;
  options.url = *url;
  options.token = token;
  options.microversion = g.microversion;
  std::optional<RestClient> client;
  try {
    client.emplace(options);
  } catch (const Error& e) {  // an unusable URL is a usage error, not an API failure
    err << "ERROR: " << e.what() << "\n";
    return kExitUsage;
  }
  Session session{*client, out, g.json, *ApiVersion::Parse(g.microversion), env.stdout_is_tty};
  try {
    action(session);
    return session.exit_code;
  } catch (const ApiError& e) {
    err << "ERROR (" << e.FaultName() << " HTTP " << e.HttpStatus() << "): " << e.what() << "\n";
  } catch (const Error& e) {
    err << "ERROR: " << e.what() << "\n";
  } catch (const CLI::ValidationError& e) {
    err << "ERROR: " << e.what() << "\n";
    return kExitUsage;
  } catch (const nlohmann::json::exception& e) {
    // The server answered 2xx with a shape we do not understand: say so rather than crash.
    err << "ERROR: unexpected response from " << client->BaseUrl() << ": " << e.what() << "\n";
  } catch (const std::exception& e) {
    err << "ERROR: " << e.what() << "\n";
  }
  return kExitFailure;
}

}  // namespace

Env Env::FromProcess() {
  return Env{GetEnv("FERRY_URL"), GetEnv("FERRY_TOKEN"), isatty(STDOUT_FILENO) == 1,
             KeystoneCredentials::FromProcess()};
}

int RunFerryctl(int argc, char** argv, std::ostream& out, std::ostream& err, const Env& env) {
  CLI::App app{"ferryctl: administer a ferry cluster through its Nova-compatible API"};
  app.name("ferryctl");
  // Global flags may come anywhere, e.g. `ferryctl server list --json`.
  app.fallthrough();
  app.require_subcommand(1);
  GlobalOptions globals;
  AddGlobalOptions(app, globals);

  Action action;
  RegisterAggregateCommands(app, &action);
  RegisterFlavorCommands(app, &action);
  RegisterHostCommands(app, &action);
  RegisterHypervisorCommands(app, &action);
  RegisterMigrationCommands(app, &action);
  RegisterServerCommands(app, &action);
  RegisterServiceCommands(app, &action);
  RegisterUnmanagedCommands(app, &action);
  RegisterVersionCommand(app, &action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Help and --version are "errors" with exit code 0 in CLI11; every real one becomes 2.
    const int code = app.exit(e, out, err);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (!action) {
    err << "ERROR: no command given\n";
    return kExitUsage;
  }
  return RunAction(action, globals, env, out, err);
}

}  // namespace ferry::client
