#pragma once
// Shared by the fuzz targets: what counts as a finding besides a sanitizer report.
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/errors.hpp"
#include "common/nova_fault.hpp"

namespace ferry::fuzz {

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A property the decoders promise was broken: libFuzzer keeps the input as a crash.
[[noreturn]] inline void Finding(const std::string& what) {
  std::fprintf(stderr, "FUZZ FINDING: %s\n", what.c_str());
  std::abort();
}

// A refused input must become a 4xx with Nova's error body, and that body must serialize: a
// message quoting invalid UTF-8 would make dump() throw and the answer a 500. The controller
// builds the body with NovaFaultBody (api/fault.cpp); the agent's command server puts the
// message in as it is (raw_message = true).
inline void ExpectClientError(const Error& e, bool raw_message = false) {
  const auto shape = NovaFault(e.code());
  if (shape.status < 400 || shape.status > 499) {
    Finding("refused with status " + std::to_string(shape.status) + ": " + e.what());
  }
  try {
    const nlohmann::json body =
        raw_message ? nlohmann::json{{shape.name, {{"code", shape.status}, {"message", e.what()}}}}
                    : NovaFaultBody(e.code(), e.what());
    (void)body.dump();
  } catch (const nlohmann::json::exception& x) {
    Finding(std::string("the error body does not serialize (") + x.what() + ")");
  }
}

}  // namespace ferry::fuzz
