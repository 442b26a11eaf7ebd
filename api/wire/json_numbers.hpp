#pragma once
// Integer fields of the wire messages, read without undefined behaviour. nlohmann's get<int>()
// turns a JSON float into an integer with a plain cast, which is undefined when the value does
// not fit (an agent or controller sending 1e300; found by tests/fuzz). Here an integer field
// takes a JSON integer (as get<> does), or a float that fits (its integral part, as before);
// a float that does not fit is refused with a json::out_of_range, like any value of the wrong
// kind, so every reader still answers 400 or "bad answer".
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

namespace ferry::wire {

template <typename Int>
Int IntFrom(const nlohmann::json& v, const char* key) {
  if (v.is_number_float()) {
    const double d = v.get<double>();
    // [min, -min): both bounds are powers of two, exact as doubles.
    const double lo = static_cast<double>(std::numeric_limits<Int>::min());
    if (!(d >= lo && d < -lo)) {
      throw nlohmann::json::out_of_range::create(
          406, std::string("number out of range for '") + key + "'", &v);
    }
    return static_cast<Int>(d);
  }
  return v.get<Int>();
}

// j.value(key, fallback) for an integer field: fallback when absent; j must be an object.
template <typename Int>
Int IntOr(const nlohmann::json& j, const char* key, Int fallback) {
  if (!j.is_object()) {
    throw nlohmann::json::type_error::create(
        306, std::string("cannot use value() with ") + j.type_name(), &j);
  }
  auto it = j.find(key);
  return it == j.end() ? fallback : IntFrom<Int>(*it, key);
}

}  // namespace ferry::wire
