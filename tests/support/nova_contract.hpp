#pragma once
// Nova contract check: every response to a Nova path that a test sees is validated against the
// JSON schema Nova's API reference gives for that route, status and microversion
// (tests/nova_schemas/index.json). A stray or missing field is a gtest failure naming the member
// by its JSON pointer, so ferry cannot drift from the body Nova's clients parse.
#include <map>
#include <string>
#include <vector>

#include "tests/support/http.hpp"

namespace ferry::testing {

struct ContractRequest {
  std::string method;
  std::string path;                            // as sent, query string included
  std::map<std::string, std::string> headers;  // the request's headers (name as sent)
};

// Whether `path` is one of Nova's: "/", "/v2.1" and what is under it, except ferry's own
// /v2.1/ferry/ resources (the agent's /agent/ paths are not under /v2.1 at all).
bool IsNovaPath(const std::string& path);

// The microversion the response was answered at: its OpenStack-API-Version header, else the
// request's, else 2.1 ("latest" is ferry's maximum).
std::string NegotiatedMicroversion(const ContractRequest& request, const HttpResult& response);

// Every way the response breaks Nova's contract, as "pointer: message" lines; empty when it
// conforms. A Nova route with no schema in the index is itself one such line.
std::vector<std::string> NovaContractViolations(const ContractRequest& request,
                                                const HttpResult& response,
                                                ContractCheck check = ContractCheck::kFull);

// ADD_FAILURE with the request line and the violations, if any.
void ExpectNovaContract(const ContractRequest& request, const HttpResult& response,
                        ContractCheck check);

}  // namespace ferry::testing
