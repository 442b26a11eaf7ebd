#pragma once
// The one reader of single-token files (the controller's --agent-command-token-file, the
// agent's --command-token-file and --controller-token-file), so a file both sides accept
// holds the same token for both (review M1: the controller once took the whole first line,
// comments and '\r' included, while the agent took the first word).
#include <string>

namespace ferry {

// The first word of the first line that is neither blank nor a comment (first non-blank
// character '#'); surrounding whitespace, '\r' included, is trimmed, and the rest of the line
// (a role, a comment) ignored. Throws ferry::Error(kBadRequest) when the file cannot be read or
// holds no token.
std::string ReadTokenFile(const std::string& path);

}  // namespace ferry
